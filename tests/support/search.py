"""Article rows and dataset tables for the search index tests (tests/*/test_search_*.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from archiver.dataset.schema import ARTICLE_SCHEMA, ROW_GROUP_SIZE, writer_options


def article(n: int, text: str, **fields: Any) -> dict[str, Any]:
    """One row of ARTICLE_SCHEMA: article n of site one.example, captured 2024-03-01."""
    row: dict[str, Any] = {
        "url": f"https://one.example/story-{n}",
        "canonical_url": None,
        "site": "one.example",
        "title": f"Story {n}",
        "authors": ["Ada Lovelace"],
        "published": None,
        "modified": None,
        "language": "en",
        "captured": datetime(2024, 3, 1, 12, 0, n % 60, tzinfo=UTC),
        "crawl_id": "crawl-1",
        "text": text,
        "word_count": len(text.split()),
        "warc_key": "archive/2024-03-01/crawl-1/one.warc.gz",
        "warc_offset": 1000 * n,
        "warc_length": 900,
        "record_id": f"<urn:uuid:00000000-0000-4000-8000-{n:012d}>",
        "payload_digest": f"sha1:DIGEST{n}",
    }
    row.update(fields)
    return row


def table(rows: list[dict[str, Any]]) -> pa.Table:
    """The rows as a dataset table."""
    return pa.Table.from_pylist(rows, schema=ARTICLE_SCHEMA)


def write_parquet(path: Path, rows: list[dict[str, Any]]) -> Path:
    """The rows written as an articles.parquet would be."""
    pq.write_table(table(rows), path, row_group_size=ROW_GROUP_SIZE, **writer_options())
    return path
