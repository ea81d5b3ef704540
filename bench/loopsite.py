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

With a latency (`--latency-ms 20`, or `LoopSite.latency` in seconds, which may be changed
while serving), each response is held back that long before it is sent, as a distant
server's round trip would, in its connection's own thread: other connections are served
meanwhile, so a crawler with 16 connections waits 16 times less per page than one with one.
"""

from __future__ import annotations

import argparse
import re
import signal
import socket
import socketserver
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import FrameType, TracebackType
from typing import Self

from bench._common import DATA, DatasetPage, load_pages

PER_SECTION = 100
# Articles are dated backwards from here, 100 a day, so URLs look like a news archive's.
FIRST_DAY = date(2026, 11, 20)
SERVER = b"news-archiver-loopsite"
_HEAD_RE = re.compile(rb"<head(\s[^>]*)?>", re.IGNORECASE)
# A request head longer than this is refused; real ones are a few hundred bytes.
_MAX_HEAD = 65536


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
    ) -> None:
        if pages < 1 or per_section < 1:
            raise ValueError("pages and per_section must be positive")
        if latency < 0:
            raise ValueError("latency must not be negative")
        self.pages = pages
        # Seconds each response waits before it is sent (see the module doc).
        self.latency = latency
        self.per_section = per_section
        dataset = load_pages(data)
        self.dataset = dataset
        # Each article gets a marker of fixed width after the <base>, so that no two articles
        # are the same bytes (identical payloads would be archived as revisits and cleaned
        # once) while the large parts around it are shared by every article using the page.
        self._parts: list[tuple[bytes, bytes, bytes]] = []
        for page in dataset:
            html = with_base(page)
            cut = _insert_at(html)
            head = _response(
                b"200 OK", b"text/html; charset=utf-8", b"x" * (len(html) + len(article_marker(0)))
            )
            head = head[: head.index(b"\r\n\r\n") + 4]
            self._parts.append((head + html[:cut], html[cut:], html))
        self._routes: dict[bytes, bytes] = {}
        self._article_paths = [self._article_path(i) for i in range(pages)]
        self.sections = (pages + per_section - 1) // per_section
        self._not_found = _response(b"404 Not Found", b"text/plain", b"not found\n")
        self._build_routes()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

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
            return before + article_marker(index) + after
        return self._routes.get(path, self._not_found)

    def article_path(self, index: int) -> str:
        """The URL path of article `index`."""
        return self._article_paths[index]

    def article_body(self, index: int) -> bytes:
        """The HTML served for article `index`."""
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
    args = parser.parse_args(argv)
    if args.latency_ms < 0:
        parser.error("--latency-ms must not be negative")
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    site = LoopSite(args.pages, args.data, latency=args.latency_ms / 1000)
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
