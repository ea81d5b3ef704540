"""Reading single captures from storage: HTTP Range reads of WARC records (coalesced when
close together), and parsing what they hold (the decoded payload, the metadata JSON, the
clean text).
"""

from __future__ import annotations

import contextlib
import io
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.recordloader import ArcWarcRecord

from archiver.index import ArchiveIndex, Capture, storage_key


def warc_key(index: ArchiveIndex, filename: str) -> str:
    """Storage key of a WARC named in the archive-wide index (a path under the prefix)."""
    return storage_key(index.prefix, filename)


def read_range(index: ArchiveIndex, filename: str, offset: int, length: int) -> bytes:
    """Bytes [offset, offset+length) of a stored WARC, with one Range request."""
    if length <= 0:
        raise ValueError(f"record length must be positive, not {length}")
    return index.get(warc_key(index, filename), (offset, length))


def capture_location(capture: Capture) -> str:
    """Where a capture's response record is, as damage reports name it: FILE@OFFSET."""
    return f"{capture.filename}@{capture.offset}"


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
    """Request (when beside it), response and metadata records, checked whole (WarcDamage
    otherwise): one Range request when close."""
    data = _read_capture_records(index, capture)
    check_records(data, capture_location(capture))
    return data


def _read_capture_records(index: ArchiveIndex, capture: Capture) -> bytes:
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


class ArchiveDamage(ValueError):
    """Stored data (a WARC record, the archive-wide index) that cannot be read: what and where."""


class WarcDamage(ArchiveDamage):
    """A stored WARC record that cannot be read whole: where it is and what is wrong."""


def printable(text: str) -> str:
    """Text with control and binary characters escaped, as a one-line message shows it."""
    return text if text.isprintable() else repr(text)[1:-1]


def warcio_said(said: io.StringIO | str) -> str:
    """What warcio wrote to stderr while reading, in one printable line ("" when nothing);
    the bytes it quotes after "Remainder:" are left out."""
    text = said if isinstance(said, str) else said.getvalue()
    return printable(" ".join(text.split()).split(" Remainder:", 1)[0])


def damage_text(exc: BaseException, said: str = "") -> str:
    """What is wrong, from a reading error and what warcio wrote to stderr, binary escaped."""
    if warcio_said(said):
        return warcio_said(said)
    if isinstance(exc, ArchiveLoadFailed) and "first line:" in str(exc):
        # warcio quotes the bytes it could not parse; they are binary when gzip is damaged.
        return "no readable WARC record here: corrupt gzip data or WARC headers"
    text = str(exc) if isinstance(exc, ArchiveLoadFailed) else f"{type(exc).__name__}: {exc}"
    return printable(" ".join(text.split()))


def record_problem(record: ArcWarcRecord) -> str | None:
    """Why a record read to its end is not whole (cut short, digest mismatch); None if it is."""
    if (record.format or "").startswith("warc") and not record.rec_headers.get_header(
        "Content-Length"
    ):
        return "record headers cut short (no Content-Length)"
    missing = getattr(record.raw_stream, "limit", 0)
    if isinstance(missing, int) and missing > 0:
        return f"record cut short: {missing} byte(s) of its Content-Length missing"
    checker = record.digest_checker
    if checker is not None and checker.passed is False:
        return "; ".join(str(p) for p in checker.problems)
    return None


def next_record(iterator: ArchiveIterator) -> ArcWarcRecord | None:
    """The iterator's next record, None at the end; ArchiveLoadFailed for headers so broken
    (cut off before WARC-Target-URI, say) that warcio trips over them."""
    try:
        return next(iterator, None)
    except (AttributeError, TypeError, KeyError, IndexError) as exc:
        raise ArchiveLoadFailed("record headers cut short or malformed") from exc


@contextlib.contextmanager
def quiet_warcio() -> Iterator[io.StringIO]:
    """Collect what warcio writes to stderr itself (decompression errors) instead of showing it."""
    sink = io.StringIO()
    with contextlib.redirect_stderr(sink):
        yield sink


def checked_records(raw: bytes, where: str) -> list[tuple[ArcWarcRecord, bytes]]:
    """The records among raw WARC members with their decoded content, each read whole and
    checked; WarcDamage naming `where` (FILE@OFFSET) when one is damaged."""
    found = []
    with quiet_warcio() as said:
        try:
            iterator = ArchiveIterator(io.BytesIO(raw), check_digests=True)
            while (record := next_record(iterator)) is not None:
                content = record.content_stream().read()
                iterator.read_to_end(record)
                problem = warcio_said(said) or record_problem(record)
                if problem:
                    raise WarcDamage(f"damaged WARC record at {where}: {problem}")
                found.append((record, content))
        except (ArchiveLoadFailed, zlib.error, EOFError) as exc:
            raise WarcDamage(
                f"damaged WARC record at {where}: {damage_text(exc, said.getvalue())}"
            ) from exc
    return found


def check_records(raw: bytes, where: str) -> None:
    """Raise WarcDamage unless every record among raw WARC members reads whole."""
    checked_records(raw, where)


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


def parse_response(raw: bytes, where: str = "the record read") -> Payload:
    """The response record among raw gzip WARC members, its payload decoded; WarcDamage
    (naming `where`, e.g. FILE@OFFSET) when a record is damaged."""
    for record, body in checked_records(raw, where):
        if record.rec_type not in ("response", "resource", "revisit"):
            continue
        headers = record.http_headers
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


def parse_metadata(raw: bytes, where: str = "the record read") -> dict[str, Any]:
    """The JSON document of a metadata record; WarcDamage when it is damaged."""
    for record, content in checked_records(raw, where):
        if record.rec_type == "metadata":
            try:
                doc = json.loads(content)
            except ValueError as exc:
                raise WarcDamage(f"damaged metadata record at {where}: {exc}") from exc
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
        meta_file = capture.get("meta_filename") or capture.filename
        return article_text(parse_metadata(raw, f"{meta_file}@{capture.number('meta_offset')}"))
    from archiver.cleaning import clean_html

    payload = parse_response(read_capture(index, capture), capture_location(capture))
    content_type = next((v for k, v in payload.headers if k.lower() == "content-type"), None)
    article = clean_html(payload.body, capture.url, content_type=content_type).to_dict()
    return article_text(article)
