"""`archiver verify`: re-reading stored crawls against their record digests, their per-WARC
and archive-wide indexes and their manifests.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import redirect_stderr
from dataclasses import dataclass, field
from typing import Any

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.recordloader import ArcWarcRecord

from archiver.access.crawls import StoredCrawl
from archiver.access.records import (
    damage_text,
    next_record,
    printable,
    record_problem,
    warcio_said,
)
from archiver.access.transfer import stream_object
from archiver.index import ArchiveIndex, Capture


@dataclass
class VerifyReport:
    """What `archiver verify` checked and every mismatch it found."""

    crawls: int = 0
    files: int = 0
    records: int = 0
    bytes_read: int = 0
    problems: list[str] = field(default_factory=list)
    # One entry per damaged record: file (crawl/name), offset, problem.
    damaged: list[dict[str, Any]] = field(default_factory=list)

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
            "damaged": self.damaged,
        }


def _sidecar_by_offset(lines: Sequence[str]) -> dict[int, Capture]:
    found = {}
    for line in lines:
        if line.strip():
            capture = Capture.parse(line)
            found[capture.offset] = capture
    return found


def _resume_points(sidecar: Mapping[int, Capture] | None) -> list[int]:
    """Offsets where records start, from the per-WARC index: where reading resumes after damage."""
    points: set[int] = set()
    for offset, capture in (sidecar or {}).items():
        points.add(offset)
        for name in ("req_offset", "meta_offset"):
            value = capture.number(name)
            if value is not None and (name != "meta_offset" or not capture.get("meta_filename")):
                points.add(value)
    return sorted(points)


def _stream_from(index: ArchiveIndex, key: str, start: int) -> Any:
    """The stored object from byte `start` on (one ranged GET, streamed)."""
    body = index.client.get_object(Bucket=index.bucket, Key=key, Range=f"bytes={start}-")["Body"]
    index.requests += 1
    return body


# offset, length, the record (None when unreadable), what is wrong with it (None when whole).
Scanned = tuple[int, int, ArcWarcRecord | None, str | None]


def scan_records(
    index: ArchiveIndex, key: str, reader: Any, resume_at: Sequence[int]
) -> Iterator[Scanned]:
    """(offset, length, record, problem) for each record of a stored WARC, read whole with its
    digests checked (problem None when whole, record None when unreadable); after damage that
    stops the reader, reading resumes at the next record start in `resume_at`."""
    base, source = 0, reader
    while True:
        iterator = ArchiveIterator(source, check_digests=True)
        said = io.StringIO()
        try:
            while True:
                # warcio writes decompression errors to stderr itself; they go in the report.
                with redirect_stderr(said):
                    record = next_record(iterator)
                    if record is None:
                        return
                    iterator.read_to_end(record)
                offset, length = base + iterator.get_record_offset(), iterator.get_record_length()
                garbled = warcio_said(said)
                if garbled:
                    # The gzip member did not decompress: what follows cannot be trusted.
                    yield offset, length, None, garbled
                    break
                yield offset, length, record, record_problem(record)
        except (ArchiveLoadFailed, zlib.error, EOFError) as exc:
            offset = base + (iterator.offset or 0)
            yield offset, 0, None, damage_text(exc, said.getvalue())
        following = [o for o in resume_at if o > offset]
        if not following:
            return
        base = following[0]
        source = _stream_from(index, key, base)


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
        key = index.crawl_key(crawl.date, crawl.crawl_id, name)
        reader = stream_object(index, key, advance)
        counts: dict[str, int] = {}
        relative = relative_path(crawl.date, crawl.crawl_id, name)
        for offset, length, record, damage in scan_records(
            index, key, reader, _resume_points(sidecar)
        ):
            if damage is not None:
                problems.append(f"{where}@{offset}: damaged record: {damage}")
                report.damaged.append({"file": where, "offset": offset, "problem": damage})
            if record is None:
                if sidecar is not None:
                    sidecar.pop(offset, None)
                continue
            rec_type = str(record.rec_type)
            counts[rec_type] = counts.get(rec_type, 0) + 1
            report.records += 1
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
        try:
            _verify_run(index, run.run_id, prefix, seen, problems)
        except (ValueError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
            problems.append(
                f"index run {run.run_id}: damaged ({printable(f'{type(exc).__name__}: {exc}')}): "
                "`archiver reindex` rebuilds the index"
            )


def _verify_run(
    index: ArchiveIndex,
    run_id: str,
    prefix: str,
    seen: Mapping[tuple[str, int], tuple[int, str | None]],
    problems: list[str],
) -> None:
    for line in index.iter_run_lines(run_id):
        if prefix not in line:
            continue
        capture = Capture.parse(line)
        if not capture.filename.startswith(prefix):
            continue
        record = seen.get((capture.filename, capture.offset))
        if record is None:
            problems.append(f"index run {run_id}: {capture.url} points at no record")
        elif record[0] != capture.length or (record[1] and capture.get("digest") != record[1]):
            problems.append(f"index run {run_id}: {capture.url} length/digest differ")
