"""Small article tables in the dataset's schema, for tests of the search index and the web page."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from archiver.dataset.schema import ARTICLE_SCHEMA


def article_row(**values: Any) -> dict[str, Any]:
    """One articles.parquet row: sensible defaults, overridden by values."""
    url = values.get("url", "https://news.example/2026/01/story.html")
    row: dict[str, Any] = {
        "url": url,
        "canonical_url": None,
        "site": "news.example",
        "title": "A story",
        "authors": ["Ada Writer"],
        "published": "2026-01-05",
        "modified": None,
        "language": "en",
        "captured": datetime(2026, 1, 6, 9, 30, tzinfo=UTC),
        "crawl_id": "crawl-1",
        "text": "Some text.",
        "word_count": 2,
        "warc_key": "news/2026-01-06/crawl-1/warc/a.warc.gz",
        "warc_offset": 1000,
        "warc_length": 500,
        "record_id": "<urn:uuid:00000000-0000-0000-0000-000000000001>",
        "payload_digest": "sha1:AAAA",
    }
    row.update(values)
    row["word_count"] = len(str(row["text"]).split())
    return row


def article_table(rows: list[dict[str, Any]]) -> pa.Table:
    """The rows as a table in ARTICLE_SCHEMA."""
    return pa.Table.from_pylist(rows, schema=ARTICLE_SCHEMA)
