"""Finding articles: feeds, sitemaps, links, and telling article pages from section pages;
and what a page needs to render (its requisites), with the limits of fetching them.

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
from archiver.discovery.requisite_limits import MAX_CSS_DEPTH, RequisiteBudget, RequisitePolicy
from archiver.discovery.requisites import (
    Found,
    Requisite,
    css_requisites,
    html_requisites,
)

__all__ = [
    "MAX_CSS_DEPTH",
    "Entry",
    "Found",
    "Requisite",
    "RequisiteBudget",
    "RequisitePolicy",
    "analyze_html",
    "css_requisites",
    "html_requisites",
    "maybe_gunzip",
    "parse_date",
    "parse_feed",
    "parse_sitemap",
    "sniff_kind",
]
