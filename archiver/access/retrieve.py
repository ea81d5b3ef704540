"""Finding and reading captures in storage: index lookups and HTTP Range reads of WARC records.

Scrapy-free; the `archiver find/get/ls/fetch/verify` commands are thin layers over it.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator

from archiver.config import SettingError
from archiver.index import (
    ArchiveIndex,
    CachedArchiveIndex,
    Capture,
    cache_dir_from_settings,
    key_range,
    storage_key,
    timestamp_bound,
    timestamp_datetime,
)
from archiver.storage import S3Config, make_client

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)

# 1 MiB reads: constant memory whatever the size of a WARC being streamed.
READ_BLOCK = 1024 * 1024


def open_archive(settings: Any) -> tuple[S3Config, S3Client, CachedArchiveIndex]:
    """The storage config, a client and the archive index; SettingError without a bucket.

    The index keeps cluster.idx files under ARCHIVER_INDEX_CACHE_DIR (archiver.index.cache).
    """
    cfg = S3Config.from_settings(settings)
    if not cfg.enabled:
        raise SettingError(
            "no bucket configured: set ARCHIVER_S3_BUCKET (or -s ARCHIVER_S3_BUCKET=NAME)"
        )
    client = make_client(cfg)
    index = CachedArchiveIndex(client, cfg.bucket, cfg.prefix, cache_dir_from_settings(settings))
    return cfg, client, index


# --- find ------------------------------------------------------------------------------------


def find(
    index: ArchiveIndex,
    url: str,
    *,
    match: str = "exact",
    since: str | None = None,
    until: str | None = None,
    limit: int | None = None,
) -> list[Capture]:
    """Captures of a URL (or its prefix, host or domain) between two dates, oldest first."""
    low = timestamp_bound(since, upper=False) if since else None
    high = timestamp_bound(until, upper=True) if until else None
    found = []
    for capture in index.query(key_range(url, match)):
        if not capture.is_capture:
            continue
        if (low and capture.timestamp < low) or (high and capture.timestamp > high):
            continue
        found.append(capture)
    found.sort(key=lambda c: (c.timestamp, c.key, c.filename, c.offset))
    return found[:limit] if limit is not None else found


def closest(captures: Sequence[Capture], at: str | None) -> Capture | None:
    """The capture nearest in time to `at` (a date or timestamp prefix), else the latest."""
    if not captures:
        return None
    if at is None:
        return max(captures, key=lambda c: (c.timestamp, c.filename, c.offset))
    target = timestamp_datetime(timestamp_bound(at, upper=False))

    def distance(c: Capture) -> tuple[float, str]:
        # Ties go to the later capture, as in pywb.
        seconds = abs((timestamp_datetime(c.timestamp) - target).total_seconds())
        return seconds, _invert(c.timestamp)

    return min(captures, key=distance)


def _invert(ts: str) -> str:
    return "".join(str(9 - int(d)) for d in ts)


# --- reading records -------------------------------------------------------------------------


@dataclass
class RecordSet:
    """Raw WARC records read with Range requests, and what they hold."""

    raw: bytes
    response: bytes | None = None
    metadata: bytes | None = None
    requests: int = 0
    bytes_read: int = 0


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


def citation(capture: Capture) -> dict[str, Any]:
    """What a researcher cites for a capture: URL, time, record id, digest and where it is."""
    return {
        "url": capture.url,
        "timestamp": capture.timestamp,
        "warc_record_id": capture.get("record_id"),
        "payload_digest": capture.get("digest"),
        "status": capture.get("status"),
        "mime": capture.get("mime"),
        "title": capture.get("title"),
        "published": capture.get("published"),
        "filename": capture.filename,
        "offset": capture.offset,
        "length": capture.length,
    }


# --- crawls in storage -----------------------------------------------------------------------


@dataclass
class StoredCrawl:
    """A crawl directory in storage, with its manifest when the crawl is complete there."""

    date: str
    crawl_id: str
    manifest: dict[str, Any] | None
    keys: list[str] = field(default_factory=list)
    # Names of the WARCs a slice needs; None for the whole crawl.
    only: set[str] | None = None

    @property
    def start_urls(self) -> list[str]:
        """The crawl's start URLs, from its manifest."""
        return [str(u) for u in (self.manifest or {}).get("start_urls", [])]

    @property
    def files(self) -> list[dict[str, Any]]:
        """The manifest's file entries (WARCs), only those a slice needs when it names them."""
        return [
            f
            for f in (self.manifest or {}).get("files", [])
            if isinstance(f, dict) and (self.only is None or f.get("name") in self.only)
        ]

    def matches_site(self, site: str) -> bool:
        """True when a start URL's host is the site or one of its subdomains (www. ignored)."""
        wanted = _host(site)
        for url in self.start_urls:
            host = _host(url)
            if host == wanted or host.endswith("." + wanted):
                return True
        return False

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary for `archiver ls --json`."""
        manifest = self.manifest or {}
        return {
            "date": self.date,
            "crawl_id": self.crawl_id,
            "complete": self.manifest is not None,
            "spider": manifest.get("spider"),
            "start_urls": self.start_urls,
            "started": manifest.get("started"),
            "finished": manifest.get("finished"),
            "files": [
                {
                    "name": f.get("name"),
                    "key": f.get("key"),
                    "size": f.get("size"),
                    "sha256": f.get("sha256"),
                    "records": f.get("records"),
                    "sidecars": f.get("sidecars", []),
                    "first_date": f.get("first_date"),
                    "last_date": f.get("last_date"),
                }
                for f in self.files
            ],
            "keys": self.keys,
        }


def _host(value: str) -> str:
    host = urlsplit(value if "://" in value else "http://" + value).hostname or ""
    return host.lower().removeprefix("www.")


def list_stored_crawls(
    index: ArchiveIndex,
    *,
    crawl_id: str | None = None,
    site: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> list[StoredCrawl]:
    """Crawls in storage, filtered by id, site (start URL host) and crawl date."""
    low = timestamp_bound(since, upper=False)[:8] if since else None
    high = timestamp_bound(until, upper=True)[:8] if until else None
    found = []
    for date, cid in index.list_crawls():
        day = date.replace("-", "")
        if (low and day < low) or (high and day > high):
            continue
        if crawl_id is not None and cid != crawl_id:
            continue
        crawl = StoredCrawl(date, cid, index.read_manifest(date, cid))
        if site is not None and not crawl.matches_site(site):
            continue
        crawl.keys = sorted(index.list_keys(storage_key(index.prefix, f"{date}/{cid}/")))
        found.append(crawl)
    return found


# --- slices of a site between two dates ------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """Bytes [offset, offset+length) of one stored WARC (a path relative to the prefix)."""

    filename: str
    offset: int
    length: int

    @property
    def end(self) -> int:
        """The offset just past the span."""
        return self.offset + self.length


@dataclass
class Slice:
    """A site's captures between two dates, from the archive-wide index, and what replay needs.

    captures are the response, revisit and resource records in the window; originals are the
    responses outside it that revisits in it refer to (a revisit replays from its original);
    missing are revisits whose original the index does not hold.
    """

    site: str
    since: str
    until: str
    captures: list[Capture] = field(default_factory=list)
    originals: list[Capture] = field(default_factory=list)
    missing: list[Capture] = field(default_factory=list)

    def spans(self) -> list[Span]:
        """Every record to copy: each capture with its request (when beside it) and metadata."""
        spans: set[Span] = set()
        for capture in [*self.captures, *self.originals]:
            start = capture.offset
            req = capture.number("req_offset")
            if req is not None and req < start:
                start = req
            spans.add(Span(capture.filename, start, capture.offset + capture.length - start))
        for capture in self.captures:
            offset, length = capture.number("meta_offset"), capture.number("meta_length")
            if offset is not None and length is not None:
                filename = capture.get("meta_filename") or capture.filename
                spans.add(Span(filename, offset, length))
        return sorted(spans, key=lambda s: (s.filename, s.offset, s.length))

    def files(self) -> list[str]:
        """The stored WARCs holding a record of the slice, in path order."""
        return sorted({s.filename for s in self.spans()})


def select_slice(index: ArchiveIndex, site: str, since: str, until: str) -> Slice:
    """Captures of a host or domain (subdomains too) between two dates, via the archive index."""
    low = timestamp_bound(since, upper=False)
    high = timestamp_bound(until, upper=True)
    if low > high:
        raise ValueError(f"--from {since} is after --to {until}")
    found = Slice(site, since, until)
    originals: dict[tuple[str, int], Capture] = {}
    key: str | None = None
    # Per URL (lines come sorted by key, then time): its latest non-revisit per payload digest.
    latest: dict[str, Capture] = {}
    for capture in index.query(key_range(site, "domain")):
        if not capture.is_capture:
            continue
        if capture.key != key:
            key, latest = capture.key, {}
        digest = capture.get("digest") or ""
        revisit = capture.fields.get("type") == "revisit"
        if low <= capture.timestamp <= high:
            found.captures.append(capture)
            if revisit:
                original = latest.get(digest)
                if original is None:
                    found.missing.append(capture)
                elif original.timestamp < low:
                    originals[(original.filename, original.offset)] = original
        if not revisit and digest:
            latest[digest] = capture
    found.originals = sorted(originals.values(), key=lambda c: c.line)
    return found


def _groups(spans: Sequence[Span], gap: int) -> Iterator[list[Span]]:
    """Spans of one file, in order, cut into groups that one Range request covers."""
    group: list[Span] = []
    for span in spans:
        if group and (span.filename != group[-1].filename or span.offset > group[-1].end + gap):
            yield group
            group = []
        group.append(span)
    if group:
        yield group


def copy_spans(
    index: ArchiveIndex,
    spans: Sequence[Span],
    out: IO[bytes],
    *,
    gap: int = COALESCE_GAP,
    advance: Callable[[int], None] | None = None,
) -> list[tuple[Span, int]]:
    """Copy the spans of one stored WARC into out, streaming; returns (span, offset in out).

    Spans closer than `gap` are read with one Range request and the bytes between dropped;
    overlapping spans are copied once. Each span must be whole gzip members.
    """
    placed: list[tuple[Span, int]] = []
    ordered = sorted(spans, key=lambda s: (s.filename, s.offset, -s.length))
    merged: list[Span] = []
    for span in ordered:
        if merged and span.filename == merged[-1].filename and span.offset < merged[-1].end:
            last = merged[-1]
            merged[-1] = Span(last.filename, last.offset, max(last.end, span.end) - last.offset)
        else:
            merged.append(span)
    for group in _groups(merged, gap):
        start, end = group[0].offset, group[-1].end
        response = index.client.get_object(
            Bucket=index.bucket,
            Key=warc_key(index, group[0].filename),
            Range=f"bytes={start}-{end - 1}",
        )
        index.requests += 1
        index.bytes_read += end - start
        body = response["Body"]
        position = start
        for span in group:
            _skip(body, span.offset - position)
            placed.append((span, out.tell()))
            remaining = span.length
            first = True
            while remaining:
                chunk = body.read(min(READ_BLOCK, remaining))
                if not chunk:
                    raise ValueError(f"{span.filename}: the object ends before {span.end}")
                if first and chunk[:2] != b"\x1f\x8b":
                    raise ValueError(
                        f"{span.filename}@{span.offset}: not a gzip member (is the index stale?)"
                    )
                first = False
                out.write(chunk)
                remaining -= len(chunk)
            position = span.end
            if advance is not None:
                advance(span.length)
        body.close()
    return placed


def _skip(body: Any, count: int) -> None:
    while count > 0:
        chunk = body.read(min(READ_BLOCK, count))
        if not chunk:
            raise ValueError("the object ended inside a range")
        count -= len(chunk)


# --- streaming whole objects -----------------------------------------------------------------


class HashingReader:
    """Wraps a stream; counts and SHA-256-hashes every byte read, and reports progress."""

    def __init__(self, raw: Any, advance: Callable[[int], None] | None = None) -> None:
        self._raw = raw
        self._advance = advance
        self.sha256 = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        """Read like the wrapped stream."""
        data: bytes = self._raw.read(size if size is not None and size >= 0 else None)
        self.sha256.update(data)
        self.size += len(data)
        if self._advance is not None and data:
            self._advance(len(data))
        return data

    def readline(self, size: int = -1) -> bytes:
        """Not used by warcio's iterator on a raw stream; read() is enough."""
        raise io.UnsupportedOperation("readline")

    def drain(self) -> None:
        """Read to the end, so the digest covers the whole object."""
        while self.read(READ_BLOCK):
            pass


def stream_object(
    index: ArchiveIndex, key: str, advance: Callable[[int], None] | None = None
) -> HashingReader:
    """A hashing reader over one stored object (one GET, streamed)."""
    body = index.client.get_object(Bucket=index.bucket, Key=key)["Body"]
    index.requests += 1
    return HashingReader(body, advance)


def download(
    index: ArchiveIndex, key: str, out: IO[bytes], advance: Callable[[int], None] | None = None
) -> tuple[int, str]:
    """Copy a stored object into out; returns (size, hex sha256)."""
    reader = stream_object(index, key, advance)
    while chunk := reader.read(READ_BLOCK):
        out.write(chunk)
    return reader.size, reader.sha256.hexdigest()


def iter_progress_total(crawls: Sequence[StoredCrawl]) -> int:
    """Bytes of every WARC the crawls' manifests list (the total of a progress bar)."""
    return sum(int(f.get("size") or 0) for c in crawls for f in c.files)


def warc_entries(crawls: Sequence[StoredCrawl]) -> Iterator[tuple[StoredCrawl, dict[str, Any]]]:
    """(crawl, manifest file entry) for every WARC of the crawls."""
    for crawl in crawls:
        for entry in crawl.files:
            yield crawl, entry


class Progress:
    """A rich progress bar on stderr (bytes or items), or nothing when disabled."""

    def __init__(self, enabled: bool, total: int, description: str, *, in_bytes: bool) -> None:
        self._bar: Any = None
        self._task: Any = None
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )
        from rich.progress import (
            Progress as RichProgress,
        )

        columns: list[Any] = [TextColumn("{task.description}"), BarColumn()]
        if in_bytes:
            columns += [DownloadColumn(), TransferSpeedColumn()]
        else:
            columns.append(MofNCompleteColumn())
        columns.append(TimeRemainingColumn())
        self._bar = RichProgress(*columns, console=Console(stderr=True))
        self._task = self._bar.add_task(description, total=total)
        self._bar.start()

    def advance(self, amount: int) -> None:
        """Move the bar on."""
        if self._bar is not None:
            self._bar.advance(self._task, amount)

    def describe(self, text: str) -> None:
        """Change the bar's label."""
        if self._bar is not None:
            self._bar.update(self._task, description=text)

    def stop(self) -> None:
        """Remove the bar."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


# --- verify ----------------------------------------------------------------------------------


@dataclass
class VerifyReport:
    """What `archiver verify` checked and every mismatch it found."""

    crawls: int = 0
    files: int = 0
    records: int = 0
    bytes_read: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing differed."""
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "ok": self.ok,
            "crawls": self.crawls,
            "files": self.files,
            "records": self.records,
            "bytes_read": self.bytes_read,
            "problems": self.problems,
        }


def _sidecar_by_offset(lines: Sequence[str]) -> dict[int, Capture]:
    found = {}
    for line in lines:
        if line.strip():
            capture = Capture.parse(line)
            found[capture.offset] = capture
    return found


def verify_crawl(
    index: ArchiveIndex,
    crawl: StoredCrawl,
    report: VerifyReport,
    *,
    runs: Sequence[Any] | None = None,
    advance: Callable[[int], None] | None = None,
) -> None:
    """Re-read a crawl's WARCs: record digests, the per-WARC and archive-wide indexes, the manifest."""
    from archiver.index import INDEXED_TYPES, relative_path, sidecar_name

    report.crawls += 1
    problems = report.problems
    if crawl.manifest is None:
        problems.append(f"{crawl.crawl_id}: no manifest.json in storage")
        return
    seen: dict[tuple[str, int], tuple[int, str | None]] = {}
    for entry in crawl.files:
        name = str(entry["name"])
        where = f"{crawl.crawl_id}/{name}"
        raw = index.get_optional(index.crawl_key(crawl.date, crawl.crawl_id, sidecar_name(name)))
        sidecar = _sidecar_by_offset(raw.decode("utf-8").splitlines()) if raw is not None else None
        if sidecar is None:
            problems.append(f"{where}: no per-WARC index ({sidecar_name(name)})")
        reader = stream_object(index, index.crawl_key(crawl.date, crawl.crawl_id, name), advance)
        counts: dict[str, int] = {}
        iterator = ArchiveIterator(reader, check_digests=True)
        relative = relative_path(crawl.date, crawl.crawl_id, name)
        for record in iterator:
            iterator.read_to_end(record)
            offset, length = iterator.get_record_offset(), iterator.get_record_length()
            rec_type = str(record.rec_type)
            counts[rec_type] = counts.get(rec_type, 0) + 1
            report.records += 1
            checker = record.digest_checker
            if checker is not None and checker.passed is False:
                problems.append(f"{where}@{offset}: {'; '.join(checker.problems)}")
            digest = record.rec_headers.get_header("WARC-Payload-Digest")
            seen[(relative, offset)] = (length, digest)
            if sidecar is None or rec_type not in INDEXED_TYPES:
                continue
            line = sidecar.pop(offset, None)
            if line is None:
                if record.rec_headers.get_header("Content-Type") != "application/warc-fields":
                    problems.append(f"{where}@{offset}: {rec_type} record missing from the CDXJ")
                continue
            if line.length != length or (digest and line.get("digest") != digest):
                problems.append(f"{where}@{offset}: CDXJ length/digest differ from the record")
        reader.drain()
        report.files += 1
        report.bytes_read += reader.size
        if reader.size != entry.get("size") or reader.sha256.hexdigest() != entry.get("sha256"):
            problems.append(f"{where}: size or sha256 differs from manifest.json")
        if entry.get("records") and counts != entry.get("records"):
            problems.append(f"{where}: record counts {counts} differ from manifest.json")
        for offset in sorted(sidecar or {}):
            problems.append(f"{where}@{offset}: CDXJ line points at no record")
    _verify_archive_index(index, crawl, seen, problems, runs)


def _verify_archive_index(
    index: ArchiveIndex,
    crawl: StoredCrawl,
    seen: Mapping[tuple[str, int], tuple[int, str | None]],
    problems: list[str],
    runs: Sequence[Any] | None,
) -> None:
    covering = [r for r in (index.runs() if runs is None else runs) if crawl.crawl_id in r.crawls]
    if not covering:
        problems.append(f"{crawl.crawl_id}: not in the archive-wide index (run `archiver reindex`)")
        return
    prefix = f"{crawl.date}/{crawl.crawl_id}/"
    for run in covering:
        for line in index.iter_run_lines(run.run_id):
            if prefix not in line:
                continue
            capture = Capture.parse(line)
            if not capture.filename.startswith(prefix):
                continue
            record = seen.get((capture.filename, capture.offset))
            if record is None:
                problems.append(f"index run {run.run_id}: {capture.url} points at no record")
            elif record[0] != capture.length or (record[1] and capture.get("digest") != record[1]):
                problems.append(f"index run {run.run_id}: {capture.url} length/digest differ")
