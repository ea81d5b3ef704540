"""Writing articles.parquet: a crawl's items joined to where their captures are in its WARCs.

The items (items.jsonl, one cleaned article per line) name the response record each article
was cleaned from; the CDXJ sidecars give that record's WARC file, offset, length and payload
digest. Memory holds one small tuple per article and the locations of those records only:
the text is read back from items.jsonl, in sorted order, one row group at a time.

A crawl uploads and deletes each WARC and sidecar as it closes, so the archive keeps the
sidecars' capture lines in a hidden journal in the crawl directory (keep_capture_lines),
which the build reads with whatever sidecars are still there.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.parquet as pq

from archiver.dataset.schema import (
    ARTICLE_SCHEMA,
    ARTICLES_FILE,
    ROW_GROUP_SIZE,
    site_of,
    writer_options,
)
from archiver.index import Capture, timestamp_datetime
from archiver.spool import CrawlDir

logger = logging.getLogger(__name__)

ITEMS_FILE = "items.jsonl"
SIDECAR_SUFFIX = ".cdxj"
# Capture lines of the crawl's sidecars, kept as they close (a leading dot: never uploaded).
JOURNAL_NAME = ".captures.cdxj"
PART_SUFFIX = ".part"
_INT32_MAX = 2**31 - 1


@dataclass(frozen=True)
class _Location:
    filename: str
    offset: int
    length: int
    digest: str | None
    # The line's 14-digit timestamp (seconds): the capture time when the item has none.
    timestamp: str

    @property
    def captured(self) -> datetime:
        """The capture time the index line gives."""
        return timestamp_datetime(self.timestamp)


@dataclass(frozen=True)
class _Pending:
    """One article as the first pass sees it: enough to sort, and where its line is."""

    line_offset: int
    record_id: str
    site: str
    warc_date: datetime | None


def keep_capture_lines(crawl_root: Path, sidecars: Sequence[Path]) -> None:
    """Append the response lines of these sidecars to the crawl's journal (a close hook's files)."""
    lines: list[str] = []
    for path in sidecars:
        if not path.name.endswith(SIDECAR_SUFFIX) or not path.exists():
            continue
        with open(path, encoding="utf-8") as fh:
            lines.extend(line for line in fh if '"record_id"' in line and '"metadata"' not in line)
    if not lines:
        return
    with open(crawl_root / JOURNAL_NAME, "a", encoding="utf-8") as out:
        out.writelines(lines)


def discard_journal(crawl_root: Path) -> None:
    """Remove the journal once the crawl's dataset is built (the directory can then drain)."""
    (crawl_root / JOURNAL_NAME).unlink(missing_ok=True)


def _parse_date(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _site(url: str) -> str:
    try:
        host = urlsplit(url).netloc.rsplit("@", 1)[-1]
    except ValueError:
        return ""
    return site_of(host)


def _scan_items(items: IO[bytes]) -> Iterator[_Pending]:
    """Articles of an items.jsonl, with the byte offset of each line."""
    offset = 0
    for raw in items:
        start, offset = offset, offset + len(raw)
        try:
            doc = json.loads(raw)
        except ValueError:
            logger.warning("event=dataset_item_unreadable offset=%d", start)
            continue
        if not isinstance(doc, dict):
            continue
        record_id = doc.get("warc_record_id")
        url = doc.get("url")
        if not isinstance(record_id, str) or not isinstance(url, str) or not doc.get("body"):
            continue
        yield _Pending(start, record_id, _site(url), _parse_date(doc.get("warc_date")))


def _locations(lines: Iterable[str], wanted: set[str]) -> dict[str, _Location]:
    """Where the wanted records are, from CDXJ lines (first line of each record id wins)."""
    found: dict[str, _Location] = {}
    for line in lines:
        if not line.strip():
            continue
        try:
            capture = Capture.parse(line)
        except ValueError:
            continue
        record_id = capture.get("record_id")
        if record_id is None or record_id not in wanted or record_id in found:
            continue
        if not capture.is_capture:
            continue
        found[record_id] = _Location(
            capture.filename,
            capture.offset,
            capture.length,
            capture.get("digest"),
            capture.timestamp,
        )
    return found


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _authors(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [a for a in value if isinstance(a, str) and a]


def _row(
    doc: dict[str, Any], site: str, captured: datetime, where: _Location, crawl_id: str, key: str
) -> dict[str, Any]:
    words = doc.get("word_count")
    text = str(doc.get("body") or "")
    return {
        "url": str(doc["url"]),
        "canonical_url": _text(doc.get("canonical_url")),
        "site": site,
        "title": _text(doc.get("title")),
        "authors": _authors(doc.get("authors")),
        "published": _text(doc.get("published")),
        "modified": _text(doc.get("modified")),
        "language": _text(doc.get("language")),
        "captured": captured,
        "crawl_id": crawl_id,
        "text": text,
        "word_count": min(words if isinstance(words, int) and words >= 0 else 0, _INT32_MAX),
        "warc_key": key,
        "warc_offset": where.offset,
        "warc_length": where.length,
        "record_id": str(doc["warc_record_id"]),
        "payload_digest": where.digest,
    }


def write_dataset(
    target: Path,
    items: Path,
    lines: Iterable[str],
    *,
    crawl_id: str,
    key_of: Callable[[str], str],
    row_group_size: int = ROW_GROUP_SIZE,
) -> int:
    """Write articles.parquet at `target` (through target.part); returns its rows, 0 = no file."""
    with open(items, "rb") as fh:
        pending: list[_Pending] = []
        seen: set[str] = set()
        for item in _scan_items(fh):
            # A resumed crawl may list an article twice; its first line is kept.
            if item.record_id not in seen:
                seen.add(item.record_id)
                pending.append(item)
    where = _locations(lines, seen)
    missing = sum(1 for p in pending if p.record_id not in where)
    if missing:
        logger.warning(
            "event=dataset_capture_unknown crawl=%s articles=%d: no index line for their record",
            crawl_id,
            missing,
        )
    order = sorted(
        (
            (p.site, p.warc_date or where[p.record_id].captured, p.line_offset, p.record_id)
            for p in pending
            if p.record_id in where
        ),
    )
    part = target.with_name(target.name + PART_SUFFIX)
    if not order:
        part.unlink(missing_ok=True)
        return 0
    keys: dict[str, str] = {}
    try:
        with (
            open(items, "rb") as fh,
            pq.ParquetWriter(part, ARTICLE_SCHEMA, **writer_options()) as out,
        ):
            for start in range(0, len(order), row_group_size):
                rows = []
                for site, captured, line_offset, record_id in order[start : start + row_group_size]:
                    fh.seek(line_offset)
                    doc = json.loads(fh.readline())
                    loc = where[record_id]
                    if loc.filename not in keys:
                        keys[loc.filename] = key_of(loc.filename)
                    rows.append(_row(doc, site, captured, loc, crawl_id, keys[loc.filename]))
                table = pa.Table.from_pylist(rows, schema=ARTICLE_SCHEMA)
                out.write_table(table, row_group_size=row_group_size)
        os.replace(part, target)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    logger.info("event=dataset_written crawl=%s articles=%d file=%s", crawl_id, len(order), target)
    return len(order)


def _crawl_lines(root: Path) -> Iterator[str]:
    """CDXJ lines of the sidecars still in a crawl directory, then of its journal."""
    paths = sorted(
        p for p in root.iterdir() if p.name.endswith(SIDECAR_SUFFIX) and p.name != JOURNAL_NAME
    )
    journal = root / JOURNAL_NAME
    if journal.exists():
        paths.append(journal)
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            yield from fh


def build_articles(crawl_dir: Path | CrawlDir, key_of: Callable[[str], str]) -> Path | None:
    """Write articles.parquet into a crawl directory from its items.jsonl and CDXJ indexes.

    `key_of` gives the storage key of one of the crawl's WARCs by file name. Returns the
    file, or None when the crawl has no article (no items, or none whose capture is indexed).
    """
    crawl = crawl_dir if isinstance(crawl_dir, CrawlDir) else CrawlDir.load(crawl_dir)
    items = crawl.root / ITEMS_FILE
    if not items.exists():
        return None
    target = crawl.root / ARTICLES_FILE
    rows = write_dataset(
        target, items, _crawl_lines(crawl.root), crawl_id=crawl.info.crawl_id, key_of=key_of
    )
    return target if rows else None
