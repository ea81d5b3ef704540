"""A generated news site on 127.0.0.1 of any size, for soak and crash tests (bench/soak.py).

Page ``/p/{i}.html`` (0 <= i < pages) is a small article (about 2 KB, its text derived
from i, so every page differs) that links to its children ``i*fanout+1 ... i*fanout+fanout``;
``/`` links to page 0.  A crawl from ``/`` therefore finds every page once, in a tree of
depth log(pages)/log(fanout).  ``robots.txt`` allows everything.  The server counts every
request per path (``served``), so a test can tell pages fetched twice from pages never
fetched, and can slow every page down (``delay``) to keep a crawl running for a while.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

from archiver.devserver.stopsignal import StopSignal

_WORDS = [
    "harbour",
    "council",
    "ferry",
    "budget",
    "school",
    "river",
    "storm",
    "market",
    "bridge",
    "station",
    "library",
    "minister",
    "court",
    "festival",
    "rail",
    "energy",
    "water",
    "housing",
    "police",
    "clinic",
    "port",
    "museum",
    "farmers",
    "league",
    "transit",
    "union",
    "plan",
    "vote",
    "report",
    "season",
    "record",
    "shift",
]


def page_path(i: int) -> str:
    """URL path of page i."""
    return f"/p/{i}.html"


def page_index(path: str) -> int | None:
    """The page number a URL path names, or None."""
    if not (path.startswith("/p/") and path.endswith(".html")):
        return None
    number = path[3:-5]
    return int(number) if number.isdigit() and (number == "0" or number[0] != "0") else None


def page_html(i: int, pages: int, fanout: int) -> bytes:
    """The HTML of page i: a headline, five paragraphs derived from i, links to its children."""
    seed = hashlib.sha256(str(i).encode()).digest()
    words = [_WORDS[b % len(_WORDS)] for b in seed]
    title = f"Story {i}: {' '.join(words[:6])}"
    paragraphs = "".join(
        f"<p>Report {i}.{n}: " + " ".join(words[n:] + words[:n]) * 2 + ".</p>\n" for n in range(5)
    )
    children = range(i * fanout + 1, min(i * fanout + fanout, pages - 1) + 1)
    links = "".join(f'<li><a href="{page_path(c)}">story {c}</a></li>' for c in children)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta property="og:type" content="article"><title>{title}</title></head>\n'
        f"<body><article><h1>{title}</h1>\n{paragraphs}</article>\n"
        f"<ul>{links}</ul></body></html>\n"
    ).encode()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        site = self.server.site
        path = self.path.split("?", 1)[0]
        with site._lock:
            site.served[path] += 1
        status, ctype, body = (
            404,
            "text/html; charset=utf-8",
            b"<html><body>not found</body></html>",
        )
        index = page_index(path)
        if path == "/":
            status, body = (
                200,
                f'<html><body><a href="{page_path(0)}">start</a></body></html>'.encode(),
            )
        elif path == "/robots.txt":
            status, ctype, body = 200, "text/plain", b"User-agent: *\nAllow: /\n"
        elif index is not None and index < site.pages:
            if site.delay:
                time.sleep(site.delay)
            status, body = 200, page_html(index, site.pages, site.fanout)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], site: GeneratedSite) -> None:
        self.site = site
        super().__init__(address, _Handler)


class GeneratedSite:
    """The generated site served from a thread; a context manager like SampleSite."""

    def __init__(self, pages: int, *, fanout: int = 10, delay: float = 0.0) -> None:
        if pages < 1 or fanout < 1:
            raise ValueError("pages and fanout must be 1 or more")
        self.pages = pages
        self.fanout = fanout
        self.delay = delay
        self.served: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Serve on host:port (a free port by default) in a background thread."""
        self._server = _Server((host, port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    @property
    def url(self) -> str:
        """Base URL without a trailing slash."""
        if self._server is None:
            raise RuntimeError("the generated site is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def page_urls(self) -> list[str]:
        """Every page URL the site serves (the front page and robots.txt aside)."""
        return [self.url + page_path(i) for i in range(self.pages)]

    def served_pages(self) -> Counter[str]:
        """How often each page path was requested so far."""
        with self._lock:
            return Counter({p: n for p, n in self.served.items() if page_index(p) is not None})

    def __enter__(self) -> Self:
        if self._server is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """Serve a generated site until SIGINT or SIGTERM; the first line on stdout is its URL."""
    parser = argparse.ArgumentParser(prog="python -m archiver.devserver.samplesite.generated")
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--fanout", type=int, default=10)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each page")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    stop = StopSignal()
    site = GeneratedSite(args.pages, fanout=args.fanout, delay=args.delay)
    site.start(port=args.port)
    try:
        print(site.url, flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        site.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
