"""Indexing one WARC: its sorted CDXJ lines, with each capture joined to the metadata record
that describes it, written as a {warc}.cdxj sidecar beside it.

docs/index-format.md describes the sidecar.  Scrapy-free.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from warcio.archiveiterator import ArchiveIterator
from warcio.utils import Digester

from archiver.index.keys import (
    CAPTURE_TYPES,
    INDEXED_TYPES,
    Capture,
    cdxj_line,
    surt_key,
    timestamp14,
)
from archiver.index.spill import RUN_LINES, SortedRuns, SpillableJoin, write_lines
from archiver.warc import ClosedWarc

logger = logging.getLogger(__name__)

SIDECAR_SUFFIX = ".cdxj"
_RE_MIME_END = re.compile(r"[;\s]")


@dataclass
class _Pending:
    rec_type: str
    record_id: str
    offset: int
    length: int
    concurrent_to: str | None
    refers_to: str | None
    # WARC-Requisite-Of of a request record: the page a requisite was fetched for.
    requisite_of: str | None = None


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
            headers.get_header("WARC-Requisite-Of") if rec_type == "request" else None,
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
                if previous.requisite_of:
                    # A page requisite: the page it was fetched for (docs/warc.md).
                    fields["page"] = previous.requisite_of
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


class _MetadataJoin(SpillableJoin):
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
        attach_metadata(fields, article, offset, length, None)
    return cdxj_line(capture.key, capture.timestamp, fields)


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
    runs = SortedRuns(workdir, run_lines)
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


def attach_metadata(
    fields: dict[str, Any],
    article: Mapping[str, str],
    offset: int,
    length: int,
    filename: str | None,
) -> None:
    """Add a metadata record's article fields, and where that record is, to a capture's."""
    fields.update(article)
    fields["meta_offset"] = str(offset)
    fields["meta_length"] = str(length)
    if filename is not None and filename != fields.get("filename"):
        fields["meta_filename"] = filename


def index_file(path: Path) -> list[Capture]:
    """index_warc over a local file, named by its base name."""
    with open(path, "rb") as fh:
        return index_warc(fh, path.name)


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
