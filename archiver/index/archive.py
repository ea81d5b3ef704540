"""CDXJ indexes: one per WARC (a sidecar file), and the archive-wide index in storage.

The archive-wide index is sorted CDXJ cut into gzip blocks, with a ZipNum secondary index
(``cluster.idx``, one line per block) in the layout pywb and Common Crawl use. It is made of
runs: each crawl publishes a run of its own, and runs are merged once there are too many.
docs/index-format.md describes the format for other tools.  Scrapy-free.
"""

from __future__ import annotations

import bisect
import contextlib
import gzip
import hashlib
import heapq
import json
import logging
import re
import secrets
import shutil
import sqlite3
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

import surt
from botocore.exceptions import BotoCoreError, ClientError
from warcio.archiveiterator import ArchiveIterator
from warcio.utils import Digester

from archiver import SOFTWARE
from archiver.spool import CrawlInfo
from archiver.storage import (
    S3Config,
    add_crawl_stored_hook,
    content_type_for,
    object_key,
)
from archiver.warc import ClosedWarc

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)

# Records a reader can replay or cite as a capture; metadata records are indexed too (as
# cdxj-indexer does) so that their title and text can be joined to the capture they describe.
CAPTURE_TYPES = ("response", "revisit", "resource")
INDEXED_TYPES = (*CAPTURE_TYPES, "metadata")
SIDECAR_SUFFIX = ".cdxj"
INDEX_DIR = "_index"
RUNS_DIR = "runs"
RUN_FILE = "run.json"
CLUSTER_FILE = "cluster.idx"
PART_PATTERN = "part-{:05d}.cdxj.gz"
INDEX_FORMAT = "cdxj-zipnum-1"
MANIFEST_NAME = "manifest.json"
# Lines per gzip block: a lookup reads one block (about 60 KB compressed at 450 bytes a line)
# and the secondary index keeps one line per block, 1/1000 of the index. Common Crawl uses
# 3000 and cdxj-indexer 300; 1000 keeps both the range read and the cluster.idx small.
BLOCK_LINES = 1000
# Lines per part file (about 70 MB compressed): parts stay far below S3's single-PUT limit.
PART_LINES = 1_000_000
# Lines a per-WARC index holds in memory before it spills a sorted run to disk: about 6 MB
# of lines at 600 bytes each.  A 1 GB WARC of news pages holds 80,000 to 100,000 lines
# (a response and a metadata record per article), which then merge from ten runs or so.
RUN_LINES = 10_000
# Keys of lines that sort after every real key of the same prefix.
_HIGH = "\U0010ffff"
_RE_MIME_END = re.compile(r"[;\s]")
_DIGITS = re.compile(r"\d")


# --- keys and lines ------------------------------------------------------------------------


def surt_key(url: str) -> str:
    """The SURT sort key of a URL (scheme and www. dropped, host reversed, query sorted)."""
    try:
        key = str(surt.surt(url))
    except Exception:
        # surt gives up on a few malformed URLs; the URL itself still sorts and matches exactly.
        return url.strip().lower()
    return key


def timestamp14(warc_date: str) -> str:
    """The 14-digit CDX timestamp (YYYYMMDDhhmmss, UTC) of a WARC-Date value."""
    digits = "".join(_DIGITS.findall(warc_date))
    if len(digits) < 14:
        raise ValueError(f"not a WARC date with seconds: {warc_date!r}")
    return digits[:14]


def timestamp_bound(value: str, *, upper: bool) -> str:
    """A 14-digit bound from a date or timestamp prefix: 2024-05 -> 20240501000000 or ...99."""
    digits = "".join(_DIGITS.findall(value))
    if not digits or len(digits) > 14 or len(digits) < 4:
        raise ValueError(f"expected a date or timestamp (YYYY[-MM[-DD[Thh:mm:ss]]]), got {value!r}")
    if upper:
        return digits + "9" * (14 - len(digits))
    # A lower bound of "2024" means its first month and day, not month 00.
    pad = "00000101000000"[len(digits) :] if len(digits) < 8 else "0" * (14 - len(digits))
    return digits + pad


def timestamp_datetime(ts: str) -> datetime:
    """The aware UTC datetime of a 14-digit timestamp."""
    return datetime.strptime(ts[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def cdxj_line(key: str, timestamp: str, fields: Mapping[str, Any]) -> str:
    """One CDXJ line, "{surt} {timestamp} {json}\\n"; JSON as cdxj-indexer writes it (ASCII)."""
    if " " in key or "\n" in key:
        raise ValueError(f"an index key cannot hold spaces or newlines: {key!r}")
    return f"{key} {timestamp} {json.dumps(dict(fields))}\n"


@dataclass(frozen=True)
class Capture:
    """One index line: sort key, timestamp and the JSON fields."""

    key: str
    timestamp: str
    fields: dict[str, Any]

    @classmethod
    def parse(cls, line: str) -> Capture:
        """Parse "{surt} {timestamp} {json}"; ValueError when the line is not CDXJ."""
        key, sep1, rest = line.rstrip("\n").partition(" ")
        timestamp, sep2, doc = rest.partition(" ")
        if not (sep1 and sep2 and doc.startswith("{")):
            raise ValueError(f"not a CDXJ line: {line[:200]!r}")
        fields = json.loads(doc)
        if not isinstance(fields, dict):
            raise ValueError(f"not a CDXJ line: {line[:200]!r}")
        return cls(key, timestamp, fields)

    @property
    def line(self) -> str:
        """The CDXJ line, newline included."""
        return cdxj_line(self.key, self.timestamp, self.fields)

    def get(self, name: str) -> str | None:
        """A field as text, None when absent."""
        value = self.fields.get(name)
        return None if value is None else str(value)

    def number(self, name: str) -> int | None:
        """A numeric field (stored as text, as cdxj-indexer does), None when absent."""
        value = self.fields.get(name)
        return None if value in (None, "", "-") else int(value)

    @property
    def url(self) -> str:
        """The captured URL."""
        return str(self.fields.get("url", ""))

    @property
    def filename(self) -> str:
        """The WARC holding the record (a name, or a path relative to the storage prefix)."""
        return str(self.fields.get("filename", ""))

    @property
    def offset(self) -> int:
        """Offset of the record's gzip member in its WARC."""
        return self.number("offset") or 0

    @property
    def length(self) -> int:
        """Length of the record's gzip member."""
        return self.number("length") or 0

    @property
    def is_capture(self) -> bool:
        """True for a response, revisit or resource record (not a metadata record)."""
        return self.fields.get("type", "response") in CAPTURE_TYPES

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready view with the timestamp and key."""
        return {"urlkey": self.key, "timestamp": self.timestamp, **self.fields}


# --- indexing one WARC ----------------------------------------------------------------------


@dataclass
class _Pending:
    rec_type: str
    record_id: str
    offset: int
    length: int
    concurrent_to: str | None
    refers_to: str | None


def _mime(record: Any) -> str | None:
    if record.rec_type == "revisit":
        return "warc/revisit"
    if record.rec_type in ("response", "request") and record.http_headers is not None:
        value = record.http_headers.get_header("Content-Type")
    else:
        value = record.rec_headers.get_header("Content-Type")
    if not value:
        return None
    return _RE_MIME_END.split(value, 1)[0].strip() or None


def _payload_digest(record: Any, payload: bytes | None) -> str | None:
    value = record.rec_headers.get_header("WARC-Payload-Digest")
    if value:
        return str(value)
    if payload is None:
        return None
    # Files written by other tools may lack it; cdxj-indexer computes one the same way.
    digester = Digester("sha1")
    digester.update(payload)
    return str(digester)


def _article_fields(payload: bytes) -> dict[str, str]:
    """title and published from a metadata record's JSON document, when it has them."""
    try:
        doc = json.loads(payload)
    except ValueError:
        return {}
    if not isinstance(doc, dict):
        return {}
    out = {}
    for name in ("title", "published"):
        value = doc.get(name)
        if isinstance(value, str) and value.strip():
            out[name] = value.strip()
    return out


@dataclass
class _Entry:
    """One indexed record as the scan sees it, before metadata is joined to its response."""

    line: str
    offset: int
    # A capture's own record id; a metadata record's refers_to; "" when neither applies.
    record_id: str
    is_metadata: bool
    article: dict[str, str]
    length: int


def _scan(stream: IO[bytes], filename: str) -> Iterator[_Entry]:
    """Index entries of one (gzip) WARC stream in file order, metadata not yet joined."""
    previous: _Pending | None = None
    iterator = ArchiveIterator(stream)
    for record in iterator:
        rec_type = record.rec_type
        headers = record.rec_headers
        record_id = str(headers.get_header("WARC-Record-ID") or "")
        wanted = rec_type in INDEXED_TYPES and not (
            rec_type in ("resource", "metadata")
            and headers.get_header("Content-Type") == "application/warc-fields"
        )
        payload: bytes | None = None
        if wanted and (rec_type == "metadata" or not headers.get_header("WARC-Payload-Digest")):
            payload = record.raw_stream.read()
        iterator.read_to_end(record)
        offset, length = iterator.get_record_offset(), iterator.get_record_length()
        current = _Pending(
            rec_type,
            record_id,
            offset,
            length,
            headers.get_header("WARC-Concurrent-To"),
            headers.get_header("WARC-Refers-To"),
        )
        if wanted:
            url = str(headers.get_header("WARC-Target-URI") or "")
            fields: dict[str, Any] = {"url": url}
            mime = _mime(record)
            if mime:
                fields["mime"] = mime
            if rec_type in ("response", "revisit") and record.http_headers is not None:
                status = record.http_headers.get_statuscode()
                if status:
                    fields["status"] = str(status)
            digest = _payload_digest(record, payload)
            if digest:
                fields["digest"] = digest
            fields["length"] = str(length)
            fields["offset"] = str(offset)
            fields["filename"] = filename
            fields["record_id"] = record_id
            if rec_type != "response":
                fields["type"] = rec_type
            if (
                rec_type in CAPTURE_TYPES
                and previous is not None
                and previous.rec_type == "request"
                and previous.concurrent_to == record_id
                and previous.offset + previous.length == offset
            ):
                fields["req_offset"] = str(previous.offset)
            article: dict[str, str] = {}
            join_id = record_id
            if rec_type == "metadata":
                join_id = str(current.refers_to or "")
                if join_id:
                    fields["refers_to"] = join_id
                article = _article_fields(payload or b"")
                # Kept on the metadata line too, for a response in another file of the crawl.
                fields.update(article)
            date = str(headers.get_header("WARC-Date") or "")
            line = cdxj_line(surt_key(url), timestamp14(date), fields)
            yield _Entry(line, offset, join_id, rec_type == "metadata", article, length)
        previous = current


# (article fields, offset, length) of one metadata record, in file order per response.
_Attachment = tuple[dict[str, str], int, int]


class _SpillableJoin:
    """What the two joins below share: dicts in memory until spilled to a SQLite scratch
    file (no journal, no fsync: it is rebuilt from the WARCs if anything goes wrong)."""

    _metadata: Mapping[str, object]

    def __init__(self) -> None:
        self._db: sqlite3.Connection | None = None

    @staticmethod
    def _scratch(path: Path, *schema: str) -> sqlite3.Connection:
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA journal_mode = OFF")
        db.execute("PRAGMA synchronous = OFF")
        db.execute("BEGIN")
        for statement in schema:
            db.execute(statement)
        return db

    def finish(self) -> None:
        """End the writes (commit the SQLite transaction)."""
        if self._db is not None:
            self._db.execute("COMMIT")

    @property
    def empty(self) -> bool:
        """True when nothing refers to anything (nothing to join)."""
        if self._db is None:
            return not self._metadata
        return self._db.execute("SELECT 1 FROM metadata LIMIT 1").fetchone() is None

    def close(self) -> None:
        """Close the SQLite file, if any."""
        if self._db is not None:
            self._db.close()
            self._db = None


class _MetadataJoin(_SpillableJoin):
    """Which metadata records describe which capture: in dicts, or in SQLite once spilled.

    A capture is joined to every metadata record of the file that refers to its record id,
    in file order; when a (malformed) file repeats a record id, only the last capture
    holding it is, as the in-memory index always did.
    """

    def __init__(self) -> None:
        super().__init__()
        self._captures: dict[str, int] = {}
        self._metadata: dict[str, list[_Attachment]] = {}

    def add(self, entry: _Entry) -> None:
        """Note a capture's record id or a metadata record's attachment."""
        if not entry.record_id:
            return
        if self._db is None:
            if entry.is_metadata:
                self._metadata.setdefault(entry.record_id, []).append(
                    (entry.article, entry.offset, entry.length)
                )
            else:
                self._captures[entry.record_id] = entry.offset
        elif entry.is_metadata:
            self._db.execute(
                "INSERT INTO metadata (refers_to, article, offset, length) VALUES (?, ?, ?, ?)",
                (entry.record_id, json.dumps(entry.article), entry.offset, entry.length),
            )
        else:
            self._db.execute(
                "INSERT OR REPLACE INTO capture (record_id, offset) VALUES (?, ?)",
                (entry.record_id, entry.offset),
            )

    def spill(self, path: Path) -> None:
        """Move what is held so far into a SQLite file; later records go there too."""
        if self._db is not None:
            return
        db = self._scratch(
            path,
            "CREATE TABLE capture (record_id TEXT PRIMARY KEY, offset INTEGER)",
            "CREATE TABLE metadata (seq INTEGER PRIMARY KEY, refers_to TEXT, article TEXT,"
            " offset INTEGER, length INTEGER)",
            "CREATE INDEX metadata_refers_to ON metadata (refers_to, seq)",
        )
        db.executemany("INSERT INTO capture VALUES (?, ?)", self._captures.items())
        db.executemany(
            "INSERT INTO metadata (refers_to, article, offset, length) VALUES (?, ?, ?, ?)",
            (
                (refers_to, json.dumps(article), offset, length)
                for refers_to, attachments in self._metadata.items()
                for article, offset, length in attachments
            ),
        )
        self._captures, self._metadata = {}, {}
        self._db = db

    def attachments(self, record_id: str, offset: int) -> list[_Attachment]:
        """The metadata joined to the capture with this record id at this offset."""
        if self._db is None:
            found = self._metadata.get(record_id)
            if not found or self._captures.get(record_id) != offset:
                return []
            return found
        rows = self._db.execute(
            "SELECT article, offset, length FROM metadata WHERE refers_to = ? ORDER BY seq",
            (record_id,),
        ).fetchall()
        if not rows:
            return []
        own = self._db.execute(
            "SELECT offset FROM capture WHERE record_id = ?", (record_id,)
        ).fetchone()
        if own is None or own[0] != offset:
            return []
        return [
            (json.loads(article), meta_offset, meta_length)
            for article, meta_offset, meta_length in rows
        ]


def _joined(line: str, join: _MetadataJoin) -> str:
    """A capture line with the title, date and place of the metadata describing it."""
    capture = Capture.parse(line)
    record_id = capture.fields.get("record_id")
    if not record_id or capture.fields.get("type") == "metadata":
        return line
    attachments = join.attachments(str(record_id), capture.offset)
    if not attachments:
        return line
    fields = dict(capture.fields)
    for article, offset, length in attachments:
        _attach(fields, article, offset, length, None)
    return cdxj_line(capture.key, capture.timestamp, fields)


class _SortedRuns:
    """Lines sorted in bounded memory: with a workdir, every run_lines lines are sorted and
    spilled there as a run, and the runs are merged at the end."""

    def __init__(self, workdir: Path | None, run_lines: int) -> None:
        self.workdir = workdir
        self.run_lines = run_lines
        self.buffer: list[str] = []
        self.runs: list[Path] = []

    def add(self, line: str) -> bool:
        """Keep a line; True when the buffer is due to be spilled (see spill)."""
        self.buffer.append(line)
        return self.workdir is not None and len(self.buffer) >= self.run_lines

    def spill(self) -> None:
        """Write the buffer, sorted, as the next run."""
        assert self.workdir is not None
        self.buffer.sort()
        self.runs.append(self.workdir / f"run-{len(self.runs):05d}.cdxj")
        with open(self.runs[-1], "w", encoding="utf-8") as out:
            out.writelines(self.buffer)
        self.buffer = []

    def merged(self) -> Iterator[str]:
        """Every line kept, in order."""
        self.buffer.sort()
        with contextlib.ExitStack() as stack:
            inputs: list[Iterable[str]] = [
                stack.enter_context(open(run, encoding="utf-8")) for run in self.runs
            ]
            yield from heapq.merge(*inputs, self.buffer) if self.runs else self.buffer


def iter_index_lines(
    stream: IO[bytes],
    filename: str,
    workdir: Path | None = None,
    *,
    run_lines: int = RUN_LINES,
) -> Iterator[str]:
    """Sorted index lines of one (gzip) WARC stream: captures, plus their metadata records.

    A response gets the title and published date of the metadata record that refers to it
    in the same file, and meta_offset/meta_length pointing at that record; a request written
    right before its response is noted as req_offset (one range then covers both).

    With a workdir, memory stays bounded: past run_lines lines, sorted runs are spilled
    there and merged, and the metadata join moves to a SQLite file.  Joining never moves
    a line: lines of one file differ by the time their "offset" value ends, and the joined
    fields come after it, so runs can be sorted before the join.
    """
    join = _MetadataJoin()
    runs = _SortedRuns(workdir, run_lines)
    try:
        for entry in _scan(stream, filename):
            join.add(entry)
            if runs.add(entry.line) and workdir is not None:
                join.spill(workdir / "join.sqlite3")
                runs.spill()
        join.finish()
        plain = join.empty
        for line in runs.merged():
            yield line if plain else _joined(line, join)
    finally:
        join.close()


def index_warc(stream: IO[bytes], filename: str) -> list[Capture]:
    """Index lines of one (gzip) WARC stream, sorted and parsed, all in memory."""
    return [Capture.parse(line) for line in iter_index_lines(stream, filename)]


def _attach(
    fields: dict[str, Any],
    article: Mapping[str, str],
    offset: int,
    length: int,
    filename: str | None,
) -> None:
    fields.update(article)
    fields["meta_offset"] = str(offset)
    fields["meta_length"] = str(length)
    if filename is not None and filename != fields.get("filename"):
        fields["meta_filename"] = filename


def index_file(path: Path) -> list[Capture]:
    """index_warc over a local file, named by its base name."""
    with open(path, "rb") as fh:
        return index_warc(fh, path.name)


def write_lines(path: Path, lines: Iterable[str]) -> Path:
    """Write lines to path atomically (a .tmp file renamed; the spool never uploads .tmp)."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        out.writelines(lines)
    tmp.replace(path)
    return path


def sidecar_name(warc_name: str) -> str:
    """The per-WARC index file name: {warc name}.cdxj."""
    return warc_name + SIDECAR_SUFFIX


def write_sidecar(closed: ClosedWarc, *, run_lines: int = RUN_LINES) -> Path:
    """Index a closed WARC into {name}.cdxj beside it (a close hook for CrawlArchive).

    Sorted runs and the metadata join go to a hidden .tmp directory beside the WARC (on the
    spool's disk, never uploaded), so memory does not grow with the records per file.
    """
    path = closed.path.with_name(sidecar_name(closed.name))
    # Left by a process killed while indexing this file.
    for stale in closed.path.parent.glob(f".{path.name}.*.tmp"):
        shutil.rmtree(stale, ignore_errors=True)
    count = 0
    with (
        open(closed.path, "rb") as fh,
        tempfile.TemporaryDirectory(
            prefix=f".{path.name}.", suffix=".tmp", dir=closed.path.parent
        ) as work,
    ):

        def counted(lines: Iterator[str]) -> Iterator[str]:
            nonlocal count
            for line in lines:
                count += 1
                yield line

        write_lines(
            path, counted(iter_index_lines(fh, closed.name, Path(work), run_lines=run_lines))
        )
    logger.info("event=warc_indexed file=%s lines=%d", closed.name, count)
    return path


# --- crawl lines for the archive-wide index -------------------------------------------------


def relative_path(crawl_date: str, crawl_id: str, name: str) -> str:
    """Path of a crawl's file relative to the storage prefix: {date}/{crawl id}/{name}."""
    return object_key("", crawl_date, crawl_id, name)


class _CrawlJoin(_SpillableJoin):
    """Metadata of a crawl joined to captures across its files: in dicts, or SQLite once spilled.

    As the in-memory join always did: a capture is the last line of the crawl holding its
    record id; one already joined in its own file is left as it is; otherwise the first
    metadata line of the crawl referring to it is joined.
    """

    def __init__(self) -> None:
        super().__init__()
        self._captures: dict[str, tuple[str, int, bool]] = {}
        self._metadata: dict[str, tuple[dict[str, str], int, int, str]] = {}

    def add_capture(self, record_id: str, path: str, offset: int, joined: bool) -> None:
        """Note a capture (the last one with a record id wins)."""
        if self._db is None:
            self._captures[record_id] = (path, offset, joined)
        else:
            self._db.execute(
                "INSERT OR REPLACE INTO capture VALUES (?, ?, ?, ?)",
                (record_id, path, offset, joined),
            )

    def add_metadata(
        self, refers_to: str, article: dict[str, str], offset: int, length: int, path: str
    ) -> None:
        """Note a metadata line (the first one referring to a capture wins)."""
        if self._db is None:
            self._metadata.setdefault(refers_to, (article, offset, length, path))
        else:
            self._db.execute(
                "INSERT OR IGNORE INTO metadata VALUES (?, ?, ?, ?, ?)",
                (refers_to, json.dumps(article), offset, length, path),
            )

    def spill(self, path: Path) -> None:
        """Move what is held so far into a SQLite file; later lines go there too."""
        if self._db is not None:
            return
        db = self._scratch(
            path,
            "CREATE TABLE capture (record_id TEXT PRIMARY KEY, path TEXT, offset INTEGER,"
            " joined INTEGER)",
            "CREATE TABLE metadata (refers_to TEXT PRIMARY KEY, article TEXT, offset INTEGER,"
            " length INTEGER, path TEXT)",
        )
        db.executemany(
            "INSERT INTO capture VALUES (?, ?, ?, ?)",
            ((k, p, o, j) for k, (p, o, j) in self._captures.items()),
        )
        db.executemany(
            "INSERT INTO metadata VALUES (?, ?, ?, ?, ?)",
            ((k, json.dumps(a), o, n, p) for k, (a, o, n, p) in self._metadata.items()),
        )
        self._captures, self._metadata = {}, {}
        self._db = db

    def attachment(
        self, record_id: str, path: str, offset: int
    ) -> tuple[dict[str, str], int, int, str] | None:
        """The metadata to join to the capture at (path, offset) with this record id, if any."""
        if self._db is None:
            found = self._metadata.get(record_id)
            if found is None or self._captures.get(record_id) != (path, offset, False):
                return None
            return found
        row = self._db.execute(
            "SELECT article, offset, length, path FROM metadata WHERE refers_to = ?",
            (record_id,),
        ).fetchone()
        if row is None:
            return None
        own = self._db.execute(
            "SELECT path, offset, joined FROM capture WHERE record_id = ?", (record_id,)
        ).fetchone()
        if own is None or tuple(own) != (path, offset, 0):
            return None
        return json.loads(row[0]), int(row[1]), int(row[2]), str(row[3])


def iter_crawl_lines(
    sidecars: Iterable[tuple[str, Iterable[str]]],
    workdir: Path | None = None,
    *,
    run_lines: int = RUN_LINES,
) -> Iterator[str]:
    """A crawl's capture lines for the archive-wide index from its per-WARC lines, sorted.

    sidecars gives (path relative to the prefix, lines) per WARC.  Metadata records are
    joined to the response they refer to, also across files, and then left out.  With a
    workdir, memory stays bounded as in iter_index_lines: sorted runs of run_lines lines
    are spilled there and merged, and the join moves to a SQLite file.  The joined fields
    come after "filename" and "offset", which tell any two lines of a crawl apart, so
    joining does not move a line.
    """
    join = _CrawlJoin()
    runs = _SortedRuns(workdir, run_lines)
    try:
        for path, lines in sidecars:
            for line in lines:
                if not line.strip():
                    continue
                capture = Capture.parse(line)
                fields = dict(capture.fields)
                fields["filename"] = path
                if "meta_filename" in fields:
                    fields["meta_filename"] = str(Path(path).parent / fields["meta_filename"])
                if fields.get("type") == "metadata":
                    refers_to = str(fields.get("refers_to", ""))
                    if refers_to:
                        article: dict[str, str] = {
                            k: str(fields[k]) for k in ("title", "published") if k in fields
                        }
                        join.add_metadata(refers_to, article, capture.offset, capture.length, path)
                    continue
                record_id = fields.get("record_id")
                if record_id:
                    join.add_capture(str(record_id), path, capture.offset, "meta_offset" in fields)
                if (
                    runs.add(cdxj_line(capture.key, capture.timestamp, fields))
                    and workdir is not None
                ):
                    join.spill(workdir / "join.sqlite3")
                    runs.spill()
        join.finish()
        plain = join.empty
        for line in runs.merged():
            yield line if plain else _crawl_joined(line, join)
    finally:
        join.close()


def _crawl_joined(line: str, join: _CrawlJoin) -> str:
    capture = Capture.parse(line)
    record_id = capture.fields.get("record_id")
    if not record_id or "meta_offset" in capture.fields:
        return line
    found = join.attachment(str(record_id), capture.filename, capture.offset)
    if found is None:
        return line
    article, offset, length, path = found
    fields = dict(capture.fields)
    _attach(fields, article, offset, length, path)
    return cdxj_line(capture.key, capture.timestamp, fields)


def crawl_lines(sidecars: Iterable[tuple[str, Iterable[str]]]) -> list[Capture]:
    """iter_crawl_lines in memory, parsed."""
    return [Capture.parse(line) for line in iter_crawl_lines(sidecars)]


# --- ZipNum writing and reading ------------------------------------------------------------


@dataclass(frozen=True)
class IdxEntry:
    """One cluster.idx line: the first key of a block and where the block is."""

    first: str
    part: str
    offset: int
    length: int
    number: int

    @classmethod
    def parse(cls, line: str) -> IdxEntry:
        """Parse "{surt} {timestamp}\\t{part}\\t{offset}\\t{length}\\t{block number}"."""
        first, part, offset, length, number = line.rstrip("\n").split("\t")
        return cls(first, part, int(offset), int(length), int(number))

    @property
    def line(self) -> str:
        """The cluster.idx line, newline included."""
        return f"{self.first}\t{self.part}\t{self.offset}\t{self.length}\t{self.number}\n"


@dataclass
class PartInfo:
    """One part file of a run: name, lines, size and SHA-256."""

    name: str
    lines: int = 0
    size: int = 0
    sha256: str = ""

    def to_json(self) -> dict[str, Any]:
        """As listed in run.json."""
        return {"name": self.name, "lines": self.lines, "bytes": self.size, "sha256": self.sha256}


@dataclass
class ZipNumWritten:
    """What write_zipnum produced."""

    directory: Path
    parts: list[PartInfo] = field(default_factory=list)
    lines: int = 0
    blocks: int = 0
    first_timestamp: str | None = None
    last_timestamp: str | None = None

    @property
    def files(self) -> list[Path]:
        """The part files and cluster.idx."""
        return [self.directory / p.name for p in self.parts] + [self.directory / CLUSTER_FILE]


def gzip_block(lines: Sequence[str]) -> bytes:
    """Lines as one gzip member (a block a reader can inflate on its own)."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress("".join(lines).encode("utf-8")) + compressor.flush()


def write_zipnum(
    lines: Iterable[str],
    directory: Path,
    *,
    block_lines: int = BLOCK_LINES,
    part_lines: int = PART_LINES,
) -> ZipNumWritten:
    """Write sorted CDXJ lines as gzip blocks in part files plus cluster.idx; drops duplicates."""
    if block_lines < 1 or part_lines < block_lines:
        raise ValueError("block_lines must be >= 1 and part_lines >= block_lines")
    directory.mkdir(parents=True, exist_ok=True)
    result = ZipNumWritten(directory)
    idx = open(directory / CLUSTER_FILE, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    part_fh: IO[bytes] | None = None
    part: PartInfo | None = None
    part_hash = hashlib.sha256()
    block: list[str] = []
    previous: str | None = None

    def flush_block() -> None:
        nonlocal part_fh, part, part_hash
        if not block:
            return
        if part is None or part.lines >= part_lines:
            close_part()
            part = PartInfo(PART_PATTERN.format(len(result.parts)))
            part_fh = open(directory / part.name, "wb")  # noqa: SIM115 - closed in close_part
            part_hash = hashlib.sha256()
        assert part_fh is not None
        data = gzip_block(block)
        first = block[0].split(" ", 2)
        entry = IdxEntry(f"{first[0]} {first[1]}", part.name, part.size, len(data), result.blocks)
        part_fh.write(data)
        part_hash.update(data)
        part.size += len(data)
        part.lines += len(block)
        idx.write(entry.line)
        result.blocks += 1
        block.clear()

    def close_part() -> None:
        nonlocal part_fh, part
        if part_fh is not None and part is not None:
            part_fh.close()
            part.sha256 = part_hash.hexdigest()
            result.parts.append(part)
        part_fh, part = None, None

    try:
        for line in lines:
            if not line.endswith("\n"):
                line += "\n"
            if line == previous:
                continue
            if previous is not None and line < previous:
                raise ValueError("index lines are not sorted")
            previous = line
            ts = line.split(" ", 2)[1]
            if result.first_timestamp is None or ts < result.first_timestamp:
                result.first_timestamp = ts
            if result.last_timestamp is None or ts > result.last_timestamp:
                result.last_timestamp = ts
            block.append(line)
            result.lines += 1
            if len(block) >= block_lines:
                flush_block()
        flush_block()
        close_part()
    finally:
        idx.close()
        if part_fh is not None:
            part_fh.close()
    return result


@dataclass(frozen=True)
class KeyRange:
    """Index lines whose text lies in [start, end), further narrowed by a predicate on the key."""

    start: str
    end: str
    accept: Callable[[str], bool] | None = None

    def matches(self, capture: Capture) -> bool:
        """True when the capture's line falls in the range."""
        line = f"{capture.key} {capture.timestamp}"
        if not self.start <= line < self.end:
            return False
        return self.accept is None or self.accept(capture.key)


MATCH_TYPES = ("exact", "prefix", "host", "domain")


def key_range(url: str, match: str = "exact") -> KeyRange:
    """The range of index lines that match a URL (exact, prefix, host or domain match)."""
    if match not in MATCH_TYPES:
        raise ValueError(f"match must be one of {', '.join(MATCH_TYPES)}, not {match!r}")
    if match in ("host", "domain") and "://" not in url:
        url = "http://" + url
    key = surt_key(url if "://" in url else "http://" + url)
    if match == "exact":
        return KeyRange(key + " ", key + "!")
    host = key.split(")", 1)[0]
    if match == "prefix":
        # The key as text: "http://example.com/news" matches /news, /news/, /news-archive...
        return KeyRange(key, key + _HIGH)
    if match == "host":
        if ":" in host:
            return KeyRange(host + ")", host + ")" + _HIGH)
        # Without a port, the host on any port: "host)" and "host:port)" sort in [host), host;).
        return KeyRange(host + ")", host + ";", lambda k: k.startswith((host + ")", host + ":")))
    domain = host.split(":", 1)[0]
    # The domain and its subdomains, on any port: "dom)", "dom,sub" and "dom:port" all sort in
    # [dom), dom;); the predicate drops other domains sharing the text ("dom-other").
    return KeyRange(
        domain + ")",
        domain + ";",
        lambda k: k.startswith((domain + ")", domain + ",", domain + ":")),
    )


class ClusterIndex:
    """A parsed cluster.idx: which blocks can hold the lines of a key range."""

    def __init__(self, entries: Sequence[IdxEntry]) -> None:
        self.entries = list(entries)
        self._firsts = [e.first for e in self.entries]

    @classmethod
    def parse(cls, text: str) -> ClusterIndex:
        """Parse the text of a cluster.idx file."""
        return cls([IdxEntry.parse(line) for line in text.splitlines() if line.strip()])

    def blocks(self, rng: KeyRange) -> list[IdxEntry]:
        """The blocks whose lines may fall in the range, in order."""
        if not self.entries:
            return []
        # The block before the first one starting at or after `start` may hold the range's start.
        first = max(0, bisect.bisect_left(self._firsts, rng.start) - 1)
        last = bisect.bisect_left(self._firsts, rng.end)
        return self.entries[first:last]


@dataclass(frozen=True)
class ByteRange:
    """A contiguous span of one part file covering one or more blocks."""

    part: str
    offset: int
    length: int


def merge_ranges(blocks: Sequence[IdxEntry]) -> list[ByteRange]:
    """Adjacent blocks of one part joined, so each span is read with one range request."""
    spans: list[ByteRange] = []
    for block in blocks:
        last = spans[-1] if spans else None
        if (
            last is not None
            and last.part == block.part
            and last.offset + last.length == block.offset
        ):
            spans[-1] = ByteRange(last.part, last.offset, last.length + block.length)
        else:
            spans.append(ByteRange(block.part, block.offset, block.length))
    return spans


def block_lines(data: bytes) -> list[str]:
    """The lines of one or more concatenated gzip blocks."""
    return gzip.decompress(data).decode("utf-8").splitlines(keepends=True)


def search_zipnum(
    cluster: ClusterIndex, rng: KeyRange, read: Callable[[ByteRange], bytes]
) -> Iterator[Capture]:
    """Captures in the range, reading only the blocks that can hold them."""
    for span in merge_ranges(cluster.blocks(rng)):
        for line in block_lines(read(span)):
            head = line[: line.find(" {")] if " {" in line else line
            if head < rng.start:
                continue
            if head >= rng.end:
                return
            capture = Capture.parse(line)
            if rng.accept is None or rng.accept(capture.key):
                yield capture


def merge_sorted_files(paths: Sequence[Path], workdir: Path, fan_in: int = 128) -> Path | None:
    """Merge sorted text files into one (in passes of fan_in files, to stay within fd limits)."""
    current = list(paths)
    level = 0
    while len(current) > 1:
        merged = []
        for start in range(0, len(current), fan_in):
            out = workdir / f"merge-{level}-{start}.cdxj"
            with contextlib.ExitStack() as stack:
                inputs = [
                    stack.enter_context(open(p, encoding="utf-8"))
                    for p in current[start : start + fan_in]
                ]
                with open(out, "w", encoding="utf-8") as fh:
                    fh.writelines(heapq.merge(*inputs))
            merged.append(out)
        current = merged
        level += 1
    return current[0] if current else None


@contextlib.contextmanager
def _empty() -> Iterator[Iterator[str]]:
    yield iter(())


# --- the archive-wide index in storage -------------------------------------------------------


def runs_to_merge(sizes: Sequence[int], max_runs: int) -> list[int]:
    """Indexes of the runs to merge into one, smallest first (empty: leave them).

    Like a binary counter: the smallest runs are merged once together they are at least as
    large as the next one, so equal crawls give runs of 1, 2, 4, 8... crawls, at most about
    log2(crawls) runs, and each line is rewritten about log2(crawls) times. Past max_runs
    the smallest are merged whatever their sizes.
    """
    order = sorted(range(len(sizes)), key=lambda i: (sizes[i], i))
    count, total = 1, sizes[order[0]] if order else 0
    while count < len(order) and total >= sizes[order[count]]:
        total += sizes[order[count]]
        count += 1
    if max_runs >= 1 and len(order) > max_runs:
        count = max(count, len(order) - max_runs + 1)
    return order[:count] if count >= 2 else []


def index_root(prefix: str) -> str:
    """Key prefix of the archive-wide index: {prefix}/_index."""
    segments = [s for s in prefix.strip("/").split("/") if s]
    return "/".join([*segments, INDEX_DIR])


def storage_key(prefix: str, relative: str) -> str:
    """The key of a path relative to the storage prefix."""
    segments = [s for s in prefix.strip("/").split("/") if s]
    return "/".join([*segments, relative])


@dataclass
class RunInfo:
    """A committed run of the archive-wide index (its run.json)."""

    run_id: str
    doc: dict[str, Any]

    @property
    def lines(self) -> int:
        """Index lines in the run."""
        return int(self.doc.get("lines", 0))

    @property
    def crawls(self) -> list[str]:
        """Crawl ids whose captures the run holds."""
        return [str(c) for c in self.doc.get("crawls", [])]

    @property
    def replaces(self) -> list[str]:
        """Runs this one was merged from."""
        return [str(c) for c in self.doc.get("replaces", [])]


def _is_missing(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code", "")) in {"404", "NoSuchKey", "NotFound"}


class ArchiveIndex:
    """The archive-wide index of one bucket and prefix: query, publish crawls, merge runs."""

    def __init__(self, client: S3Client, bucket: str, prefix: str) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.root = index_root(prefix)
        self.requests = 0
        self.bytes_read = 0

    @classmethod
    def for_config(cls, cfg: S3Config, client: S3Client) -> ArchiveIndex:
        """The index of the bucket and prefix an S3Config names."""
        return cls(client, cfg.bucket, cfg.prefix)

    # --- storage helpers ------------------------------------------------------------
    def run_key(self, run_id: str, name: str) -> str:
        """Key of one file of a run."""
        return f"{self.root}/{RUNS_DIR}/{run_id}/{name}"

    def get(self, key: str, byte_range: tuple[int, int] | None = None) -> bytes:
        """An object, or the bytes [offset, offset+length) of it with one Range request."""
        extra: dict[str, Any] = {}
        if byte_range is not None:
            offset, length = byte_range
            extra["Range"] = f"bytes={offset}-{offset + length - 1}"
        body = self.client.get_object(Bucket=self.bucket, Key=key, **extra)["Body"].read()
        self.requests += 1
        self.bytes_read += len(body)
        return body

    def get_optional(self, key: str) -> bytes | None:
        """An object, None when there is none at the key."""
        try:
            return self.get(key)
        except ClientError as exc:
            if _is_missing(exc):
                return None
            raise

    def exists(self, key: str) -> bool:
        """Whether an object is stored at the key (one HEAD)."""
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _is_missing(exc):
                return False
            raise
        finally:
            self.requests += 1
        return True

    def stream_lines(self, key: str) -> Iterator[str] | None:
        """The lines of a text object as they arrive (None when there is none at the key)."""
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        except ClientError as exc:
            if _is_missing(exc):
                return None
            raise
        self.requests += 1

        def lines() -> Iterator[str]:
            with contextlib.closing(body):
                for raw in body.iter_lines(chunk_size=65536, keepends=True):
                    self.bytes_read += len(raw)
                    yield raw.decode("utf-8")

        return lines()

    def list_keys(self, prefix: str, delimiter: str | None = None) -> Iterator[str]:
        """Keys (or common prefixes, with a delimiter) under a prefix."""
        paginator = self.client.get_paginator("list_objects_v2")
        args: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        if delimiter:
            args["Delimiter"] = delimiter
        for page in paginator.paginate(**args):
            self.requests += 1
            if delimiter:
                for common in page.get("CommonPrefixes", []):
                    yield str(common["Prefix"])
            for obj in page.get("Contents", []):
                yield str(obj["Key"])

    def put_file(self, key: str, path: Path) -> None:
        """Upload a local file with a server-checked SHA-256."""
        self.client.upload_file(
            str(path),
            self.bucket,
            key,
            ExtraArgs={"ChecksumAlgorithm": "SHA256", "ContentType": content_type_for(path.name)},
        )

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        """Store a small object with a server-checked SHA-256."""
        self.client.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=data,
            ContentType=content_type,
            ChecksumAlgorithm="SHA256",
        )

    # --- runs --------------------------------------------------------------------------
    def run_ids(self) -> list[str]:
        """Ids of committed runs (those whose run.json exists), from one listing."""
        base = f"{self.root}/{RUNS_DIR}/"
        committed = []
        for key in self.list_keys(base):
            run_id, _, name = key[len(base) :].partition("/")
            if name == RUN_FILE:
                committed.append(run_id)
        return committed

    def runs(self) -> list[RunInfo]:
        """Committed runs with their run.json, minus runs a merged run replaces."""
        runs = []
        for run_id in self.run_ids():
            raw = self.get_optional(self.run_key(run_id, RUN_FILE))
            if raw is not None:
                runs.append(RunInfo(run_id, json.loads(raw)))
        replaced = {r for run in runs for r in run.replaces}
        return [run for run in runs if run.run_id not in replaced]

    def cluster(self, run_id: str) -> ClusterIndex:
        """A run's secondary index."""
        return ClusterIndex.parse(self.get(self.run_key(run_id, CLUSTER_FILE)).decode("utf-8"))

    def query(self, rng: KeyRange, runs: Sequence[RunInfo] | None = None) -> list[Capture]:
        """Captures in the range from every run, sorted, each record once.

        Without `runs`, one listing finds the runs (their run.json is not read): a run a merge
        replaced but did not delete yet only repeats records, which are dropped here.
        """
        found: dict[tuple[str, int], Capture] = {}
        run_ids = self.run_ids() if runs is None else [r.run_id for r in runs]
        for run_id in run_ids:
            cluster = self.cluster(run_id)

            def read(span: ByteRange, run_id: str = run_id) -> bytes:
                return self.get(self.run_key(run_id, span.part), (span.offset, span.length))

            for capture in search_zipnum(cluster, rng, read):
                # A merge that stopped before deleting its inputs leaves a record in two runs.
                found.setdefault((capture.filename, capture.offset), capture)
        return sorted(found.values(), key=lambda c: c.line)

    def iter_run_lines(self, run_id: str) -> Iterator[str]:
        """Every line of a run, streamed part by part."""
        doc = json.loads(self.get(self.run_key(run_id, RUN_FILE)))
        for part in doc.get("parts", []):
            body = self.client.get_object(
                Bucket=self.bucket, Key=self.run_key(run_id, str(part["name"]))
            )["Body"]
            self.requests += 1
            with gzip.open(body, "rt", encoding="utf-8") as lines:
                yield from lines

    def publish_run(
        self,
        run_id: str,
        lines: Iterable[str],
        *,
        crawls: Sequence[str],
        replaces: Sequence[str] = (),
        block_lines: int = BLOCK_LINES,
        part_lines: int = PART_LINES,
    ) -> RunInfo:
        """Write sorted lines as a run; run.json goes up last and commits it."""
        with tempfile.TemporaryDirectory(prefix="archiver-index-") as tmp:
            written = write_zipnum(lines, Path(tmp), block_lines=block_lines, part_lines=part_lines)
            for path in written.files:
                self.put_file(self.run_key(run_id, path.name), path)
        doc = {
            "format": INDEX_FORMAT,
            "run_id": run_id,
            "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "software": SOFTWARE,
            "crawls": sorted(set(crawls)),
            "replaces": list(replaces),
            "lines": written.lines,
            "blocks": written.blocks,
            "block_lines": block_lines,
            "parts": [p.to_json() for p in written.parts],
            "first_timestamp": written.first_timestamp,
            "last_timestamp": written.last_timestamp,
        }
        self.put_bytes(
            self.run_key(run_id, RUN_FILE),
            (json.dumps(doc, indent=2) + "\n").encode("utf-8"),
            "application/json",
        )
        logger.info(
            "event=index_run_published run=%s lines=%d crawls=%d replaces=%d",
            run_id,
            written.lines,
            len(set(crawls)),
            len(replaces),
        )
        return RunInfo(run_id, doc)

    def delete_run(self, run_id: str) -> None:
        """Remove a run: run.json first, so readers never see a run with missing parts."""
        keys = list(self.list_keys(f"{self.root}/{RUNS_DIR}/{run_id}/"))
        marker = self.run_key(run_id, RUN_FILE)
        for key in sorted(keys, key=lambda k: k != marker):
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def indexed_crawls(self, runs: Sequence[RunInfo] | None = None) -> set[str]:
        """Crawl ids that some run covers."""
        return {c for run in (self.runs() if runs is None else runs) for c in run.crawls}

    # --- crawls ------------------------------------------------------------------------
    def crawl_key(self, crawl_date: str, crawl_id: str, name: str) -> str:
        """Key of one file of a crawl."""
        return storage_key(self.prefix, relative_path(crawl_date, crawl_id, name))

    def read_manifest(self, crawl_date: str, crawl_id: str) -> dict[str, Any] | None:
        """A crawl's manifest.json from storage; None while the crawl is not complete there."""
        raw = self.get_optional(self.crawl_key(crawl_date, crawl_id, MANIFEST_NAME))
        if raw is None:
            return None
        doc = json.loads(raw)
        return doc if isinstance(doc, dict) else None

    def crawl_sidecars(
        self, crawl_date: str, crawl_id: str, manifest: Mapping[str, Any], *, reindex: bool = False
    ) -> Iterator[tuple[str, Iterable[str]]]:
        """(relative WARC path, index lines) for each WARC of a crawl.

        Uses the stored {warc}.cdxj; a WARC without one (or all, with reindex) is read from
        storage and indexed, and the missing sidecar is stored.
        """
        for entry in manifest.get("files", []):
            name = str(entry["name"])
            relative = relative_path(crawl_date, crawl_id, name)
            sidecar_key = self.crawl_key(crawl_date, crawl_id, sidecar_name(name))
            stored = None if reindex else self.stream_lines(sidecar_key)
            if stored is not None:
                yield relative, stored
                continue
            # Indexed as it streams in, to a local file: memory does not follow the WARC's size.
            with tempfile.TemporaryDirectory(prefix="archiver-index-") as tmp:
                work = Path(tmp)
                body = self.client.get_object(
                    Bucket=self.bucket, Key=storage_key(self.prefix, relative)
                )["Body"]
                self.requests += 1
                path = write_lines(
                    work / sidecar_name(name),
                    iter_index_lines(cast(IO[bytes], body), name, work),
                )
                if not self.exists(sidecar_key):
                    self.put_file(sidecar_key, path)
                with open(path, encoding="utf-8") as lines:
                    yield relative, lines

    def index_stored_warc(self, key: str, name: str) -> list[Capture]:
        """Stream a stored WARC through the indexer (one GET, nothing written to disk)."""
        body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        self.requests += 1
        return index_warc(cast(IO[bytes], body), name)

    def publish_crawl(
        self, crawl_date: str, crawl_id: str, *, force: bool = False
    ) -> RunInfo | None:
        """Add a crawl that is complete in storage to the archive-wide index, once.

        Returns the new run, or None when the crawl has no manifest in storage yet or a run
        already covers it.
        """
        runs = self.runs()
        if not force and crawl_id in self.indexed_crawls(runs):
            logger.info("event=index_crawl_present crawl=%s", crawl_id)
            return None
        manifest = self.read_manifest(crawl_date, crawl_id)
        if manifest is None:
            logger.info("event=index_crawl_incomplete crawl=%s: no manifest in storage", crawl_id)
            return None
        with tempfile.TemporaryDirectory(prefix="archiver-index-") as tmp:
            lines = iter_crawl_lines(self.crawl_sidecars(crawl_date, crawl_id, manifest), Path(tmp))
            return self.publish_run(f"c-{crawl_id}", lines, crawls=[crawl_id])

    def compact(self, max_runs: int) -> RunInfo | None:
        """Merge runs as runs_to_merge chooses (None when nothing is merged)."""
        self.remove_replaced()
        runs = self.runs()
        chosen = runs_to_merge([r.lines for r in runs], max_runs)
        if not chosen:
            return None
        return self.merge([runs[i] for i in chosen])

    def merge(self, runs: Sequence[RunInfo]) -> RunInfo:
        """One run holding the lines of several, committed before they are deleted."""
        run_id = f"m-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
        merged = heapq.merge(*(self.iter_run_lines(r.run_id) for r in runs))
        info = self.publish_run(
            run_id,
            merged,
            crawls=[c for r in runs for c in r.crawls],
            replaces=[r.run_id for r in runs],
        )
        for run in runs:
            self.delete_run(run.run_id)
        return info

    def remove_replaced(self) -> None:
        """Delete runs a committed merge replaced but did not get to delete (a crash, say)."""
        base = f"{self.root}/{RUNS_DIR}/"
        present = {key[len(base) :].split("/", 1)[0] for key in self.list_keys(base)}
        for run_id in sorted(present):
            raw = self.get_optional(self.run_key(run_id, RUN_FILE))
            if raw is None:
                continue
            for old in json.loads(raw).get("replaces", []):
                if old in present:
                    logger.info("event=index_run_removed run=%s replaced_by=%s", old, run_id)
                    self.delete_run(str(old))
                    present.discard(old)

    def list_crawls(self) -> list[tuple[str, str]]:
        """(crawl date, crawl id) of every crawl directory in storage, in key order."""
        base = storage_key(self.prefix, "")
        found = []
        for date_prefix in self.list_keys(base, delimiter="/"):
            date = date_prefix[len(base) :].strip("/")
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
                continue
            for crawl_prefix in self.list_keys(date_prefix, delimiter="/"):
                found.append((date, crawl_prefix[len(date_prefix) :].strip("/")))
        return found

    def rebuild(
        self,
        *,
        reindex_warcs: bool = True,
        progress: Callable[[str], None] | None = None,
    ) -> RunInfo | None:
        """Build the whole index again from the crawls in storage, then drop every older run."""
        old = self.runs()
        crawls: list[str] = []
        with tempfile.TemporaryDirectory(prefix="archiver-reindex-") as tmp:
            work = Path(tmp)
            sorted_files: list[Path] = []
            for crawl_date, crawl_id in self.list_crawls():
                manifest = self.read_manifest(crawl_date, crawl_id)
                if manifest is None:
                    logger.warning("event=reindex_skip crawl=%s reason=no-manifest", crawl_id)
                    continue
                if progress is not None:
                    progress(crawl_id)
                sidecars = self.crawl_sidecars(
                    crawl_date, crawl_id, manifest, reindex=reindex_warcs
                )
                # One sorted file per crawl, merged at the end: memory holds one crawl at a time.
                path = work / f"crawl-{len(sorted_files):06d}.cdxj"
                runs = work / f"crawl-{len(sorted_files):06d}.runs"
                runs.mkdir()
                write_lines(path, iter_crawl_lines(sidecars, runs))
                shutil.rmtree(runs)
                sorted_files.append(path)
                crawls.append(crawl_id)
            merged = merge_sorted_files(sorted_files, work)
            run_id = f"r-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
            with open(merged, encoding="utf-8") if merged else _empty() as lines:
                info = self.publish_run(
                    run_id, lines, crawls=crawls, replaces=[r.run_id for r in old]
                )
        for run in old:
            self.delete_run(run.run_id)
        return info


def update_after_crawl(
    cfg: S3Config, client: S3Client, crawl: CrawlInfo, *, max_runs: int
) -> RunInfo | None:
    """Publish a crawl stored in full, then merge runs if there are too many."""
    index = ArchiveIndex.for_config(cfg, client)
    run = index.publish_crawl(crawl.crawl_date, crawl.crawl_id)
    index.compact(max_runs)
    return run


# Runs allowed before the smallest are merged when `archiver upload` stores a crawl; the
# extension passes ARCHIVER_INDEX_MAX_RUNS, this is its default.
DEFAULT_MAX_RUNS = 16


def _crawl_stored(cfg: S3Config, client: S3Client, crawl: CrawlInfo) -> None:
    """Storage hook: a crawl indexed while it ran (it has .cdxj sidecars) joins the index."""
    index = ArchiveIndex.for_config(cfg, client)
    try:
        manifest = index.read_manifest(crawl.crawl_date, crawl.crawl_id)
    except (ValueError, ClientError, BotoCoreError) as exc:
        logger.debug("event=index_hook_skip crawl=%s error=%r", crawl.crawl_id, exc)
        return
    files = manifest.get("files", []) if manifest else []
    if not any(
        str(s).endswith(SIDECAR_SUFFIX)
        for f in files
        if isinstance(f, dict)
        for s in f.get("sidecars", [])
    ):
        # Crawls run without the index extension stay out until `archiver reindex`.
        return
    update_after_crawl(cfg, client, crawl, max_runs=DEFAULT_MAX_RUNS)


# Registered at import: archiver upload (whose command modules import this one) and the
# crawl's leftover uploads then bring the archive-wide index current as crawls land.
add_crawl_stored_hook(_crawl_stored)
