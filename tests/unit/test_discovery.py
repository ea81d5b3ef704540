"""Feeds, sitemaps and the article/section decision."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest

from archiver import discovery

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Ledger</title>
<item><title>A</title><link>https://news.example/2026/11/20/a-story.html</link>
<pubDate>Fri, 20 Nov 2026 08:15:00 +0100</pubDate></item>
<item><title>B</title><guid>https://news.example/b</guid></item>
<item><title>C</title><link>/relative/c-story</link><pubDate>Mon, 02 Nov 2026 10:00:00 GMT</pubDate></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">
<entry><title>x</title><link rel="self" href="https://m.example/self"/><link href="https://m.example/a/123456-x"/>
<updated>2026-10-01T12:00:00Z</updated></entry></feed>"""

NEWS_SITEMAP = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
<url><loc>https://n.example/news/1</loc><lastmod>2026-01-01</lastmod>
<news:news><news:publication><news:name>N</news:name><news:language>en</news:language></news:publication>
<news:publication_date>2026-11-19T07:00:00+01:00</news:publication_date><news:title>T</news:title></news:news></url>
<url><loc>https://n.example/about</loc></url>
</urlset>"""

INDEX = b"""<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>https://n.example/sitemaps/news.xml</loc><lastmod>2026-11-20</lastmod></sitemap>
<sitemap><loc>https://n.example/sitemaps/pages.xml.gz</loc></sitemap></sitemapindex>"""


def test_rss_entries_with_dates_guid_links_and_relative_urls() -> None:
    entries = discovery.parse_feed(RSS, "https://news.example/feed.xml")
    assert [e.url for e in entries] == [
        "https://news.example/2026/11/20/a-story.html",
        "https://news.example/b",
        "https://news.example/relative/c-story",
    ]
    assert entries[0].date == datetime(2026, 11, 20, 7, 15, tzinfo=UTC)
    assert entries[1].date is None


def test_atom_prefers_the_alternate_link() -> None:
    (entry,) = discovery.parse_feed(ATOM, "https://m.example/feed.atom")
    assert entry.url == "https://m.example/a/123456-x"
    assert entry.date == datetime(2026, 10, 1, 12, tzinfo=UTC)


def test_news_sitemap_publication_date_beats_lastmod() -> None:
    kind, entries = discovery.parse_sitemap(NEWS_SITEMAP, "https://n.example/sitemaps/news.xml")
    assert kind == "urlset"
    assert entries[0].url == "https://n.example/news/1"
    assert entries[0].date == datetime(2026, 11, 19, 6, 0, tzinfo=UTC)
    assert entries[1] == discovery.Entry("https://n.example/about", None)


def test_sitemap_index_and_gzipped_sitemaps() -> None:
    kind, entries = discovery.parse_sitemap(
        gzip.compress(INDEX), "https://n.example/sitemap_index.xml"
    )
    assert kind == "sitemapindex"
    assert [e.url for e in entries] == [
        "https://n.example/sitemaps/news.xml",
        "https://n.example/sitemaps/pages.xml.gz",
    ]


def test_gzip_bomb_sitemap_is_refused() -> None:
    bomb = gzip.compress(b"<urlset>" + b" " * (2 * 1024 * 1024))
    with pytest.raises(ValueError, match="inflates past"):
        discovery.maybe_gunzip(bomb, limit=1024 * 1024)


@pytest.mark.parametrize(
    ("body", "ctype", "kind"),
    [
        (RSS, "text/xml", "rss"),
        (ATOM, "application/atom+xml", "atom"),
        (NEWS_SITEMAP, "application/xml", "urlset"),
        (INDEX, "text/html", "sitemapindex"),
        (b"\xef\xbb\xbf<!DOCTYPE html><html></html>", None, "html"),
        (b"%PDF-1.7", "application/pdf", "other"),
    ],
)
def test_sniff_kind_uses_the_body_not_the_header(body: bytes, ctype: str | None, kind: str) -> None:
    assert discovery.sniff_kind(body, ctype) == kind


def _page(head: str, body: str = "") -> bytes:
    return f"<html><head>{head}</head><body>{body}</body></html>".encode()


def test_json_ld_news_article_is_an_article_even_in_a_graph() -> None:
    head = '<script type="application/ld+json">{"@graph":[{"@type":"WebPage"},{"@type":["NewsArticle"]}]}</script>'
    info = discovery.analyze_html(_page(head), "https://x.example/anything")
    assert info.is_article and "NewsArticle" in info.reason


def test_og_article_is_an_article_and_og_website_is_not() -> None:
    assert discovery.analyze_html(
        _page('<meta property="og:type" content="article">'), "https://x.example/"
    ).is_article
    info = discovery.analyze_html(
        _page('<meta property="og:type" content="website">', "<p>" + "word " * 300 + "</p>"),
        "https://x.example/2026/11/20/looks-like-a-story",
    )
    assert not info.is_article


def test_url_pattern_needs_real_text() -> None:
    text = "<p>" + "Long enough paragraph text. " * 30 + "</p>"
    url = "https://x.example/wiadomosci/pozar-hali-w-centrum,id,78901.html"
    assert discovery.analyze_html(_page("", text), url).is_article
    assert not discovery.analyze_html(_page("", "<p>short</p>"), url).is_article
    assert not discovery.analyze_html(
        _page("", text), "https://x.example/tag/politics-and-more-things-here"
    ).is_article


def test_links_are_absolute_deduplicated_and_skip_assets_and_other_schemes() -> None:
    body = _page(
        '<base href="https://x.example/section/"><link rel="canonical" href="/world/"><link rel="alternate" type="application/rss+xml" href="/rss">',
        '<a href="a.html#top">a</a><a href="a.html">again</a><a href="mailto:x@y">m</a>'
        '<a href="/img/p.JPG">img</a><a href="javascript:void(0)">js</a><a href="https://other.example/b">b</a>',
    )
    info = discovery.analyze_html(body, "https://x.example/world/")
    assert info.links == ["https://x.example/section/a.html", "https://other.example/b"]
    assert info.canonical_url == "https://x.example/world/"
    assert info.feeds == ["https://x.example/rss"]


def test_parse_date_accepts_dates_and_datetimes() -> None:
    assert discovery.parse_date("2026-11-01") == datetime(2026, 11, 1, tzinfo=UTC)
    assert discovery.parse_date("not a date") is None
    assert discovery.parse_date("") is None


def test_malformed_urls_are_skipped_without_losing_the_page() -> None:
    body = _page(
        '<base href="http://[::1"><link rel="canonical" href="http://[::1">',
        '<a href="http://[::1">broken</a><a href="/fine">fine</a>',
    )
    info = discovery.analyze_html(body, "https://x.example/section/")
    assert info.links == ["https://x.example/fine"]
    assert info.canonical_url is None


_TRICKY_HREFS = (
    "a.html",
    "/b",
    "?q=1",
    "#top",
    "//x.example/c",
    "//X.Example:8080/d",
    "https://news.x.example/e",
    "HTTP://OTHER.example/f",
    "https://other.example/g",
    "//other.example/h",
    "http:relative-with-scheme",
    "https://[::1/broken",
    "ftp://x.example/file",
    "  https://x.example/padded  ",
    "https://x.example.evil.example/i",
    "https://user@x.example/j",
    "/\t/x.example/k",  # urlsplit drops the tab: a link to x.example
    "/\t/other.example/l",
    "b/c:d",
    "HTTPS://X.EXAMPLE/m",
    "//other.example",
    "https://other.example/n",  # a second link to a host already refused
)


@pytest.mark.parametrize(
    ("page_url", "base"),
    [
        ("https://x.example/world/", ""),  # relative links stay on the site
        ("https://x.example/world/", "https://elsewhere.example/"),  # and here they leave it
        ("https://x.example/world/", "http://[::1"),  # a base that does not parse
    ],
)
def test_follow_host_drops_exactly_the_refused_links(page_url: str, base: str) -> None:
    anchors = "".join(f'<a href="{href}">l</a>' for href in _TRICKY_HREFS)
    body = _page(f'<base href="{base}">' if base else "", anchors)

    def follow(host: str) -> bool:
        return host == "x.example" or host.endswith(".x.example")

    def followed(links: list[str]) -> list[str]:
        return [link for link in links if follow(urlsplit(link).hostname or "")]

    every = discovery.analyze_html(body, page_url).links
    kept = discovery.analyze_html(body, page_url, follow_host=follow).links
    # The same links to follow, in the same order; only refused ones may be missing.
    assert followed(kept) == followed(every)
    assert set(kept) <= set(every)
    assert followed(every)  # not vacuous: some links are on the site
    assert len(kept) < len(every)  # and some were dropped before joining
