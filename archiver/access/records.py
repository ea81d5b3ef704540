"""Reading single captures from storage: HTTP Range reads of WARC records (coalesced when
close together), and parsing what they hold (the decoded payload, the metadata JSON, the
clean text).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

from warcio.archiveiterator import ArchiveIterator

from archiver.index import ArchiveIndex, Capture, storage_key


def warc_key(index: ArchiveIndex, filename: str) -> str:
    """Storage key of a WARC named in the archive-wide index (a path under the prefix)."""
    return storage_key(index.prefix, filename)


def read_range(index: ArchiveIndex, filename: str, offset: int, length: int) -> bytes:
    """Bytes [offset, offset+length) of a stored WARC, with one Range request."""
    if length <= 0:
        raise ValueError(f"record length must be positive, not {length}")
    return index.get(warc_key(index, filename), (offset, length))


def read_capture(index: ArchiveIndex, capture: Capture, *, with_request: bool = False) -> bytes:
    """The response record's gzip member (and its request's, when written right before it)."""
    start = capture.offset
    req = capture.number("req_offset")
    if with_request and req is not None and req < start:
        start = req
    return read_range(index, capture.filename, start, capture.offset + capture.length - start)


# Records this close together in one WARC are read with one Range request and the bytes in
# between dropped: a request to S3 costs tens of milliseconds before its first byte, in which
# 256 KiB arrive at 100 MB/s (chosen by that arithmetic, not measured against S3 itself).
COALESCE_GAP = 256 * 1024


def read_capture_records(index: ArchiveIndex, capture: Capture) -> bytes:
    """Request (when beside it), response and metadata records: one Range request when close."""
    start = capture.offset
    req = capture.number("req_offset")
    if req is not None and req < start:
        start = req
    end = capture.offset + capture.length
    meta_offset, meta_length = capture.number("meta_offset"), capture.number("meta_length")
    same_file = (capture.get("meta_filename") or capture.filename) == capture.filename
    if (
        meta_offset is not None
        and meta_length is not None
        and same_file
        and end <= meta_offset <= end + COALESCE_GAP
    ):
        data = read_range(index, capture.filename, start, meta_offset + meta_length - start)
        return data[: end - start] + data[meta_offset - start :]
    return read_range(index, capture.filename, start, end - start) + (
        read_metadata(index, capture) or b""
    )


def read_metadata(index: ArchiveIndex, capture: Capture) -> bytes | None:
    """The gzip member of the capture's metadata record (title, text), if it has one."""
    offset, length = capture.number("meta_offset"), capture.number("meta_length")
    if offset is None or length is None:
        return None
    filename = capture.get("meta_filename") or capture.filename
    return read_range(index, filename, offset, length)


@dataclass
class Payload:
    """A response's status line, headers and body with its Content-Encoding undone."""

    status: str
    headers: list[tuple[str, str]]
    body: bytes
    record_id: str
    warc_date: str
    target_uri: str
    payload_digest: str


def parse_response(raw: bytes) -> Payload:
    """The response record among raw gzip WARC members, its payload decoded."""
    for record in ArchiveIterator(io.BytesIO(raw)):
        if record.rec_type not in ("response", "resource", "revisit"):
            continue
        headers = record.http_headers
        body = record.content_stream().read()
        return Payload(
            status=str(headers.get_statuscode() if headers is not None else ""),
            headers=list(headers.headers) if headers is not None else [],
            body=body,
            record_id=str(record.rec_headers.get_header("WARC-Record-ID") or ""),
            warc_date=str(record.rec_headers.get_header("WARC-Date") or ""),
            target_uri=str(record.rec_headers.get_header("WARC-Target-URI") or ""),
            payload_digest=str(record.rec_headers.get_header("WARC-Payload-Digest") or ""),
        )
    raise ValueError("the bytes read hold no response record")


def parse_metadata(raw: bytes) -> dict[str, Any]:
    """The JSON document of a metadata record."""
    for record in ArchiveIterator(io.BytesIO(raw)):
        if record.rec_type == "metadata":
            doc = json.loads(record.content_stream().read())
            if isinstance(doc, dict):
                return doc
    raise ValueError("the bytes read hold no JSON metadata record")


def article_text(doc: dict[str, Any]) -> str:
    """Title, then the body, as `archiver get --text` prints them."""
    title = str(doc.get("title") or "").strip()
    body = str(doc.get("body") or "").strip()
    return f"{title}\n\n{body}\n" if title else f"{body}\n"


def capture_text(index: ArchiveIndex, capture: Capture) -> str:
    """The clean text of a capture: its metadata record, else the cleaner run on the payload."""
    raw = read_metadata(index, capture)
    if raw is not None:
        return article_text(parse_metadata(raw))
    from archiver.cleaning import clean_html

    payload = parse_response(read_capture(index, capture))
    content_type = next((v for k, v in payload.headers if k.lower() == "content-type"), None)
    article = clean_html(payload.body, capture.url, content_type=content_type).to_dict()
    return article_text(article)
