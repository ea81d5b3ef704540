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
# Absolute URLs of the CDN host are written with this one; the servers put the CDN's base URL there.
CDN_PLACEHOLDER = "{{CDN}}"
# The CDN host: a second server on another loopback address, under its own host name, on the same
# port as the site. Crawlers map the name with ARCHIVER_HOSTS, browsers with --host-resolver-rules.
CDN_HOST = "cdn.sample.test"
CDN_ADDRESS = "127.0.0.2"
# Files the CDN serves live under this directory of the site root (never served by the site itself).
CDN_DIR = "_cdn"

KINDS = frozenset(
    {
        "article", "section", "feed", "sitemap", "robots", "redirect", "not_found", "error",
        "private", "requisite",
    }
)  # fmt: skip
# What a page needs to render, by PageInfo.requisite: the ARCHIVER_REQUISITES groups they fall in.
REQUISITE_TYPES = frozenset({"style", "font", "image", "script", "icon"})
HOSTS = frozenset({"site", "cdn"})
STATUS_BY_KIND = {"redirect": 301, "not_found": 404, "error": 500}
# Kinds whose response body is a file under the site root at the URL's own path.
FILE_KINDS = frozenset({"article", "section", "feed", "sitemap", "robots", "private", "requisite"})
MEDIA_TYPES = {
    ".html": "text/html",
    ".xml": "application/xml",
    ".atom": "application/atom+xml",
    ".txt": "text/plain",
    ".css": "text/css",
    ".js": "text/javascript",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".webp": "image/webp",
    ".gif": "image/gif",
    ".woff2": "font/woff2",
}
# Media types sent without a charset parameter.
BINARY_PREFIXES = ("image/", "font/")
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
    # "site", or "cdn" for a file of the CDN host (its url starts with the CDN's base URL).
    host: str = "site"
    # For kind "requisite": style, font, image, script or icon.
    requisite: str | None = None
    # Served by code, not from a file (the very large image).
    generated: bool = False
    # Refused to crawlers by its host's robots.txt (the tracking pixel).
    disallowed: bool = False

    @property
    def media_type(self) -> str:
        """Content-Type header value the server sends for this page (with charset if textual)."""
        return header_media_type(self.content_type, self.charset)


def header_media_type(content_type: str, charset: str) -> str:
    """Content-Type header value: images and fonts go without a charset parameter."""
    if content_type.startswith(BINARY_PREFIXES):
        return content_type
    return f"{content_type}; charset={charset}"


def cdn_url_for(base_url: str) -> str:
    """The CDN's base URL for a site base URL: the CDN host name on the site's port."""
    port = urlsplit(base_url).port
    return f"http://{CDN_HOST}" + (f":{port}" if port else "")


def entry_root(root: Path, entry: dict[str, Any]) -> Path:
    """Directory a manifest entry's file is served from: the site root, or its CDN directory."""
    return root / CDN_DIR if entry.get("host") == "cdn" else root


def substitute(data: bytes, base_url: str, cdn_url: str) -> bytes:
    """File bytes with the {{BASE}} and {{CDN}} placeholders filled in."""
    return data.replace(BASE_PLACEHOLDER.encode(), base_url.encode()).replace(
        CDN_PLACEHOLDER.encode(), cdn_url.encode()
    )


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
        if entry.get("host", "site") not in HOSTS:
            raise ManifestError(f"{MANIFEST_NAME}: unknown host in {entry!r}")
        if entry["kind"] == "requisite" and entry.get("requisite") not in REQUISITE_TYPES:
            raise ManifestError(f"{MANIFEST_NAME}: unknown requisite type in {entry!r}")
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
    return substitute(file.read_bytes(), base_url, cdn_url_for(base_url))


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
        if entry.get("host", "site") != "site":
            continue  # the CDN's files link nowhere
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
    """Every URL the site and its CDN serve: kind, and for articles title, dates, language, template.

    The CDN's URLs start with cdn_url_for(base_url), the SampleSite's cdn_url.
    """
    site = SITE_ROOT if root is None else root
    base = base_url.rstrip("/")
    cdn = cdn_url_for(base)
    entries = load_manifest(site)["pages"]
    found = discovery(entries, site, base)
    pages = []
    for e in entries:
        kind = e["kind"]
        location = e.get("location")
        host = e.get("host", "site")
        pages.append(
            PageInfo(
                url=(cdn if host == "cdn" else base) + e["path"],
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
                found_in=frozenset(found.get(e["path"], set()) if host == "site" else ()),
                host=host,
                requisite=e.get("requisite"),
                generated=bool(e.get("generated", False)),
                disallowed=bool(e.get("disallowed", False)),
            )
        )
    return pages
