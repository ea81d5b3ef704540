"""The rotating gzip WARC file writer (on warcio): file naming, one gzip member per record,
hashing as it writes, rotation at max_size and the rename of *.warc.gz.open once closed.

The policy decisions (file naming, rotation) are explained in docs/warc.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from warcio.recordloader import ArcWarcRecord
from warcio.warcwriter import WARCWriter
from zlib_ng import zlib_ng

from archiver.warc.exchange import (
    WARC_VERSION,
    DigestAlgorithm,
    new_record_id,
    parse_digest_algorithm,
    parse_warc_date,
)
from archiver.warc.records import build_warcinfo_record

logger = logging.getLogger(__name__)

WARC_SUFFIX = ".warc.gz"
# zlib level of each record's gzip member.  On the benchmark's news pages (bench/warc_write.py)
# level 6 compresses 1.6x as fast as warcio's 9 for files 0.5% larger.  The members are
# deflated by zlib-ng, which at level 6 needs half of zlib's CPU on those pages (1.0 against
# 2.0 ms per 104 KB page) for members 0.7% larger; any gzip reader inflates them.
GZIP_LEVEL = 6
OPEN_SUFFIX = ".open"
_PREFIX_RE = re.compile(r"[A-Za-z0-9._-]+")
_HOST_UNSAFE_RE = re.compile(r"[^A-Za-z0-9.-]")


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


def fsync_directory(directory: Path) -> None:
    """fsync a directory, so that a rename in it survives a crash."""
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
        fsync_directory(self.directory)
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
