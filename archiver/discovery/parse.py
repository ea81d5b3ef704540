"""Finding articles: feeds, sitemaps, links, and telling article pages from section pages.

Scrapy-free; the news spider is a thin adapter over these functions.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urldefrag, urljoin, urlsplit

import lxml.etree
from dateutil import parser as dateparser

Kind = Literal["rss", "atom", "sitemapindex", "urlset", "html", "other"]

# Sitemaps may be 50 MB uncompressed (sitemaps.org limit); refuse to inflate past that.
MAX_SITEMAP_BYTES = 50 * 1024 * 1024

# schema.org types that mark a page as one article (NewsArticle and its subtypes).
ARTICLE_TYPES = frozenset(
    {
        "NewsArticle",
        "Article",
        "ReportageNewsArticle",
        "AnalysisNewsArticle",
        "OpinionNewsArticle",
        "ReviewNewsArticle",
        "BackgroundNewsArticle",
        "AskPublicNewsArticle",
        "LiveBlogPosting",
        "BlogPosting",
        "Report",
    }
)

# URL shapes of article pages on news sites, checked when the page itself carries no
# article markup: a date path, a numeric id beside a slug, or a long hyphenated slug.
ARTICLE_URL_PATTERNS = tuple(
    re.compile(p)
    for p in (
        r"/(19|20)\d\d/[01]?\d/[0-3]?\d/[^/]+",  # /2026/11/20/slug
        r"/(19|20)\d\d/[01]\d/[^/]{12,}",  # /2026/11/long-slug
        r"[/,_-]id[,_-]?\d{3,}",  # ...,id,789.html (Polish and German portals)
        r"/a/\d{4,}",  # /a/123456-slug
        r"/\d{5,}[-/][a-z0-9-]{8,}",  # /123456-slug or /123456/slug
        r"[a-z0-9]+(?:-[a-z0-9]+){3,}[-_.]\d{5,}(?:\.html?)?$",  # slug-words-1234567
        r"/[a-z0-9]+(?:-[a-z0-9]+){4,}(?:\.html?)?/?$",  # five or more slug words
    )
)

# Paths that are never articles, whatever their shape (listing, tag and author pages).
NON_ARTICLE_PATH = re.compile(
    r"/(tag|tags|topic|topics|author|authors|autor|category|categories|kategoria|search|page)/",
    re.IGNORECASE,
)

# Paragraph text an article page holds at least (an article-shaped URL, or a candidate).
CANDIDATE_CHARS = 500
# A page with this many headlines that are links, and less paragraph text than TEASER_CHARS
# for each, is a listing of teasers, not a candidate article (an article's linked
# subheadings come with a section of text each; a teaser's blurb runs 100-300 characters).
LISTING_HEADLINES = 6
TEASER_CHARS = 400
NO_MARKUP = "no article markup"
LITTLE_TEXT = "article-shaped URL but little text"
# How a candidate's reason (ArticleItem.detection) starts.
CANDIDATE_PREFIX = "candidate:"

_SKIP_SCHEMES = ("mailto:", "javascript:", "tel:", "data:", "ftp:", "#")
_BINARY_EXTENSIONS = re.compile(
    r"\.(jpe?g|png|gif|webp|svg|ico|bmp|tiff?|mp[34]|m4a|mov|avi|webm|ogg|wav|pdf|zip|gz|tgz|"
    r"rar|7z|exe|dmg|apk|css|js|woff2?|ttf|eot|json)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Entry:
    """A URL found in a feed or sitemap, with its date when the source gives one."""

    url: str
    date: datetime | None = None


@dataclass
class PageInfo:
    """What the spider needs to know about an HTML page."""

    is_article: bool
    reason: str
    links: list[str] = field(default_factory=list)
    # Not marked up as an article, but maybe one: the cleaner decides (reason says why).
    candidate: bool = False
    canonical_url: str | None = None
    feeds: list[str] = field(default_factory=list)


def parse_date(value: str | None) -> datetime | None:
    """Parse a feed, sitemap or command-line date; naive values are taken as UTC."""
    if not value or not value.strip():
        return None
    try:
        parsed = dateparser.parse(value.strip())
    except (ValueError, OverflowError, TypeError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def maybe_gunzip(body: bytes, limit: int = MAX_SITEMAP_BYTES) -> bytes:
    """Inflate a gzip body (a .xml.gz sitemap served as is), refusing more than `limit` bytes."""
    if not body.startswith(b"\x1f\x8b"):
        return body
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error:
        return b""
    if len(out) > limit:
        raise ValueError(f"compressed document inflates past {limit} bytes")
    return out


def sniff_kind(body: bytes, content_type: str | None = None) -> Kind:
    """Tell feeds and sitemaps from HTML by their root element, not by what the server claims."""
    head = body[:2048].lstrip()
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:].lstrip()
    lowered = head.lower()
    if lowered.startswith(b"<?xml") or lowered.startswith(b"<rss") or lowered.startswith(b"<feed"):
        for marker, kind in (
            (b"<sitemapindex", "sitemapindex"),
            (b"<urlset", "urlset"),
            (b"<rss", "rss"),
            (b"<rdf:rdf", "rss"),
            (b"<feed", "atom"),
        ):
            if marker in lowered:
                return kind  # type: ignore[return-value]
        return "other"
    ctype = (content_type or "").lower()
    if "html" in ctype or b"<html" in lowered or b"<!doctype html" in lowered:
        return "html"
    return "other"


def _xml_root(body: bytes) -> Any:
    parser = lxml.etree.XMLParser(
        recover=True, resolve_entities=False, no_network=True, huge_tree=False
    )
    try:
        return lxml.etree.fromstring(body, parser=parser)
    except (lxml.etree.XMLSyntaxError, ValueError):
        return None


def _local(tag: Any) -> str:
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1].lower()


def _child_text(element: Any, *names: str) -> str | None:
    for child in element:
        if _local(child.tag) in names and child.text and child.text.strip():
            return str(child.text.strip())
    return None


def parse_feed(body: bytes, base_url: str) -> list[Entry]:
    """Entries of an RSS 2.0, RSS 1.0 or Atom feed, with their publication dates."""
    root = _xml_root(body)
    if root is None:
        return []
    entries: list[Entry] = []
    for item in root.iter():
        name = _local(item.tag)
        if name == "item":
            link = _child_text(item, "link") or _guid_link(item)
            date = _child_text(item, "pubdate", "date", "published", "updated")
        elif name == "entry":
            link = _atom_link(item)
            date = _child_text(item, "published", "updated")
        else:
            continue
        if link:
            entries.append(Entry(urljoin(base_url, link.strip()), parse_date(date)))
    return entries


def _guid_link(item: Any) -> str | None:
    for child in item:
        if _local(child.tag) == "guid" and child.get("isPermaLink", "true") != "false":
            text = (child.text or "").strip()
            if text.startswith(("http://", "https://")):
                return text
    return None


def _atom_link(entry: Any) -> str | None:
    fallback = None
    for child in entry:
        if _local(child.tag) != "link":
            continue
        href = child.get("href")
        rel = child.get("rel", "alternate")
        if href and rel == "alternate":
            return str(href)
        fallback = fallback or href
    return fallback


def parse_sitemap(body: bytes, base_url: str) -> tuple[Kind, list[Entry]]:
    """URLs of a sitemap index or urlset; news sitemaps give news:publication_date."""
    root = _xml_root(maybe_gunzip(body))
    if root is None:
        return "other", []
    kind: Kind = "sitemapindex" if _local(root.tag) == "sitemapindex" else "urlset"
    entries: list[Entry] = []
    for node in root:
        if _local(node.tag) not in ("url", "sitemap"):
            continue
        loc = None
        date = None
        for child in node.iter():
            name = _local(child.tag)
            text = (child.text or "").strip()
            if name == "loc" and loc is None and text:
                loc = text
            elif name == "publication_date" and text:
                date = text  # news:publication_date beats lastmod
            elif name == "lastmod" and text and date is None:
                date = text
        if loc:
            entries.append(Entry(urljoin(base_url, loc), parse_date(date)))
    return kind, entries


def _jsonld_types(data: Any) -> Iterator[str]:
    if isinstance(data, list):
        for item in data:
            yield from _jsonld_types(item)
    elif isinstance(data, dict):
        kind = data.get("@type")
        if isinstance(kind, str):
            yield kind
        elif isinstance(kind, list):
            yield from (k for k in kind if isinstance(k, str))
        graph = data.get("@graph")
        if graph is not None:
            yield from _jsonld_types(graph)


def _document(body: bytes | str, parser: lxml.etree.HTMLParser) -> Any:
    root = lxml.etree.fromstring(body, parser)
    if root is None:
        raise lxml.etree.ParserError("Document is empty")
    return root


def _parse_html(body: bytes | str, encoding: str | None) -> Any:
    # lxml.etree's parser, not lxml.html's: lxml.html looks up a Python class for every
    # element the scan touches, a tenth of the spider's time per page; nothing here needs
    # HtmlElement's methods.
    try:
        return _document(body, lxml.etree.HTMLParser(encoding=encoding))
    except (lxml.etree.ParserError, ValueError, LookupError):
        try:
            text = body.decode(encoding or "utf-8", "replace") if isinstance(body, bytes) else body
            return _document(text or "<html></html>", lxml.etree.HTMLParser())
        except (lxml.etree.ParserError, ValueError):
            return None


def article_url_score(url: str) -> bool:
    """True when the URL has the shape of an article page on a news site."""
    parts = urlsplit(url)
    path = parts.path
    if not path or path == "/" or NON_ARTICLE_PATH.search(path):
        return False
    target = path + (("?" + parts.query) if parts.query else "")
    return any(p.search(target) for p in ARTICLE_URL_PATTERNS)


@dataclass
class _Scan:
    """What the spider reads from a page, gathered in one walk over its elements."""

    hrefs: list[str] = field(default_factory=list)
    bases: list[str] = field(default_factory=list)
    canonicals: list[str] = field(default_factory=list)
    feeds: list[str] = field(default_factory=list)
    jsonld: list[Any] = field(default_factory=list)
    og_types: list[str] = field(default_factory=list)
    published_time: bool = False


def _scan(doc: Any) -> _Scan:
    # One walk instead of eight whole-tree XPath queries: the profile of a crawl showed the
    # queries costing more than parsing the page (docs/performance.md).  Each branch keeps
    # the exact test of the query it replaces, in document order.
    found = _Scan()
    for element in doc.iter("a", "base", "link", "meta", "script"):
        tag = element.tag
        if tag == "a":
            href = element.get("href")
            if href is not None:
                found.hrefs.append(href)
        elif tag == "link":
            href = element.get("href")
            if href is None:
                continue
            rel = element.get("rel")
            if rel == "canonical":
                found.canonicals.append(href)
            elif rel == "alternate":
                kind = element.get("type") or ""
                if "rss" in kind or "atom" in kind:
                    found.feeds.append(href)
        elif tag == "meta":
            prop = element.get("property")
            if prop == "og:type":
                content = element.get("content")
                if content is not None:
                    found.og_types.append(content)
            elif prop == "article:published_time":
                found.published_time = True
        elif tag == "script":
            if element.get("type") == "application/ld+json":
                found.jsonld.append(element)
        elif tag == "base":
            href = element.get("href")
            if href is not None:
                found.bases.append(href)
    return found


# An element's text with its descendants' (lxml.html's text_content(), for any element).
_text_of = lxml.etree.XPath("string()")


def _text(element: Any) -> str:
    return str(_text_of(element))


def classify_document(doc: Any, url: str) -> tuple[bool, str]:
    """Decide article vs list page from JSON-LD, Open Graph, then the URL and text shape."""
    return _classify(doc, _scan(doc), url)


def _classify(doc: Any, found: _Scan, url: str) -> tuple[bool, str]:
    types: set[str] = set()
    for script in found.jsonld:
        try:
            types.update(_jsonld_types(json.loads(_text(script) or "null")))
        except (json.JSONDecodeError, ValueError):
            continue
    article_types = types & ARTICLE_TYPES
    if article_types:
        return True, f"json-ld {sorted(article_types)[0]}"
    og_type = " ".join(found.og_types).strip().lower()
    if og_type == "article":
        return True, "og:type article"
    if {"CollectionPage", "ItemList"} & types:
        return False, "list page (json-ld collection)"
    if og_type in {"website", "section"} or "WebSite" in types:
        # Not decisive: many sites mark every page so (a "WebSite" node in each page's
        # JSON-LD graph, og:type=website on articles too). The page may be a candidate.
        return (
            False,
            f"{NO_MARKUP} (og:type {og_type or 'none'}, json-ld WebSite: {'WebSite' in types})",
        )
    if found.published_time:
        return True, "article:published_time"
    if article_url_score(url):
        text_len = sum(len(_text(p)) for p in doc.iter("p"))
        if text_len >= CANDIDATE_CHARS:
            return True, "article URL pattern"
        return False, LITTLE_TEXT
    return False, NO_MARKUP


def _candidate(doc: Any, url: str, reason: str) -> str | None:
    """Why a page without article markup may be an article (for the cleaner to judge), or None.

    A cheap look at its structure: enough paragraph text (any amount under an article-shaped
    URL: its text may sit outside <p>), mostly not link text, and not a run of linked
    headlines with little prose between them. Front pages and the listing paths of
    NON_ARTICLE_PATH are never candidates.
    """
    path = urlsplit(url).path
    if path in ("", "/") or NON_ARTICLE_PATH.search(path):
        return None
    chars = 0
    link_chars = 0
    for p in doc.iter("p"):
        chars += len(_text(p))
        link_chars += sum(len(_text(a)) for a in p.iter("a"))
    needed = 0 if reason == LITTLE_TEXT else CANDIDATE_CHARS
    if chars < needed or link_chars * 2 > chars:
        return None
    linked_heads = sum(1 for h in doc.iter("h2", "h3", "h4") if next(h.iter("a"), None) is not None)
    if linked_heads >= LISTING_HEADLINES and chars < TEASER_CHARS * linked_heads:
        return None
    return f"{CANDIDATE_PREFIX} {reason}, {chars} characters of paragraph text"


def analyze_html(
    body: bytes | str,
    url: str,
    *,
    encoding: str | None = None,
    follow_host: Callable[[str], bool] | None = None,
) -> PageInfo:
    """Classify an HTML page and list the links worth following from it.

    With `follow_host`, links whose host it refuses (given the lower-case host name) may be
    left out of `links` before they are joined; every link to a host it accepts is kept.
    """
    doc = _parse_html(body, encoding)
    if doc is None:
        return PageInfo(False, "unparseable HTML")
    found = _scan(doc)
    is_article, reason = _classify(doc, found, url)
    candidate = False
    if reason.startswith((NO_MARKUP, LITTLE_TEXT)):
        why = _candidate(doc, url, reason)
        if why is not None:
            candidate, reason = True, why
    base = url
    if found.bases:
        base = _join(url, found.bases[0]) or url
    return PageInfo(
        is_article=is_article,
        reason=reason,
        links=list(_links(found.hrefs, base, follow_host)),
        canonical_url=_join(base, found.canonicals[0]) if found.canonicals else None,
        feeds=list(_links(found.feeds, base)),
        candidate=candidate,
    )


def _join(base: str, href: str) -> str | None:
    """urljoin that gives None for a malformed URL (say "http://[::1") instead of raising."""
    try:
        return urljoin(base, href.strip())
    except ValueError:
        return None


def _host(url: str) -> str | None:
    """The lower-case host of a URL ("" when it has none), or None when it does not parse."""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return None


# The scheme and "//host" that start an absolute or scheme-relative href, as urlsplit reads
# them (scheme characters, then the netloc up to the first "/", "?" or "#").
_NETLOC_PREFIX = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.-]*:)?//[^/?#]*")
# An href with no ":" before its first "/", "?" or "#" has no scheme; unless it starts with
# "//" it has no host either, and joins onto the base's.
_NO_SCHEME = re.compile(r"[^:/?#]*(?:[/?#]|$)")


class _HostFilter:
    """Tells, without joining, the hrefs that surely lead to a host `follow_host` refuses."""

    def __init__(self, base: str, follow_host: Callable[[str], bool]) -> None:
        self.follow_host = follow_host
        base_host = _host(base)
        # Whether an href without host, which joins onto the base's, is refused.
        self.relative_refused = base_host is not None and not follow_host(base_host)
        # Decisions by "scheme://host" prefix: a page links to the same few sites many times.
        self._by_prefix: dict[str, bool] = {}

    def refuses(self, href: str) -> bool:
        """True when the href leads to a refused host; False when it does not, or may not."""
        if "\t" in href or "\n" in href or "\r" in href:
            # urlsplit drops these anywhere in a URL ("/\t/host"): such hrefs are read whole.
            return self._split_refuses(href)
        prefix = _NETLOC_PREFIX.match(href)
        if prefix is None:
            if _NO_SCHEME.match(href):
                return self.relative_refused
            return self._split_refuses(href)
        key = prefix[0]
        refused = self._by_prefix.get(key)
        if refused is None:
            refused = self._by_prefix[key] = self._split_refuses(key)
        return refused

    def _split_refuses(self, href: str) -> bool:
        try:
            split = urlsplit(href)
            host = split.hostname or ""
        except ValueError:
            return False
        if split.netloc:
            # Joining keeps an href's own host, whatever its scheme.
            return not self.follow_host(host)
        # One with a scheme but no host ("http:a") is left to the join.
        return not split.scheme and self.relative_refused


def _links(
    hrefs: Iterable[Any], base: str, follow_host: Callable[[str], bool] | None = None
) -> Iterator[str]:
    seen: set[str] = set()
    # A news article links to hundreds of other sites, and joining each link costs more
    # than parsing the page (docs/performance.md): links whose host is certain without
    # joining, and refused, are dropped first.
    refused = _HostFilter(base, follow_host) if follow_host is not None else None
    for raw in hrefs:
        href = str(raw).strip()
        if not href or href.lower().startswith(_SKIP_SCHEMES):
            continue
        if refused is not None and refused.refuses(href):
            continue
        joined = _join(base, href)
        if joined is None:
            continue
        absolute = urldefrag(joined)[0]
        if absolute in seen:
            continue
        parts = urlsplit(absolute)
        if parts.scheme not in ("http", "https") or _BINARY_EXTENSIONS.search(parts.path):
            continue
        seen.add(absolute)
        yield absolute
