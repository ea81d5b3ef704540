"""A generated news site on 127.0.0.1 for benchmarks: N article pages of 50-200 KB each.

    .venv/bin/python -m bench.loopsite --pages 5000     # prints the base URL, serves until Ctrl-C

Article i serves the i-th page (cycling) of ../shared/datasets/article-extraction-benchmark
whose HTML is 50-200 KB (117 of its 181 pages, 104 KB on average), under a dated URL such
as /2026/11/20/story-000042.html, so the news spider takes it for an article, with a short
comment naming the article, so that no two articles are the same bytes.  A `<base>`
naming the page's original address is put at the start of its <head>: the page's own
relative links then point back to its original site, which every crawler here leaves
alone as off-site, so all tools fetch the same URLs.  The home page links to section pages
of 100 articles each; a crawl from "/" discovers every article in two hops.

The server is built for speed, so that a benchmark measures the crawler: every response
is prepared in memory before the first request (one copy per distinct dataset page), a
thread per connection answers keep-alive HTTP/1.1 with a single sendall, and nothing is
logged.  robots.txt allows everything and names no sitemap.

With requisites (`--requisites`, `LoopSite(requisites=True)`), every article also loads what its
original template loaded, from this server: each stylesheet, script, icon and image URL of the
page (src, srcset, data-src and the other lazy attributes, poster, CSS url() and @import) is
rewritten, once at start, to http://127.0.0.1:PORT/r/<hash>.<ext>, and the server answers those
with bodies of a size fixed by the hash (random bytes for images and fonts, text for CSS and
scripts). Stylesheets and scripts are the same URL on every article using a dataset page, as a
site's are; image URLs carry the article's number, so each article has photos of its own.
The <base>, and so every <a href>, is left as it is.

With a latency (`--latency-ms 20`, or `LoopSite.latency` in seconds, which may be changed
while serving), each response is held back that long before it is sent, as a distant
server's round trip would, in its connection's own thread: other connections are served
meanwhile, so a crawler with 16 connections waits 16 times less per page than one with one.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import re
import socket
import socketserver
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Self

from archiver.devserver.stopsignal import StopSignal
from bench._common import DATA, DatasetPage, load_pages

PER_SECTION = 100
# Articles are dated backwards from here, 100 a day, so URLs look like a news archive's.
FIRST_DAY = date(2026, 11, 20)
SERVER = b"news-archiver-loopsite"
_HEAD_RE = re.compile(rb"<head(\s[^>]*)?>", re.IGNORECASE)
# A request head longer than this is refused; real ones are a few hundred bytes.
_MAX_HEAD = 65536
# Requisites mode: tags that load something, the attributes that name it, CSS url() and @import.
_REQ_TAG = re.compile(rb"<(img|source|script|link|video|audio|input|meta)\b[^>]*>", re.I)
_REQ_ATTR = re.compile(
    rb"""\b(src|srcset|data-src|data-srcset|data-original|data-lazy-src|poster|href|content)"""
    rb"""(\s*=\s*)("[^"]*"|'[^']*')""",
    re.I,
)
_CSS_URL = re.compile(rb"""(url\(\s*['"]?|@import\s+['"])([^'")\s]+)""", re.I)
_LINK_REL = re.compile(rb"""\brel\s*=\s*["']?([^"'>]*)""", re.I)
# Image URLs carry the article's number here, put in as each article is sent.
ARTICLE_SLOT = b"@@@@@@@@@"
_TYPES = {
    b".css": b"text/css",
    b".js": b"text/javascript",
    b".png": b"image/png",
    b".gif": b"image/gif",
    b".jpg": b"image/jpeg",
    b".webp": b"image/webp",
    b".svg": b"image/svg+xml",
    b".woff2": b"font/woff2",
    b".ico": b"image/x-icon",
}
# Bodies are cut from this block: incompressible, as photos and fonts are.
_NOISE = random.Random(15).randbytes(256 * 1024)
_TEXT = b".story p{margin:0 0 1em;color:#222}\n/* loopsite requisite */\nfunction f(a){return a}\n"


def _response(status: bytes, content_type: bytes, body: bytes, close: bool = False) -> bytes:
    head = [
        b"HTTP/1.1 " + status,
        b"Server: " + SERVER,
        b"Content-Type: " + content_type,
        b"Content-Length: " + str(len(body)).encode(),
    ]
    if close:
        head.append(b"Connection: close")
    return b"\r\n".join(head) + b"\r\n\r\n" + body


def article_marker(index: int) -> bytes:
    """The comment that makes article `index` unique; the same width for every index."""
    return b"<!-- loopsite story %09d -->" % index


def _insert_at(html: bytes) -> int:
    match = _HEAD_RE.search(html)
    if match is None:
        return 0
    base_end = html.find(b">", match.end()) + 1 if html.startswith(b"<base ", match.end()) else 0
    return base_end or match.end()


def _extension(url: bytes, tag: bytes, rel: bytes) -> bytes:
    path = url.split(b"?", 1)[0].split(b"#", 1)[0].lower()
    for ext in _TYPES:
        if path.endswith(ext) or (ext == b".jpg" and path.endswith(b".jpeg")):
            return ext
    if tag == b"script":
        return b".js"
    if tag == b"link":
        return b".css" if b"stylesheet" in rel else b".ico"
    return b".jpg"


def requisite_body(path: bytes) -> tuple[bytes, bytes]:
    """(Content-Type, body) of a /r/ path: a size and bytes fixed by the path."""
    name = path.rsplit(b"/", 1)[-1]
    ext = name[name.rfind(b".") :] if b"." in name else b".jpg"
    seed = int.from_bytes(hashlib.sha1(name, usedforsecurity=False).digest()[:4], "big")
    if ext in (b".css", b".js"):
        size = 4 * 1024 + seed % (40 * 1024)
        return _TYPES[ext] + b"; charset=utf-8", (_TEXT * (size // len(_TEXT) + 1))[:size]
    size = 2 * 1024 + seed % (60 * 1024)
    start = seed % (len(_NOISE) - size)
    return _TYPES.get(ext, b"image/jpeg"), _NOISE[start : start + size]


def with_requisites(html: bytes, base: str) -> bytes:
    """The page with every requisite URL pointing at this server (see the module doc)."""
    origin = base.encode()

    def local(url: bytes, tag: bytes, rel: bytes, per_article: bool) -> bytes:
        stripped = url.strip()
        if not stripped or stripped.startswith((b"data:", b"#", b"javascript:", b"about:")):
            return url
        digest = hashlib.sha1(stripped, usedforsecurity=False).hexdigest()[:12].encode()
        ext = _extension(stripped, tag, rel)
        slot = b"-" + ARTICLE_SLOT if per_article and ext not in (b".css", b".js") else b""
        return origin + b"/r/" + digest + slot + ext

    def tag_sub(match: re.Match[bytes]) -> bytes:
        text, tag = match.group(0), match.group(1).lower()
        rel_match = _LINK_REL.search(text)
        rel = rel_match.group(1).lower() if rel_match else b""
        if tag == b"link" and not any(w in rel for w in (b"stylesheet", b"icon", b"preload")):
            return text
        if tag == b"meta" and not re.search(rb"""(og|twitter):image""", text, re.I):
            return text

        def attr_sub(attr: re.Match[bytes]) -> bytes:
            name = attr.group(1).lower()
            if (name == b"href") != (tag == b"link") or (name == b"content") != (tag == b"meta"):
                return attr.group(0)
            quote, value = attr.group(3)[:1], attr.group(3)[1:-1]
            per_article = tag not in (b"link", b"script")
            if name.endswith(b"srcset"):
                parts = []
                for candidate in value.split(b","):
                    words = candidate.split()
                    if words:
                        words[0] = local(words[0], tag, rel, per_article)
                    parts.append(b" ".join(words))
                value = b", ".join(parts)
            else:
                value = local(value, tag, rel, per_article)
            return attr.group(1) + attr.group(2) + quote + value + quote

        return _REQ_ATTR.sub(attr_sub, text)

    html = _REQ_TAG.sub(tag_sub, html)
    return _CSS_URL.sub(lambda m: m.group(1) + local(m.group(2), b"style", b"", True), html)


def with_base(page: DatasetPage) -> bytes:
    """The page's HTML with <base href=original URL> first in its head (see the module doc)."""
    if not page.url:
        return page.html
    tag = b'<base href="' + page.url.replace('"', "%22").encode("utf-8") + b'">'
    match = _HEAD_RE.search(page.html)
    if match is None:
        return tag + page.html
    return page.html[: match.end()] + tag + page.html[match.end() :]


class LoopSite:
    """Serves `pages` generated articles, their section pages and a home page on 127.0.0.1."""

    def __init__(
        self,
        pages: int,
        data: Path = DATA,
        per_section: int = PER_SECTION,
        latency: float = 0.0,
        requisites: bool = False,
    ) -> None:
        if pages < 1 or per_section < 1:
            raise ValueError("pages and per_section must be positive")
        if latency < 0:
            raise ValueError("latency must not be negative")
        self.pages = pages
        # Seconds each response waits before it is sent (see the module doc).
        self.latency = latency
        self.per_section = per_section
        # Articles load their requisites from this server (see the module doc).
        self.requisites = requisites
        dataset = load_pages(data)
        self.dataset = dataset
        # Each article gets a marker of fixed width after the <base>, so that no two articles
        # are the same bytes (identical payloads would be archived as revisits and cleaned
        # once) while the large parts around it are shared by every article using the page.
        self._parts: list[tuple[bytes, bytes, bytes]] = []
        self._prepare("")
        self._routes: dict[bytes, bytes] = {}
        self._article_paths = [self._article_path(i) for i in range(pages)]
        self.sections = (pages + per_section - 1) // per_section
        self._not_found = _response(b"404 Not Found", b"text/plain", b"not found\n")
        self._build_routes()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def _prepare(self, base: str) -> None:
        """The articles' response parts; with requisites, their URLs point at `base`."""
        self._parts = []
        for page in self.dataset:
            html = with_base(page)
            if self.requisites and base:
                html = with_requisites(html, base)
            cut = _insert_at(html)
            head = _response(
                b"200 OK", b"text/html; charset=utf-8", b"x" * (len(html) + len(article_marker(0)))
            )
            head = head[: head.index(b"\r\n\r\n") + 4]
            self._parts.append((head + html[:cut], html[cut:], html))

    @staticmethod
    def _article_path(i: int) -> str:
        day = FIRST_DAY - timedelta(days=i // 100)
        return f"/{day:%Y/%m/%d}/story-{i:06d}.html"

    def _build_routes(self) -> None:
        html = b"text/html; charset=utf-8"
        nav = "".join(
            f'<li><a href="/section/{s:03d}.html">Section {s}</a></li>'
            for s in range(self.sections)
        )
        home = (
            "<!DOCTYPE html><html><head><title>Loopback News</title></head><body>"
            f"<h1>Loopback News</h1><ul>{nav}</ul></body></html>"
        ).encode()
        self._routes[b"/"] = _response(b"200 OK", html, home)
        for s in range(self.sections):
            first = s * self.per_section
            items = "".join(
                f'<li><a href="{self._article_paths[i]}">Story {i}</a></li>'
                for i in range(first, min(first + self.per_section, self.pages))
            )
            page = (
                f"<!DOCTYPE html><html><head><title>Section {s}</title></head><body>"
                f'<h1>Section {s}</h1><p><a href="/">Home</a></p><ul>{items}</ul></body></html>'
            ).encode()
            self._routes[f"/section/{s:03d}.html".encode()] = _response(b"200 OK", html, page)
        self._routes[b"/robots.txt"] = _response(
            b"200 OK", b"text/plain", b"User-agent: *\nDisallow:\n"
        )
        # Articles are looked up by number instead of stored per path: 20,000 pages of 107 KB
        # would otherwise hold 2 GB.
        self._articles = {p.encode(): i for i, p in enumerate(self._article_paths)}

    def response_for(self, path: bytes) -> bytes:
        """The complete response (head and body) for a request path."""
        index = self._articles.get(path)
        if index is not None:
            before, after, _ = self._parts[index % len(self._parts)]
            if self.requisites:
                return before + article_marker(index) + after.replace(ARTICLE_SLOT, b"%09d" % index)
            return before + article_marker(index) + after
        if self.requisites and path.startswith(b"/r/"):
            content_type, body = requisite_body(path)
            return _response(b"200 OK", content_type, body)
        return self._routes.get(path, self._not_found)

    def article_path(self, index: int) -> str:
        """The URL path of article `index`."""
        return self._article_paths[index]

    def article_body(self, index: int) -> bytes:
        """The HTML served for article `index` (with requisites: as sent, URLs filled in)."""
        response = self.response_for(self._article_paths[index].encode())
        return response[response.index(b"\r\n\r\n") + 4 :]

    @property
    def url(self) -> str:
        """The base URL, http://127.0.0.1:PORT (no trailing slash)."""
        if self._server is None:
            raise RuntimeError("the site is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def urls(self) -> list[str]:
        """Every page a crawl from "/" finds: home, sections, articles (robots.txt not included)."""
        base = self.url
        sections = [f"{base}/section/{s:03d}.html" for s in range(self.sections)]
        return [f"{base}/", *sections, *(base + p for p in self._article_paths)]

    @property
    def article_bytes(self) -> int:
        """Total size of the article bodies the site serves."""
        sizes = [len(html) + len(article_marker(0)) for _, _, html in self._parts]
        return sum(sizes[i % len(sizes)] for i in range(self.pages))

    def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Start serving in a background thread."""
        self._server = _Server((host, port), self)
        if self.requisites:
            self._prepare(self.url)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="loopsite", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close every connection."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Scrapy opens 16 connections at once; the default backlog of 5 would make some wait.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], site: LoopSite) -> None:
        self.site = site
        super().__init__(address, _Handler)


class _Handler(socketserver.BaseRequestHandler):
    """Keep-alive HTTP/1.1: read a request head, send the prepared response, repeat."""

    server: _Server

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        site = self.server.site
        buffer = b""
        while True:
            end = buffer.find(b"\r\n\r\n")
            while end < 0:
                if len(buffer) > _MAX_HEAD:
                    return
                try:
                    data = sock.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                buffer += data
                end = buffer.find(b"\r\n\r\n")
            head, buffer = buffer[:end], buffer[end + 4 :]
            request_line, _, headers = head.partition(b"\r\n")
            parts = request_line.split(b" ")
            if len(parts) != 3:
                return
            method, target, version = parts
            path = target.split(b"?", 1)[0]
            close = version == b"HTTP/1.0" or b"connection: close" in headers.lower()
            response = site.response_for(path)
            if method == b"HEAD":
                response = response[: response.find(b"\r\n\r\n") + 4]
            if site.latency > 0:
                # Only this connection's thread waits; the others go on being served.
                time.sleep(site.latency)
            try:
                sock.sendall(response)
            except OSError:
                return
            if close:
                return


def main(argv: list[str] | None = None) -> int:
    """Serve the generated site until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=5000, help="article pages (default 5000)")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any)")
    parser.add_argument("--data", type=Path, default=DATA, help="the article-extraction-benchmark")
    parser.add_argument("--urls", type=Path, help="also write every page's URL to this file")
    parser.add_argument(
        "--latency-ms", type=float, default=0.0, help="hold each response back this long"
    )
    parser.add_argument(
        "--requisites", action="store_true", help="articles load stylesheets, scripts, images"
    )
    args = parser.parse_args(argv)
    if args.latency_ms < 0:
        parser.error("--latency-ms must not be negative")
    stop = StopSignal()
    site = LoopSite(
        args.pages, args.data, latency=args.latency_ms / 1000, requisites=args.requisites
    )
    site.start(port=args.port)
    try:
        print(site.url, flush=True)
        if args.urls:
            args.urls.write_text("\n".join(site.urls()) + "\n", encoding="utf-8")
        print(
            f"{site.pages} articles in {site.sections} sections, "
            f"{site.article_bytes / site.pages / 1024:.1f} KB each on average; "
            f"started {datetime.now(UTC):%H:%M:%S} UTC",
            file=sys.stderr,
            flush=True,
        )
        stop.wait()
    finally:
        site.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
