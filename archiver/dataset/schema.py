"""The columns of articles.parquet, and how the file is written (docs/for-researchers.md)."""

from __future__ import annotations

from typing import Any, Final

import pyarrow as pa

ARTICLES_FILE: Final = "articles.parquet"

# The columns, in this order; docs/for-researchers.md describes each one.
ARTICLE_SCHEMA: Final = pa.schema(
    [
        pa.field("url", pa.string(), nullable=False),
        pa.field("canonical_url", pa.string()),
        # The host, lowercased, without "www.".
        pa.field("site", pa.string(), nullable=False),
        pa.field("title", pa.string()),
        pa.field("authors", pa.list_(pa.string()), nullable=False),
        # ISO 8601 as the cleaner gives it (a date or a date-time, with or without an offset).
        pa.field("published", pa.string()),
        pa.field("modified", pa.string()),
        pa.field("language", pa.string()),
        # The WARC-Date of the response record.
        pa.field("captured", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("crawl_id", pa.string(), nullable=False),
        # The clean body text.
        pa.field("text", pa.string(), nullable=False),
        pa.field("word_count", pa.int32(), nullable=False),
        # Where the capture lives: the storage key of the WARC file, the record's offset and length
        # in it (one ranged GET returns the gzip member), its WARC-Record-ID and payload digest.
        pa.field("warc_key", pa.string(), nullable=False),
        pa.field("warc_offset", pa.int64(), nullable=False),
        pa.field("warc_length", pa.int64(), nullable=False),
        pa.field("record_id", pa.string(), nullable=False),
        pa.field("payload_digest", pa.string()),
    ]
)

COLUMNS: Final = tuple(ARTICLE_SCHEMA.names)

# Rows are sorted by these, so that a site's rows sit together and row-group statistics prune.
SORT_KEYS: Final = (("site", "ascending"), ("captured", "ascending"))

ROW_GROUP_SIZE: Final = 4_000
COMPRESSION: Final = "zstd"


def writer_options() -> dict[str, Any]:
    """Keyword arguments of pyarrow.parquet.ParquetWriter for articles.parquet."""
    return {
        "compression": COMPRESSION,
        # Min/max of every column but the text, whose values would fill the footer.
        "write_statistics": [c for c in ARTICLE_SCHEMA.names if c != "text"],
        "use_dictionary": ["site", "language", "crawl_id", "warc_key"],
    }


def site_of(host: str) -> str:
    """The site column of a host: lowercased, without a leading "www." and without a port."""
    host = host.strip().lower().rstrip(".")
    if host.startswith("[") and "]" in host:
        return host[: host.index("]") + 1]
    host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return host.removeprefix("www.")
