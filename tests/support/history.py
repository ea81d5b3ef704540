"""Capture events for the capture history tests, every field filled in."""

from __future__ import annotations

from archiver.operations import CaptureEvent

URL = "https://ledger.example/news/a.html"


def capture(url: str = URL, **kwargs: object) -> CaptureEvent:
    """A 200 response capture of url on 2026-11-24; kwargs change any field."""
    values: dict[str, object] = {
        "url": url,
        "date": "2026-11-24T10:00:00.000000Z",
        "status": 200,
        "record_id": "<urn:uuid:1>",
        "kind": "response",
        "crawl_id": "ledger-20261124T100000Z-aaaaaa",
        "crawl_date": "2026-11-24",
        "payload_digest": "sha1:AAAA",
        "etag": '"v1"',
        "last_modified": "Tue, 24 Nov 2026 09:00:00 GMT",
        "filename": "news-1.warc.gz",
        "offset": 100,
        "length": 2000,
    }
    values.update(kwargs)
    return CaptureEvent(**values)  # type: ignore[arg-type]
