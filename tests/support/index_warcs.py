"""WARCs for the index tests: pages of example.com from a pinned start, some with metadata."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from archiver.warc import (
    HttpExchange,
    RotatingWarcWriter,
    build_exchange_records,
    build_metadata_record,
)

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def page_exchange(url: str, body: bytes, when: datetime, status: str = "200 OK") -> HttpExchange:
    """A GET of url answered with this status and an HTML body."""
    return HttpExchange(
        target_uri=url,
        request_head=f"GET {url} HTTP/1.1\r\nHost: example.com\r\n\r\n".encode(),
        request_body=b"",
        response_head=f"HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n".encode(),
        response_body=body,
        ip_address="127.0.0.1",
        date=when,
    )


def write_warc(
    directory: Path, pages: int, *, start: datetime = T0, host: str = "example.com"
) -> Path:
    """A closed WARC with `pages` request/response pairs and a metadata record for each even one."""
    writer = RotatingWarcWriter(
        directory, prefix="t", max_size=10**9, warcinfo_fields={"software": "test"}, host="h"
    )
    for i in range(pages):
        when = start + timedelta(minutes=i)
        url = f"http://{host}/news/{i}.html"
        request, response = build_exchange_records(
            page_exchange(
                url, f"<html><title>Page {i}</title><p>body {i}</p></html>".encode(), when
            )
        )
        writer.write([request, response])
        if i % 2 == 0:
            doc = {"title": f"Title {i}", "published": "2026-02-28", "body": f"Body {i}"}
            writer.write(
                [
                    build_metadata_record(
                        url,
                        json.dumps(doc).encode(),
                        refers_to=response.rec_headers.get_header("WARC-Record-ID"),
                        date=when,
                    )
                ]
            )
    closed = writer.close()
    assert closed is not None
    return closed.path
