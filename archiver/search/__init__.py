"""Full-text search over the article datasets: a local index kept in step with storage.

The index is an SQLite FTS5 database in a cache directory (see docs/search.md for why this
engine); `SearchIndex.sync` brings it up to date from the stored `articles.parquet` files.
"""

from __future__ import annotations

from archiver.search.engine import SearchIndex
from archiver.search.model import (
    MAX_QUERY_CHARS,
    Hit,
    SearchIndexBusy,
    SearchQuery,
    SearchQueryError,
    SearchResults,
    SyncReport,
)

__all__ = [
    "MAX_QUERY_CHARS",
    "Hit",
    "SearchIndex",
    "SearchIndexBusy",
    "SearchQuery",
    "SearchQueryError",
    "SearchResults",
    "SyncReport",
]
