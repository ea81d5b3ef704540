"""WARC/1.1 records for HTTP exchanges, and the rotating gzip WARC file writer (on warcio).

The policy decisions (file naming, rotation, Transfer-Encoding, digests) are explained in
docs/warc.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import logging
import os
import queue
import re
import socket
import threading
import uuid
import zlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from io import BytesIO
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Literal, TypeAlias

from warcio.archiveiterator import ArchiveIterator
from warcio.recordbuilder import RecordBuilder
from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders, StatusAndHeadersParser
from warcio.utils import Digester
from warcio.warcwriter import WARCWriter
from zlib_ng import zlib_ng

logger = logging.getLogger(__name__)

DigestAlgorithm = Literal["sha1", "sha256"]
DIGEST_ALGORITHMS: tuple[DigestAlgorithm, ...] = ("sha1", "sha256")

WARC_VERSION = "WARC/1.1"
WARC_SUFFIX = ".warc.gz"
# zlib level of each record's gzip member.  On the benchmark's news pages (bench/warc_write.py)
# level 6 compresses 1.6x as fast as warcio's 9 for files 0.5% larger.  The members are
# deflated by zlib-ng, which at level 6 needs half of zlib's CPU on those pages (1.0 against
# 2.0 ms per 104 KB page) for members 0.7% larger; any gzip reader inflates them.
GZIP_LEVEL = 6
OPEN_SUFFIX = ".open"
CORRUPT_SUFFIX = ".corrupt"
# Prefix given to the Transfer-Encoding header line of a response stored de-chunked.
ORIG_HEADER_PREFIX = b"X-Archive-Orig-"

RESPONSE_CONTENT_TYPE = "application/http; msgtype=response"
REQUEST_CONTENT_TYPE = "application/http; msgtype=request"
# WARC 1.1 section 6.7.2: the payload is the one of the record WARC-Refers-To names.
REVISIT_PROFILE = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"

_BUILDER = RecordBuilder(warc_version=WARC_VERSION)
_PREFIX_RE = re.compile(r"[A-Za-z0-9._-]+")
_HOST_UNSAFE_RE = re.compile(r"[^A-Za-z0-9.-]")
_TOKEN_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HEX_RE = re.compile(rb"[0-9A-Fa-f]{1,16}")
# A chunk-size line longer than this is not a chunk-size line (real ones are a few bytes,
# extensions included); it bounds the search for a line end in garbage.
_MAX_CHUNK_LINE = 4096


def warc_date(dt: datetime) -> str:
    """WARC/1.1 date of an aware datetime: UTC to the microsecond, 2026-11-25T17:02:59.308400Z."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"naive datetime {dt!r}: pass an aware (UTC) datetime")
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_warc_date(value: str) -> datetime:
    """Aware UTC datetime of a WARC-Date header value (with or without fractional seconds)."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _check_prefix(prefix: str) -> None:
    if not _PREFIX_RE.fullmatch(prefix):
        raise ValueError(f"WARC prefix {prefix!r}: use letters, digits, '.', '_' or '-'")


def warc_filename(prefix: str, when: datetime, serial: int, host: str, pid: int) -> str:
    """Sortable WARC file name: {prefix}-{UTC time to the ms}-{serial:05}-{host}-{pid}.warc.gz."""
    _check_prefix(prefix)
    if serial < 0 or pid < 0:
        raise ValueError("serial and pid must not be negative")
    safe_host = _HOST_UNSAFE_RE.sub("-", host)
    if not safe_host:
        raise ValueError("host name is empty")
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"naive datetime {when!r}: pass an aware (UTC) datetime")
    utc = when.astimezone(UTC)
    stamp = f"{utc:%Y%m%d%H%M%S}{utc.microsecond // 1000:03d}"
    return f"{prefix}-{stamp}-{serial:05d}-{safe_host}-{pid}{WARC_SUFFIX}"


def parse_digest_algorithm(value: str) -> DigestAlgorithm:
    """The digest algorithm named by a setting value ("sha1" or "sha256", any case)."""
    name = value.strip().lower()
    if name not in DIGEST_ALGORITHMS:
        raise ValueError(
            f"digest algorithm must be one of {', '.join(DIGEST_ALGORITHMS)}, not {value!r}"
        )
    return name


def digest(data: bytes, algorithm: DigestAlgorithm) -> str:
    """WARC digest of data: "sha1:<base32>" or "sha256:<base32>"."""
    digester = Digester(parse_digest_algorithm(algorithm))
    digester.update(data)
    return str(digester)


# Random bytes for record ids, drawn from os.urandom this many ids at a time: uuid4() makes
# one system call per id, and on a busy crawl each call gave up the GIL to the writer and
# index threads and waited to get it back (180 us per id in a profile, two ids per page).
_ID_BATCH = 256
_id_lock = threading.Lock()
_id_bytes: list[bytes] = []


def _forget_ids() -> None:
    # A forked child must never hand out the ids its parent still holds.
    _id_bytes.clear()


os.register_at_fork(after_in_child=_forget_ids)


def new_record_id() -> str:
    """A fresh WARC-Record-ID, "<urn:uuid:...>" (a random version 4 UUID, as uuid4() makes)."""
    with _id_lock:
        if not _id_bytes:
            pool = os.urandom(16 * _ID_BATCH)
            _id_bytes.extend(pool[i : i + 16] for i in range(0, len(pool), 16))
        raw = _id_bytes.pop()
    return f"<urn:uuid:{uuid.UUID(bytes=raw, version=4)}>"


@dataclass(frozen=True)
class HttpExchange:
    """One HTTP request and its response, as the bytes that crossed the wire."""

    target_uri: str
    request_head: bytes
    request_body: bytes
    response_head: bytes
    response_body: bytes
    ip_address: str | None
    date: datetime
    truncated: str | None = None


# --- Transfer-Encoding: chunked ---------------------------------------------------------


class _Chunked(Enum):
    COMPLETE = "complete"
    TRUNCATED = "truncated"  # the bytes end before the last chunk
    INVALID = "invalid"  # bytes are there but are not chunk framing


def _line_end(data: bytes, start: int) -> tuple[int, int] | None:
    """(end of line content, start of next line) for a CRLF- or LF-terminated line."""
    newline = data.find(b"\n", start, start + _MAX_CHUNK_LINE)
    if newline < 0:
        return None
    end = newline - 1 if newline > start and data[newline - 1 : newline] == b"\r" else newline
    return end, newline + 1


def _decode_chunked(body: bytes) -> tuple[bytes, _Chunked]:
    parts: list[bytes] = []
    pos = 0
    size = len(body)
    while True:
        line = _line_end(body, pos)
        if line is None:
            rest = body[pos:]
            # A size line cut by the end of the data is truncation; anything longer is garbage.
            if len(rest) < _MAX_CHUNK_LINE and _HEX_RE.fullmatch(
                rest.split(b";", 1)[0].strip() or b"0"
            ):
                return b"".join(parts), _Chunked.TRUNCATED
            return b"".join(parts), _Chunked.INVALID
        line_start = pos
        end, pos = line
        token = body[line_start:end].split(b";", 1)[0].strip(b" \t")
        if not _HEX_RE.fullmatch(token):
            return b"".join(parts), _Chunked.INVALID
        chunk_size = int(token, 16)
        if chunk_size == 0:
            # Trailer fields after the last chunk are dropped: the head cannot hold them.
            return b"".join(parts), _Chunked.COMPLETE
        chunk = body[pos : pos + chunk_size]
        parts.append(chunk)
        pos += len(chunk)
        if len(chunk) < chunk_size or pos >= size:
            return b"".join(parts), _Chunked.TRUNCATED
        if body.startswith(b"\r\n", pos):
            pos += 2
        elif body.startswith(b"\n", pos):
            pos += 1
        elif body[pos:] == b"\r":
            return b"".join(parts), _Chunked.TRUNCATED
        else:
            return b"".join(parts), _Chunked.INVALID


def dechunk(body: bytes) -> tuple[bytes, bool]:
    """Decode a chunked body leniently: (entity body, complete?); never raises."""
    decoded, state = _decode_chunked(body)
    return decoded, state is _Chunked.COMPLETE


# --- HTTP heads ------------------------------------------------------------------------


@dataclass(frozen=True)
class _HeaderLine:
    name_start: int
    value: bytes


def _transfer_encoding_lines(head: bytes) -> list[_HeaderLine]:
    """The Transfer-Encoding header lines of an HTTP head, folded continuations joined."""
    found: list[_HeaderLine] = []
    current: _HeaderLine | None = None
    pos = head.find(b"\n") + 1  # past the start line
    if pos == 0:
        return found
    while pos < len(head):
        newline = head.find(b"\n", pos)
        end = len(head) if newline < 0 else newline
        line = head[pos:end].rstrip(b"\r")
        if not line:
            break
        if line[:1] in (b" ", b"\t"):
            if current is not None:
                current = _HeaderLine(current.name_start, current.value + b" " + line)
                found[-1] = current
        else:
            name, colon, value = line.partition(b":")
            current = None
            if colon and name.lower() == b"transfer-encoding":
                current = _HeaderLine(pos, value)
                found.append(current)
        pos = end + 1
    return found


def _codings(lines: Sequence[_HeaderLine]) -> list[str]:
    text = b",".join(line.value for line in lines).decode("latin-1")
    return [c.strip().lower() for c in text.split(",") if c.strip()]


def _check_head(head: bytes, what: str) -> None:
    if not (head.endswith(b"\r\n\r\n") or head.endswith(b"\n\n")):
        raise ValueError(f"{what}: the head must be a start line and headers, then an empty line")


def _store_message(head: bytes, body: bytes, what: str) -> tuple[bytes, bytes, bool]:
    """The (head, body) to store for a message, and whether the de-chunked body is cut short."""
    _check_head(head, what)
    lines = _transfer_encoding_lines(head)
    if not lines or not body:
        return head, body, False
    if _codings(lines) != ["chunked"]:
        logger.debug(
            "%s: transfer codings %s other than chunked; stored as received", what, _codings(lines)
        )
        return head, body, False
    decoded, state = _decode_chunked(body)
    if state is _Chunked.INVALID:
        logger.warning(
            "%s: says chunked but the body is not chunk framed; stored as received", what
        )
        return head, body, False
    renamed = bytearray(head)
    for line in reversed(lines):
        renamed[line.name_start : line.name_start] = ORIG_HEADER_PREFIX
    return bytes(renamed), decoded, state is _Chunked.TRUNCATED


# --- records ---------------------------------------------------------------------------


def _check_value(name: str, value: str) -> str:
    if not value or "\r" in value or "\n" in value:
        raise ValueError(f"{name} must be a non-empty single line, not {value!r}")
    return value


def _raw_record(
    rec_type: str, headers: list[tuple[str, str]], block: bytes, content_type: str
) -> ArcWarcRecord:
    """A warcio record whose block is stored byte for byte, digests already in headers."""
    warc_headers = StatusAndHeaders("", headers, protocol=WARC_VERSION)
    # An empty uri: given an http(s) URI, warcio parses the HTTP head out of the payload and
    # writes it back re-serialised, which would change header bytes. WARC-Target-URI is
    # already in warc_headers.
    return _BUILDER.create_warc_record(
        "",
        rec_type,
        payload=BytesIO(block),
        length=len(block),
        warc_content_type=content_type,
        warc_headers=warc_headers,
    )


def build_exchange_records(
    exchange: HttpExchange,
    *,
    digest_algorithm: DigestAlgorithm = "sha1",
    request_id: str | None = None,
    response_id: str | None = None,
    warcinfo_id: str | None = None,
) -> tuple[ArcWarcRecord, ArcWarcRecord]:
    """The (request, response) WARC records of one exchange."""
    algorithm = parse_digest_algorithm(digest_algorithm)
    uri = _check_value("target_uri", exchange.target_uri)
    date = warc_date(exchange.date)
    response_id = _check_value("response_id", response_id or new_record_id())
    request_id = _check_value("request_id", request_id or new_record_id())
    ip_address = str(ipaddress.ip_address(exchange.ip_address)) if exchange.ip_address else None
    truncated = exchange.truncated
    if truncated is not None and not _TOKEN_RE.fullmatch(truncated):
        raise ValueError(f"WARC-Truncated reason must be a token, not {truncated!r}")

    resp_head, resp_body, cut = _store_message(
        exchange.response_head, exchange.response_body, f"response of {uri}"
    )
    if cut and truncated is None:
        # The chunk framing ended early though the capture did not say why.
        truncated = "unspecified"
    resp_headers = [
        ("WARC-Type", "response"),
        ("WARC-Record-ID", response_id),
        ("WARC-Date", date),
        ("WARC-Target-URI", uri),
    ]
    if ip_address:
        resp_headers.append(("WARC-IP-Address", ip_address))
    if warcinfo_id:
        resp_headers.append(("WARC-Warcinfo-ID", _check_value("warcinfo_id", warcinfo_id)))
    if truncated:
        resp_headers.append(("WARC-Truncated", truncated))
    resp_block = resp_head + resp_body
    resp_headers.append(("WARC-Payload-Digest", digest(resp_body, algorithm)))
    resp_headers.append(("WARC-Block-Digest", digest(resp_block, algorithm)))
    response = _raw_record("response", resp_headers, resp_block, RESPONSE_CONTENT_TYPE)

    request = build_request_record(
        exchange,
        concurrent_to=response_id,
        digest_algorithm=algorithm,
        record_id=request_id,
        warcinfo_id=warcinfo_id,
    )
    return request, response


def build_request_record(
    exchange: HttpExchange,
    *,
    concurrent_to: str,
    digest_algorithm: DigestAlgorithm = "sha1",
    record_id: str | None = None,
    warcinfo_id: str | None = None,
) -> ArcWarcRecord:
    """The request record of an exchange, WARC-Concurrent-To its response or revisit record."""
    algorithm = parse_digest_algorithm(digest_algorithm)
    uri = _check_value("target_uri", exchange.target_uri)
    ip_address = str(ipaddress.ip_address(exchange.ip_address)) if exchange.ip_address else None
    req_head, req_body, _ = _store_message(
        exchange.request_head, exchange.request_body, f"request of {uri}"
    )
    req_headers = [
        ("WARC-Type", "request"),
        ("WARC-Record-ID", _check_value("record_id", record_id or new_record_id())),
        ("WARC-Date", warc_date(exchange.date)),
        ("WARC-Target-URI", uri),
        ("WARC-Concurrent-To", _check_value("concurrent_to", concurrent_to)),
    ]
    if ip_address:
        req_headers.append(("WARC-IP-Address", ip_address))
    if warcinfo_id:
        req_headers.append(("WARC-Warcinfo-ID", _check_value("warcinfo_id", warcinfo_id)))
    req_block = req_head + req_body
    req_headers.append(("WARC-Payload-Digest", digest(req_body, algorithm)))
    req_headers.append(("WARC-Block-Digest", digest(req_block, algorithm)))
    return _raw_record("request", req_headers, req_block, REQUEST_CONTENT_TYPE)


def stored_response(exchange: HttpExchange) -> tuple[bytes, bytes, bool]:
    """(head, body, cut short) of the response as its record stores it (chunking removed)."""
    return _store_message(
        exchange.response_head, exchange.response_body, f"response of {exchange.target_uri}"
    )


def build_revisit_record(
    exchange: HttpExchange,
    *,
    refers_to: str,
    refers_to_uri: str,
    refers_to_date: str,
    digest_algorithm: DigestAlgorithm = "sha1",
    record_id: str | None = None,
    warcinfo_id: str | None = None,
) -> ArcWarcRecord:
    """A revisit record (identical-payload-digest profile) for a response already archived.

    The block keeps the response's status line and headers, stored as a response record
    would store them; the body is left out, and WARC-Payload-Digest, WARC-Refers-To,
    WARC-Refers-To-Target-URI and WARC-Refers-To-Date name the record that holds it.
    """
    algorithm = parse_digest_algorithm(digest_algorithm)
    uri = _check_value("target_uri", exchange.target_uri)
    ip_address = str(ipaddress.ip_address(exchange.ip_address)) if exchange.ip_address else None
    if exchange.truncated:
        raise ValueError(f"a truncated response of {uri} cannot be a revisit of a whole one")
    head, body, cut = stored_response(exchange)
    if cut:
        raise ValueError(f"the response of {uri} is cut short; it cannot be a revisit")
    headers = [
        ("WARC-Type", "revisit"),
        ("WARC-Record-ID", _check_value("record_id", record_id or new_record_id())),
        ("WARC-Date", warc_date(exchange.date)),
        ("WARC-Target-URI", uri),
    ]
    if ip_address:
        headers.append(("WARC-IP-Address", ip_address))
    if warcinfo_id:
        headers.append(("WARC-Warcinfo-ID", _check_value("warcinfo_id", warcinfo_id)))
    headers += [
        ("WARC-Profile", REVISIT_PROFILE),
        ("WARC-Refers-To-Target-URI", _check_value("refers_to_uri", refers_to_uri)),
        ("WARC-Refers-To-Date", warc_date(parse_warc_date(refers_to_date))),
        ("WARC-Refers-To", _check_value("refers_to", refers_to)),
        ("WARC-Payload-Digest", digest(body, algorithm)),
        ("WARC-Block-Digest", digest(head, algorithm)),
    ]
    # warcio writes only the HTTP head of a revisit, from record.http_headers, never the
    # block stream; so the head goes there, with its bytes kept as stored.
    return _BUILDER.create_warc_record(
        "",
        "revisit",
        payload=BytesIO(b""),
        length=0,
        warc_content_type=RESPONSE_CONTENT_TYPE,
        warc_headers=StatusAndHeaders("", headers, protocol=WARC_VERSION),
        http_headers=_StoredHead.of(head),
    )


class _StoredHead(StatusAndHeaders):  # type: ignore[misc]
    """Parsed HTTP headers whose bytes warcio writes as stored, not re-serialised."""

    @classmethod
    def of(cls, head: bytes) -> _StoredHead:
        parsed = StatusAndHeadersParser([], verify=False).parse(BytesIO(head))
        kept = cls(parsed.statusline, parsed.headers, protocol=parsed.protocol)
        kept.headers_buff = head
        return kept

    def compute_headers_buffer(self, header_filter: object = None) -> None:
        """Keep the stored bytes (warcio would percent-encode and re-space them)."""
        return None


def build_metadata_record(
    target_uri: str,
    payload: bytes,
    *,
    refers_to: str,
    date: datetime,
    content_type: str = "application/json",
    record_id: str | None = None,
    warcinfo_id: str | None = None,
    digest_algorithm: DigestAlgorithm = "sha1",
) -> ArcWarcRecord:
    """A metadata record about a response record (WARC-Refers-To and WARC-Concurrent-To it)."""
    algorithm = parse_digest_algorithm(digest_algorithm)
    headers = [
        ("WARC-Type", "metadata"),
        ("WARC-Record-ID", _check_value("record_id", record_id or new_record_id())),
        ("WARC-Date", warc_date(date)),
        ("WARC-Target-URI", _check_value("target_uri", target_uri)),
        ("WARC-Refers-To", _check_value("refers_to", refers_to)),
        ("WARC-Concurrent-To", refers_to),
    ]
    if warcinfo_id:
        headers.append(("WARC-Warcinfo-ID", _check_value("warcinfo_id", warcinfo_id)))
    # No HTTP head: the whole block is the payload (warcio would add a sha1 one otherwise).
    block_digest = digest(payload, algorithm)
    headers.append(("WARC-Payload-Digest", block_digest))
    headers.append(("WARC-Block-Digest", block_digest))
    return _raw_record("metadata", headers, payload, _check_value("content_type", content_type))


def build_warcinfo_record(
    filename: str,
    fields: Mapping[str, str],
    *,
    date: datetime,
    record_id: str | None = None,
    digest_algorithm: DigestAlgorithm = "sha1",
) -> ArcWarcRecord:
    """The warcinfo record: application/warc-fields in the given order, empty values left out."""
    algorithm = parse_digest_algorithm(digest_algorithm)
    for name, value in fields.items():
        if not _TOKEN_RE.fullmatch(name) or "\r" in value or "\n" in value:
            raise ValueError(f"warcinfo field {name!r}: {value!r} is not a single-line field")
    record = _BUILDER.create_warcinfo_record(_check_value("filename", filename), dict(fields))
    record.rec_headers.replace_header(
        "WARC-Record-ID", _check_value("record_id", record_id or new_record_id())
    )
    record.rec_headers.replace_header("WARC-Date", warc_date(date))
    record.rec_headers.add_header(
        "WARC-Block-Digest", digest(record.raw_stream.getvalue(), algorithm)
    )
    return record


# --- the rotating writer -----------------------------------------------------------------


@dataclass(frozen=True)
class RecordLocation:
    """Where a record went: file name, offset and length of its gzip member."""

    filename: str
    offset: int
    length: int


@dataclass(frozen=True)
class ClosedWarc:
    """A finished WARC file: final path, size, sha256 (hex) and record counts by WARC-Type."""

    path: Path
    name: str
    size: int
    sha256: str
    records: dict[str, int]
    first_date: datetime | None
    last_date: datetime | None
    # SHA-256 of each part_size slice of the file, for the upload's per-part checksums.
    part_size: int | None = None
    part_sha256: tuple[bytes, ...] = ()


class _GzipMember:
    """Compresses what warcio writes for one record into one gzip member at a chosen level."""

    def __init__(self, out: _HashingFile, level: int) -> None:
        self.out = out
        self._zip = zlib_ng.compressobj(level, zlib_ng.DEFLATED, zlib_ng.MAX_WBITS | 16)
        self._done = False

    def write(self, data: bytes) -> None:
        self.out.write(self._zip.compress(data))

    def flush(self) -> None:
        # warcio flushes once, at the end of the record: that ends the member.
        if not self._done:
            self._done = True
            self.out.write(self._zip.flush())
        self.out.flush()


class _LevelWARCWriter(WARCWriter):  # type: ignore[misc]
    """warcio's WARCWriter with one gzip member per record at `level` (warcio's own uses 9)."""

    def __init__(self, out: _HashingFile, level: int) -> None:
        super().__init__(out, gzip=False, warc_version=WARC_VERSION)
        self.level = level

    def write_record(self, record: ArcWarcRecord, params: object = None) -> None:
        # A fresh member per record, as warcio's gzip mode does: a record that fails
        # halfway leaves no compressor state behind for the next one.
        self._write_warc_record(_GzipMember(self.out, self.level), record)


# The hash state _HashingFile.mark() saves: whole file, current part, its length, parts done.
_HashMark = tuple["hashlib._Hash", "hashlib._Hash", int, int]


class _HashingFile:
    """Write-through file wrapper that counts and hashes every byte reaching the file."""

    def __init__(self, raw: BinaryIO, part_size: int | None = None) -> None:
        self.raw = raw
        self.size = 0
        self.sha256 = hashlib.sha256()
        # SHA-256 runs many times faster than gzip compresses: a second hash of its output
        # costs the writer little.
        self.part_size = part_size
        self.parts: list[bytes] = []
        self._part = hashlib.sha256()
        self._in_part = 0

    def write(self, data: bytes) -> int:
        written = self.raw.write(data)
        self.sha256.update(data)
        self.size += len(data)
        if self.part_size is not None:
            view = memoryview(data)
            while view:
                chunk = view[: self.part_size - self._in_part]
                self._part.update(chunk)
                self._in_part += len(chunk)
                view = view[len(chunk) :]
                if self._in_part == self.part_size:
                    self.parts.append(self._part.digest())
                    self._part = hashlib.sha256()
                    self._in_part = 0
        return written

    def mark(self) -> _HashMark:
        """The hash state now, for restore() after a failed write."""
        return self.sha256.copy(), self._part.copy(), self._in_part, len(self.parts)

    def restore(self, mark: _HashMark) -> None:
        """Go back to the hash state of mark()."""
        self.sha256, self._part, self._in_part, count = mark
        del self.parts[count:]

    def part_digests(self) -> tuple[bytes, ...]:
        """Every part's SHA-256, the last one partial, once the file is complete."""
        if self.part_size is None:
            return ()
        if self._in_part or not self.parts:
            return (*self.parts, self._part.digest())
        return tuple(self.parts)

    def flush(self) -> None:
        self.raw.flush()


@dataclass
class _OpenWarc:
    name: str
    open_path: Path
    final_path: Path
    raw: BinaryIO
    out: _HashingFile
    writer: WARCWriter
    warcinfo_id: str
    records: dict[str, int] = field(default_factory=dict)
    first_date: datetime | None = None
    last_date: datetime | None = None

    def count(self, record: ArcWarcRecord) -> None:
        rec_type = str(record.rec_headers.get_header("WARC-Type") or "unknown")
        self.records[rec_type] = self.records.get(rec_type, 0) + 1
        value = record.rec_headers.get_header("WARC-Date")
        if value:
            when = parse_warc_date(value)
            self.first_date = when if self.first_date is None else min(self.first_date, when)
            self.last_date = when if self.last_date is None else max(self.last_date, when)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _fsync_directory(directory: Path) -> None:
    # Makes the rename durable; some filesystems refuse fsync on a directory, which is harmless.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        logger.debug("fsync of directory %s failed: %s", directory, exc)
    finally:
        os.close(fd)


class RotatingWarcWriter:
    """Writes records into gzip WARC files named *.warc.gz.open, renamed once they pass max_size."""

    def __init__(
        self,
        directory: Path,
        *,
        prefix: str,
        max_size: int,
        warcinfo_fields: Mapping[str, str],
        digest_algorithm: DigestAlgorithm = "sha1",
        host: str | None = None,
        on_close: Callable[[ClosedWarc], None] | None = None,
        clock: Callable[[], datetime] | None = None,
        on_write: Callable[[Sequence[ArcWarcRecord], list[RecordLocation]], None] | None = None,
        gzip_level: int = GZIP_LEVEL,
        part_size: int | None = None,
    ) -> None:
        if max_size <= 0:
            raise ValueError(f"max_size must be positive, not {max_size}")
        self.directory = Path(directory)
        self.prefix = prefix
        self.max_size = max_size
        self.warcinfo_fields = dict(warcinfo_fields)
        self.digest_algorithm = parse_digest_algorithm(digest_algorithm)
        self.host = host or socket.gethostname()
        self.on_close = on_close
        # Called with each call's records and locations once they are in the file, before
        # the file can be closed (and so before it can be uploaded and released).
        self.on_write = on_write
        self.clock = clock or _utc_now
        if not 0 <= gzip_level <= 9:
            raise ValueError(f"gzip_level must be 0-9, not {gzip_level}")
        self.gzip_level = gzip_level
        # Upload part size: files opened from now on also hash each part (ClosedWarc.part_sha256).
        self.part_size = part_size
        self.closed: list[ClosedWarc] = []
        self._serial = 0
        self._pid = os.getpid()
        self._current: _OpenWarc | None = None
        self._lock = threading.Lock()
        _check_prefix(prefix)
        self.directory.mkdir(parents=True, exist_ok=True)

    def __enter__(self) -> RotatingWarcWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def write(self, records: Sequence[ArcWarcRecord]) -> list[RecordLocation]:
        """Write records into the current file (all into the same one); rotate if it is full."""
        if not records:
            return []
        with self._lock:
            current = self._current or self._open()
            locations = self._write_all(current, records)
            self._written(records, locations)
            closed = self._close_current() if current.out.size >= self.max_size else None
        if closed is not None:
            self._notify(closed)
        return locations

    def close(self) -> ClosedWarc | None:
        """Close the current file, if any: fsync, rename without .open, call on_close."""
        with self._lock:
            closed = self._close_current() if self._current is not None else None
        if closed is not None:
            self._notify(closed)
        return closed

    def _open(self) -> _OpenWarc:
        when = self.clock()
        while True:
            name = warc_filename(self.prefix, when, self._serial, self.host, self._pid)
            self._serial += 1
            final_path = self.directory / name
            open_path = self.directory / (name + OPEN_SUFFIX)
            if final_path.exists():
                continue
            try:
                raw = open(open_path, "xb")  # noqa: SIM115 - kept open until the file is closed
            except FileExistsError:
                continue
            break
        out = _HashingFile(raw, self.part_size)
        warcinfo_id = new_record_id()
        current = _OpenWarc(
            name=name,
            open_path=open_path,
            final_path=final_path,
            raw=raw,
            out=out,
            writer=_LevelWARCWriter(out, self.gzip_level),
            warcinfo_id=warcinfo_id,
        )
        warcinfo = build_warcinfo_record(
            name,
            self.warcinfo_fields,
            date=when,
            record_id=warcinfo_id,
            digest_algorithm=self.digest_algorithm,
        )
        try:
            current.writer.write_record(warcinfo)
        except BaseException:
            # On a full disk close() fails too (it flushes the same buffered bytes): the
            # empty file must still go, or every later write leaves one more behind.
            with contextlib.suppress(OSError):
                raw.close()
            open_path.unlink(missing_ok=True)
            raise
        current.count(warcinfo)
        self._current = current
        logger.info("opened WARC %s", open_path)
        return current

    def _write_all(
        self, current: _OpenWarc, records: Sequence[ArcWarcRecord]
    ) -> list[RecordLocation]:
        start = current.out.size
        hashes = current.out.mark()
        saved = (dict(current.records), current.first_date, current.last_date)
        locations: list[RecordLocation] = []
        try:
            for record in records:
                if record.rec_type != "warcinfo":
                    # Only the writer knows which warcinfo record describes the file.
                    record.rec_headers.replace_header("WARC-Warcinfo-ID", current.warcinfo_id)
                offset = current.out.size
                current.writer.write_record(record)
                locations.append(RecordLocation(current.name, offset, current.out.size - offset))
                current.count(record)
            # Handed to the kernel: a process killed from here on loses none of these records,
            # which is what a resumed crawl relies on (docs/operations.md).
            current.raw.flush()
        except BaseException:
            self._roll_back(current, start, hashes, saved)
            raise
        return locations

    def _roll_back(
        self,
        current: _OpenWarc,
        size: int,
        hashes: _HashMark,
        saved: tuple[dict[str, int], datetime | None, datetime | None],
    ) -> None:
        """Cut a failed call's partial records off, so the file stays valid."""
        try:
            current.raw.truncate(size)
            current.raw.seek(size)
        except OSError:
            # The tail cannot be cut (disk gone?): leave the .open file for recover_open_file.
            logger.exception("cannot roll back %s; left for recovery", current.open_path)
            self._current = None
            try:
                current.raw.close()
            except OSError:
                logger.debug("closing %s failed", current.open_path, exc_info=True)
            return
        current.out.size = size
        current.out.restore(hashes)
        current.records, current.first_date, current.last_date = saved
        logger.warning("rolled %s back to %d bytes after a failed write", current.open_path, size)

    def _close_current(self) -> ClosedWarc:
        current = self._current
        assert current is not None
        self._current = None
        try:
            current.raw.flush()
            os.fsync(current.raw.fileno())
        finally:
            current.raw.close()
        os.rename(current.open_path, current.final_path)
        _fsync_directory(self.directory)
        closed = ClosedWarc(
            path=current.final_path,
            name=current.name,
            size=current.out.size,
            sha256=current.out.sha256.hexdigest(),
            records=dict(current.records),
            first_date=current.first_date,
            last_date=current.last_date,
            part_size=current.out.part_size,
            part_sha256=current.out.part_digests(),
        )
        self.closed.append(closed)
        logger.info(
            "closed WARC %s: %d bytes, records %s", closed.name, closed.size, closed.records
        )
        return closed

    def _written(self, records: Sequence[ArcWarcRecord], locations: list[RecordLocation]) -> None:
        if self.on_write is None:
            return
        try:
            self.on_write(records, locations)
        except Exception:
            # The records are safely written; a failing observer must not fail the write.
            logger.exception("on_write callback failed for %d records", len(records))

    def _notify(self, closed: ClosedWarc) -> None:
        if self.on_close is None:
            return
        try:
            self.on_close(closed)
        except Exception:
            # The file is safely closed and listed in .closed; a failing callback must not
            # turn the write that triggered the rotation into a failed write.
            logger.exception("on_close callback failed for %s", closed.name)


_WriteJob: TypeAlias = tuple[Sequence[ArcWarcRecord], Future[list[RecordLocation]]]


class WarcWriterThread:
    """Runs a RotatingWarcWriter on its own thread, so gzip and disk writes leave the caller's."""

    def __init__(self, writer: RotatingWarcWriter, max_queue: int = 64) -> None:
        self.writer = writer
        # Bounded: when the disk (or gzip) falls behind, submit() waits rather than memory
        # growing.  A queued exchange holds its records, twice a news page's 100 KB or so; on
        # a busy 2-core machine the writer lagged and 1,000 queued exchanges held 100-200 MB
        # (docs/performance.md).  64 still absorbs a burst of a few MB.
        self._queue: queue.Queue[_WriteJob | None] = queue.Queue(maxsize=max_queue)
        self._lock = threading.Lock()
        self._closing = False
        self._stop_queued = False
        self._close_error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="warc-writer", daemon=True)
        self._thread.start()

    def submit(self, records: Sequence[ArcWarcRecord]) -> Future[list[RecordLocation]]:
        """Queue records for writing (together, in one file); the future gets their locations."""
        future: Future[list[RecordLocation]] = Future()
        with self._lock:
            if self._closing:
                raise RuntimeError("WARC writer thread is closed")
            self._queue.put((list(records), future))
        return future

    def close(self, timeout: float | None = None) -> None:
        """Write everything queued, then close the writer; TimeoutError if that takes longer."""
        with self._lock:
            self._closing = True
            if not self._stop_queued:
                try:
                    self._queue.put(None, timeout=timeout)
                except queue.Full:
                    raise TimeoutError(f"WARC writer queue still full after {timeout}s") from None
                self._stop_queued = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"WARC writer thread still writing after {timeout}s")
        if self._close_error is not None:
            raise self._close_error

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                break
            records, future = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                locations = self.writer.write(records)
            except Exception as exc:
                logger.exception("writing %d WARC records failed", len(records))
                future.set_exception(exc)
            else:
                future.set_result(locations)
        try:
            self.writer.close()
        except Exception as exc:
            logger.exception("closing the WARC writer failed")
            self._close_error = exc


# --- recovery ----------------------------------------------------------------------------


def _complete_gzip_member(data: bytes) -> bool:
    decompressor = zlib.decompressobj(zlib.MAX_WBITS | 16)
    try:
        out = decompressor.decompress(data)
    except zlib.error:
        return False
    return decompressor.eof and not decompressor.unused_data and out.endswith(b"\r\n\r\n")


def _complete_records(path: Path) -> list[tuple[int, int, str]]:
    """(offset, length, WARC-Type) of the leading run of complete records of a gzip WARC."""
    found: list[tuple[int, int, str]] = []
    with open(path, "rb") as fh:
        iterator = ArchiveIterator(fh, no_record_parse=True)
        try:
            for record in iterator:
                declared = record.rec_headers.get_header("Content-Length")
                got = 0
                while chunk := record.raw_stream.read(65536):
                    got += len(chunk)
                if declared is None or got != int(declared):
                    break
                offset, length = iterator.get_record_offset(), iterator.get_record_length()
                found.append((offset, length, str(record.rec_headers.get_header("WARC-Type"))))
        except Exception as exc:
            # Whatever fails to parse past this point is the damaged tail.
            logger.debug("%s: reading stopped at a damaged record: %r", path, exc)
        if found:
            # A member is followed by another only once it ended; the last one may be cut
            # inside its gzip trailer, which the record reader does not notice.
            offset, length, _ = found[-1]
            fh.seek(offset)
            if not _complete_gzip_member(fh.read(length)):
                found.pop()
    return found


def recover_open_file(path: Path) -> Path | None:
    """Cut a crashed writer's *.warc.gz.open after its last complete record and rename it.

    Returns the recovered path, or None when no record besides warcinfo survived; the file is
    then renamed to *.warc.gz.corrupt.
    """
    path = Path(path)
    if not path.name.endswith(WARC_SUFFIX + OPEN_SUFFIX):
        raise ValueError(f"{path} is not a *{WARC_SUFFIX}{OPEN_SUFFIX} file")
    final_path = path.with_name(path.name[: -len(OPEN_SUFFIX)])
    if final_path.exists():
        raise FileExistsError(f"{final_path} exists; not overwriting it with {path.name}")
    records = _complete_records(path)
    if not any(rec_type != "warcinfo" for _, _, rec_type in records):
        corrupt = final_path.with_name(final_path.name + CORRUPT_SUFFIX)
        os.rename(path, corrupt)
        logger.warning("%s holds no complete record; moved aside to %s", path, corrupt.name)
        return None
    offset, length, _ = records[-1]
    end = offset + length
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.truncate(end)
        fh.flush()
        os.fsync(fh.fileno())
    os.rename(path, final_path)
    _fsync_directory(final_path.parent)
    logger.warning(
        "recovered %s: kept %d records (%d bytes), cut %d bytes",
        final_path.name,
        len(records),
        end,
        size - end,
    )
    return final_path
