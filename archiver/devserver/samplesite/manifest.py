"""What the sample site serves: the manifest in site/_manifest.json plus discovery facts read from the files."""

from __future__ import annotations

import json
import posixpath
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urlsplit

PACKAGE_DIR = Path(__file__).parent
SITE_ROOT = PACKAGE_DIR / "site"
EXPECTED_DIR = PACKAGE_DIR / "expected"
MANIFEST_NAME = "_manifest.json"
# Absolute URLs in the files are written with this placeholder; the server puts its own base URL there.
BASE_PLACEHOLDER = "{{BASE}}"

KINDS = frozenset(
    {"article", "section", "feed", "sitemap", "robots", "redirect", "not_found", "error", "private"}
)
STATUS_BY_KIND = {"redirect": 301, "not_found": 404, "error": 500}
# Kinds whose response body is a file under the site root at the URL's own path.
FILE_KINDS = frozenset({"article", "section", "feed", "sitemap", "robots", "private"})
MEDIA_TYPES = {
    ".html": "text/html",
    ".xml": "application/xml",
    ".atom": "application/atom+xml",
    ".txt": "text/plain",
}
ERROR_PAGES = {404: "_errors/404.html", 500: "_errors/500.html"}

# Discovery channels reported in PageInfo.found_in.
FOUND_LINKS = "links"  # an <a href> on a section, article or the front page
FOUND_ALTERNATE = "alternate"  # a <link rel="alternate"> feed announcement in a page head
FOUND_RSS = "rss"
FOUND_ATOM = "atom"
FOUND_NEWS_SITEMAP = "news_sitemap"
FOUND_SITEMAP = "sitemap"
FOUND_SITEMAP_INDEX = "sitemap_index"
FOUND_ROBOTS = "robots"

_NS = {
    "sm": "http://www.sitemaps.org/schemas/sitemap/0.9",
    "news": "http://www.google.com/schemas/sitemap-news/0.9",
    "atom": "http://www.w3.org/2005/Atom",
}


class ManifestError(ValueError):
    """The site manifest is missing, malformed or names an unknown kind."""


@dataclass(frozen=True)
class PageInfo:
    """One URL of the sample site and what a crawler should make of it."""

    url: str
    path: str
    kind: str
    status: int
    content_type: str = "text/html"
    charset: str = "utf-8"
    title: str | None = None
    author: str | None = None
    published: datetime | None = None
    modified: datetime | None = None
    language: str | None = None
    template: str | None = None
    location: str | None = None
    content_encoding: str | None = None
    chunked: bool = False
    found_in: frozenset[str] = field(default_factory=frozenset)

    @property
    def media_type(self) -> str:
        """Content-Type header value the server sends for this page (with charset)."""
        return f"{self.content_type}; charset={self.charset}"


def file_for_path(root: Path, path: str) -> Path | None:
    """File under root that serves a URL path, or None if the path cannot name a servable file."""
    if not path.startswith("/"):
        return None
    segments = path[1:].split("/")
    # "" is allowed only as the last segment (a directory URL); dot and underscore names stay private.
    if any(s in ("", ".", "..") or s.startswith((".", "_")) for s in segments[:-1]):
        return None
    last = segments[-1]
    if last.startswith((".", "_")) or last == "..":
        return None
    rel = "/".join(segments)
    if last == "":
        rel += "index.html"
    elif "." not in last:
        # Extension-less article URLs (/a/123-slug) are stored as .html files.
        rel += ".html"
    return root / rel


def load_manifest(root: Path | None = None) -> dict[str, Any]:
    """The raw manifest JSON of a site directory (the bundled site by default)."""
    site = SITE_ROOT if root is None else root
    try:
        data = json.loads((site / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ManifestError(f"cannot read {MANIFEST_NAME} in {site}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("pages"), list):
        raise ManifestError(f"{MANIFEST_NAME}: expected an object with a 'pages' list")
    for entry in data["pages"]:
        if entry.get("kind") not in KINDS:
            raise ManifestError(f"{MANIFEST_NAME}: unknown kind in {entry!r}")
        if not str(entry.get("path", "")).startswith("/"):
            raise ManifestError(f"{MANIFEST_NAME}: path must start with '/' in {entry!r}")
    return data


def _dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def media_type_for_path(path: str) -> str:
    """Media type (without parameters) of the file a URL path is served from, by its suffix."""
    suffix = "" if path.endswith("/") else posixpath.splitext(path)[1]
    return MEDIA_TYPES.get(suffix or ".html", "application/octet-stream")


def content_type_for(entry: dict[str, Any]) -> str:
    """Media type (without parameters) of a manifest entry's response body."""
    if entry.get("content_type"):
        return str(entry["content_type"])
    if entry["kind"] not in FILE_KINDS:
        return "text/html"  # redirect, not_found and error responses carry small HTML pages
    return media_type_for_path(str(entry["path"]))


class _LinkCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []
        self.alternates: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        href = values.get("href")
        if not href:
            return
        if tag == "a":
            self.hrefs.append(href)
        elif tag == "link" and "alternate" in (values.get("rel") or "").lower().split():
            self.alternates.append(href)


def _local_path(url: str, base_url: str, page_path: str = "/") -> str | None:
    """Site path a link or feed URL points to, or None when it leaves the site."""
    url = urldefrag(url.strip())[0]
    if not url:
        return None  # a fragment-only link such as a skip link stays on the page
    if url.startswith(base_url):
        url = url[len(base_url) :] or "/"
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return None
    path = parts.path
    if not path.startswith("/"):
        path = posixpath.normpath(posixpath.join(posixpath.dirname(page_path), path))
    return path


def _feed_urls(data: bytes) -> tuple[str, list[str]]:
    """(channel, URLs) of an RSS, Atom, sitemap or sitemap-index document."""
    tree = ET.fromstring(data)
    if tree.tag == "rss":
        return FOUND_RSS, [el.text or "" for el in tree.iterfind("channel/item/link")]
    if tree.tag == f"{{{_NS['atom']}}}feed":
        links = tree.iterfind("atom:entry/atom:link", _NS)
        return FOUND_ATOM, [
            el.get("href", "") for el in links if el.get("rel", "alternate") == "alternate"
        ]
    if tree.tag == f"{{{_NS['sm']}}}sitemapindex":
        return FOUND_SITEMAP_INDEX, [
            el.text or "" for el in tree.iterfind("sm:sitemap/sm:loc", _NS)
        ]
    if tree.tag == f"{{{_NS['sm']}}}urlset":
        channel = (
            FOUND_NEWS_SITEMAP if tree.find("sm:url/news:news", _NS) is not None else FOUND_SITEMAP
        )
        return channel, [el.text or "" for el in tree.iterfind("sm:url/sm:loc", _NS)]
    raise ManifestError(f"unrecognised feed or sitemap root element {tree.tag!r}")


def _read_served(root: Path, path: str, base_url: str) -> bytes:
    file = file_for_path(root, path)
    if file is None:
        raise ManifestError(f"{path}: not a servable file path")
    return file.read_bytes().replace(BASE_PLACEHOLDER.encode(), base_url.encode())


def discovery(entries: Iterable[dict[str, Any]], root: Path, base_url: str) -> dict[str, set[str]]:
    """Which channels (links, alternate, rss, atom, sitemaps, robots) mention each site path."""
    found: dict[str, set[str]] = {}

    def note(channel: str, urls: Iterable[str], path: str) -> None:
        for url in urls:
            target = _local_path(url, base_url, path)
            # A page linking to itself does not make it any easier to find.
            if target is not None and target != path:
                found.setdefault(target, set()).add(channel)

    for entry in entries:
        kind, path = entry["kind"], entry["path"]
        if kind in ("article", "section"):
            charset = entry.get("charset", "utf-8")
            collector = _LinkCollector()
            collector.feed(_read_served(root, path, base_url).decode(charset))
            note(FOUND_ALTERNATE, collector.alternates, path)
            channel, urls = FOUND_LINKS, collector.hrefs
        elif kind in ("feed", "sitemap"):
            channel, urls = _feed_urls(_read_served(root, path, base_url))
        elif kind == "robots":
            text = _read_served(root, path, base_url).decode("utf-8")
            channel = FOUND_ROBOTS
            urls = re.findall(r"(?im)^\s*sitemap:\s*(\S+)", text)
        else:
            continue
        note(channel, urls, path)
    return found


def site_manifest(base_url: str, root: Path | None = None) -> list[PageInfo]:
    """Every URL the site serves, with its kind and, for articles, title, dates, language, template."""
    site = SITE_ROOT if root is None else root
    base = base_url.rstrip("/")
    entries = load_manifest(site)["pages"]
    found = discovery(entries, site, base)
    pages = []
    for e in entries:
        kind = e["kind"]
        location = e.get("location")
        pages.append(
            PageInfo(
                url=base + e["path"],
                path=e["path"],
                kind=kind,
                status=STATUS_BY_KIND.get(kind, 200),
                content_type=content_type_for(e),
                charset=e.get("charset", "utf-8"),
                title=e.get("title"),
                author=e.get("author"),
                published=_dt(e.get("published")),
                modified=_dt(e.get("modified")),
                language=e.get("language"),
                template=e.get("template"),
                location=None if location is None else base + location,
                content_encoding=e.get("content_encoding"),
                chunked=bool(e.get("chunked", False)),
                found_in=frozenset(found.get(e["path"], set())),
            )
        )
    return pages
