"""Crawl lines for the archive-wide index: a crawl's per-WARC lines with their paths made
relative to the storage prefix, metadata joined to captures across files, sorted.

Scrapy-free.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from archiver.index.keys import Capture, cdxj_line
from archiver.index.sidecar import attach_metadata
from archiver.index.spill import RUN_LINES, SortedRuns, SpillableJoin
from archiver.storage import object_key


def relative_path(crawl_date: str, crawl_id: str, name: str) -> str:
    """Path of a crawl's file relative to the storage prefix: {date}/{crawl id}/{name}."""
    return object_key("", crawl_date, crawl_id, name)


class _CrawlJoin(SpillableJoin):
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
    runs = SortedRuns(workdir, run_lines)
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
    attach_metadata(fields, article, offset, length, path)
    return cdxj_line(capture.key, capture.timestamp, fields)


def crawl_lines(sidecars: Iterable[tuple[str, Iterable[str]]]) -> list[Capture]:
    """iter_crawl_lines in memory, parsed."""
    return [Capture.parse(line) for line in iter_crawl_lines(sidecars)]
