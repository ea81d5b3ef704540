"""Downloads of a result set: its rows as CSV or Parquet, its captures as a WACZ, and one
WARC record by a single range read.

Rows are the hits of the current query, all pages, up to a cap; the WACZ is cut from the
stored WARCs by the slice export (archiver.access.wacz.export_slice), so record ids and
digests stay citable.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from archiver.access import Slice, export_slice, find
from archiver.access.records import warc_key
from archiver.access.slices import add_captures, add_page_needs, add_requisites
from archiver.access.wacz import WaczReport
from archiver.index import ArchiveIndex, Capture
from archiver.search import Hit, SearchQuery, SearchResults
from archiver.search.model import MAX_PER_PAGE

# The columns of a CSV or Parquet download, in this order (docs/for-researchers.md); the
# Parquet file adds TEXT_COLUMN, the clean text.
ROW_COLUMNS = (
    "url",
    "title",
    "site",
    "authors",
    "published",
    "captured",
    "language",
    "crawl_id",
    "warc_key",
    "warc_offset",
    "warc_length",
    "record_id",
    "payload_digest",
)
TEXT_COLUMN = "text"
# Spreadsheets run cells that start with these as formulas: such CSV cells get a leading '.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def iter_hits(
    search: Callable[[SearchQuery], SearchResults],
    query: SearchQuery,
    cap: int,
    *,
    with_text: bool = False,
) -> Iterator[Hit]:
    """Every hit of query, page after page, at most cap of them (with their text if asked)."""
    page, given = 1, 0
    while given < cap:
        results = search(replace(query, page=page, per_page=MAX_PER_PAGE, with_text=with_text))
        for hit in results.hits[: cap - given]:
            yield hit
            given += 1
        if len(results.hits) < MAX_PER_PAGE or given >= results.total:
            return
        page += 1


def _row(hit: Hit) -> dict[str, object]:
    return {
        "url": hit.url,
        "title": hit.title,
        "site": hit.site,
        "authors": list(hit.authors),
        "published": hit.published,
        "captured": hit.captured,
        "language": hit.language,
        "crawl_id": hit.crawl_id,
        "warc_key": hit.warc_key,
        "warc_offset": hit.warc_offset,
        "warc_length": hit.warc_length,
        "record_id": hit.record_id,
        "payload_digest": hit.payload_digest,
    }


def _csv_cell(value: object) -> str:
    if value is None:
        return ""
    text = "; ".join(value) if isinstance(value, list) else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_bytes(hits: list[Hit]) -> bytes:
    """The hits as CSV (UTF-8, a header row; authors joined by "; ")."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(ROW_COLUMNS)
    for hit in hits:
        row = _row(hit)
        writer.writerow([_csv_cell(row[name]) for name in ROW_COLUMNS])
    return out.getvalue().encode("utf-8")


PARQUET_SCHEMA = pa.schema(
    [
        ("url", pa.string()),
        ("title", pa.string()),
        ("site", pa.string()),
        ("authors", pa.list_(pa.string())),
        ("published", pa.string()),
        ("captured", pa.string()),
        ("language", pa.string()),
        ("crawl_id", pa.string()),
        ("warc_key", pa.string()),
        ("warc_offset", pa.int64()),
        ("warc_length", pa.int64()),
        ("record_id", pa.string()),
        ("payload_digest", pa.string()),
        (TEXT_COLUMN, pa.string()),
    ]
)


def parquet_bytes(hits: list[Hit]) -> bytes:
    """The hits as a Parquet file (zstd): the columns of ROW_COLUMNS and the clean text."""
    rows = [{**_row(hit), TEXT_COLUMN: hit.text} for hit in hits]
    table = pa.Table.from_pylist(rows, schema=PARQUET_SCHEMA)
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


@dataclass
class WaczExport:
    """A WACZ written for a result set, and the hits the archive index did not hold."""

    report: WaczReport
    missing: list[str]


def captures_of(archive: ArchiveIndex, hits: list[Hit]) -> tuple[list[Capture], list[str]]:
    """The archive index's capture of each hit (same WARC key and offset), and the URLs of
    hits it has none for (a crawl not yet indexed)."""
    found: dict[tuple[str, int], Capture] = {}
    missing: list[str] = []
    listed: dict[str, list[Capture]] = {}
    for hit in hits:
        if hit.url not in listed:
            listed[hit.url] = find(archive, hit.url)
        match = next(
            (
                c
                for c in listed[hit.url]
                if c.offset == hit.warc_offset and warc_key(archive, c.filename) == hit.warc_key
            ),
            None,
        )
        if match is None:
            missing.append(hit.url)
        else:
            found[(match.filename, match.offset)] = match
    return sorted(found.values(), key=lambda c: c.line), missing


def export_hits(archive: ArchiveIndex, hits: list[Hit], out: Path, title: str) -> WaczExport:
    """A WACZ of the hits' captures at out (ValueError when the index holds none of them)."""
    captures, missing = captures_of(archive, hits)
    if not captures:
        raise ValueError("the archive index holds none of these captures: run `archiver reindex`")
    stamps = sorted(c.timestamp for c in captures)
    chosen = Slice(site=title, since=stamps[0], until=stamps[-1])
    add_captures(archive, chosen, captures)  # a revisit brings the original it replays from
    # What the pages need to replay as they were seen: their stylesheets, images and fonts.
    add_requisites(archive, chosen)
    add_page_needs(archive, chosen)
    report = export_slice(archive, chosen, out, title=title)
    return WaczExport(report, missing)


class RecordRefused(ValueError):
    """A /record request that names no WARC record of this archive."""


def read_record(archive: ArchiveIndex, key: str, offset: int, length: int, max_bytes: int) -> bytes:
    """One stored WARC record's gzip member, read with one range request.

    Only .warc.gz objects under the archive's prefix, and at most max_bytes; the bytes must
    start a gzip member (else the offset is not a record's).
    """
    root = warc_key(archive, "")
    if not key.startswith(root) or not key.endswith(".warc.gz") or "/../" in key:
        raise RecordRefused("not a WARC file of this archive")
    if offset < 0 or not 0 < length <= max_bytes:
        raise RecordRefused(f"offset must be >= 0 and length between 1 and {max_bytes}")
    data = archive.get(key, (offset, length))
    if data[:2] != b"\x1f\x8b":
        raise RecordRefused("no WARC record starts at this offset")
    return data
