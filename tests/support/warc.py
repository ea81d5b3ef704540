"""Pinned WARC inputs: one exchange with a fixed date, URL and record ids, and a failing record.

The WARC writer's golden tests compare whole records built from these, and the storage
tests write WARCs of them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from io import BytesIO
from typing import Any

from archiver.warc import HttpExchange, build_exchange_records, build_metadata_record

DATE = datetime(2026, 11, 25, 17, 2, 59, 308400, tzinfo=UTC)
REQ_ID = "<urn:uuid:00000000-0000-4000-8000-000000000001>"
RESP_ID = "<urn:uuid:00000000-0000-4000-8000-000000000002>"
URL = "https://news.example/world/2026/11/25/story.html"

GET_HEAD = (
    b"GET /world/2026/11/25/story.html HTTP/1.1\r\n"
    b"Host: news.example\r\n"
    b"User-Agent: news-archiver/0.1.0 (+https://github.com/news-archiver/news-archiver)\r\n"
    b"Accept-Encoding: gzip, deflate\r\n"
    b"\r\n"
)
FIELDS = {"software": "news-archiver tests", "format": "WARC File Format 1.1"}


def exchange(
    response_head: bytes,
    response_body: bytes,
    *,
    request_head: bytes = GET_HEAD,
    request_body: bytes = b"",
    uri: str = URL,
    truncated: str | None = None,
) -> HttpExchange:
    return HttpExchange(
        target_uri=uri,
        request_head=request_head,
        request_body=request_body,
        response_head=response_head,
        response_body=response_body,
        ip_address="127.0.0.1",
        date=DATE,
        truncated=truncated,
    )


def pinned(ex: HttpExchange, **kwargs: Any) -> tuple[Any, Any]:
    return build_exchange_records(ex, request_id=REQ_ID, response_id=RESP_ID, **kwargs)


class FailingStream:
    """A record body that breaks after its first read, as a failing disk or source would."""

    def __init__(self, data: bytes) -> None:
        self.data = BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        if self.data.tell():
            raise OSError("device went away")
        return self.data.read(10)


def failing_record() -> Any:
    record = build_metadata_record(URL, b"x" * 100, refers_to=RESP_ID, date=DATE)
    record.raw_stream = FailingStream(b"x" * 100)
    return record
