"""The search interface's values: a query, a hit, a page of results, a sync report."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

# Queries longer than this are refused with SearchQueryError: no reader types 500
# characters into a search box, and a cap keeps hostile queries cheap.
MAX_QUERY_CHARS = 500
# At most this many terms (words and phrases) are kept from a query.
MAX_QUERY_TERMS = 32
# The largest page size a caller may ask for.
MAX_PER_PAGE = 200


class SearchQueryError(ValueError):
    """A query that cannot be run; the message is one line meant for the user."""


class SearchIndexBusy(RuntimeError):
    """Another process (or object) is writing to the index; one writer at a time."""


@dataclass(frozen=True)
class SearchQuery:
    """A search: words and "quoted phrases" plus filters, sort order and page."""

    text: str
    site: str | None = None
    since: date | None = None
    until: date | None = None
    language: str | None = None
    author: str | None = None
    sort: Literal["relevance", "date"] = "relevance"
    # Hits carry their clean text (Hit.text), for downloads; off for pages of results.
    with_text: bool = False
    page: int = 1
    per_page: int = 20


@dataclass(frozen=True)
class Hit:
    """One archived capture of an article, as a search result."""

    url: str
    title: str | None
    site: str
    authors: tuple[str, ...]
    published: str | None
    captured: str
    language: str | None
    crawl_id: str
    snippet_html: str
    warc_key: str
    warc_offset: int
    warc_length: int
    record_id: str
    payload_digest: str | None
    score: float
    text: str | None = None  # the clean text, when the query asked for it (with_text)


@dataclass(frozen=True)
class SearchResults:
    """One page of hits, the number of matches and facet counts over all matches."""

    total: int
    hits: list[Hit]
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)


@dataclass(frozen=True)
class SyncReport:
    """What one `SearchIndex.sync` did."""

    datasets_seen: int
    datasets_read: int
    datasets_dropped: int
    articles_added: int
    seconds: float
