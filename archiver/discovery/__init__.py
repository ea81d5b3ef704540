"""Finding articles: feeds, sitemaps, links, and telling article pages from section pages.

Pure parsing of documents the crawler fetched; the news spider is a thin adapter over it.
No Scrapy, no storage.
"""

from __future__ import annotations

from archiver.discovery.parse import (
    Entry,
    analyze_html,
    maybe_gunzip,
    parse_date,
    parse_feed,
    parse_sitemap,
    sniff_kind,
)

__all__ = [
    "Entry",
    "analyze_html",
    "maybe_gunzip",
    "parse_date",
    "parse_feed",
    "parse_sitemap",
    "sniff_kind",
]
