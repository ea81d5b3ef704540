"""Self-hosted ReplayWeb.page for the browser tests: its files, a WACZ served by byte ranges.

ReplayWeb.page (npm `replaywebpage`) and playwright-core come from tests/replayweb/, installed
by `make test` with `npm ci`; playwright-core drives Debian's chromium.  A small server on
127.0.0.1 serves a page embedding <replay-web-page>, its service worker, and the WACZ with
byte ranges, as a researcher would self-host it.
"""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.support.ci import unavailable
from tests.support.paths import ROOT

REPLAYWEB = ROOT / "tests" / "replayweb"
MODULES = REPLAYWEB / "node_modules"
# ReplayWeb.page's service worker serves its app under this path; sw.js must be served from it.
REPLAY_BASE = "/replay/"
WACZ_PATH = "/crawl.wacz"
_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


def replayweb_node() -> str:
    """node, with ReplayWeb.page and playwright-core installed: a failure under CI, else a skip."""
    node = shutil.which("node")
    missing = ""
    if node is None:
        missing = "node is not installed (Debian: apt-get install nodejs npm)"
    elif not all(
        (MODULES / p).exists()
        for p in ("replaywebpage/ui.js", "replaywebpage/sw.js", "playwright-core/package.json")
    ):
        missing = "ReplayWeb.page is not installed in tests/replayweb: run `make replayweb` (`make test` does)"
    if missing:
        unavailable(missing)
    assert node is not None
    return node


def embed_page(title: str, attributes: dict[str, str]) -> bytes:
    """A page embedding ReplayWeb.page over our WACZ, as the project's docs tell researchers."""
    attrs = " ".join(f'{name}="{escape(value)}"' for name, value in attributes.items())
    return (
        "<!doctype html>\n<html><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title>"
        f"<script src='{REPLAY_BASE}ui.js'></script></head>\n"
        "<body style='margin:0;height:100vh'>\n"
        f"<replay-web-page source='{WACZ_PATH}' replayBase='{REPLAY_BASE}' {attrs}>"
        "</replay-web-page>\n</body></html>\n"
    ).encode()


@dataclass
class Site:
    """What the local server serves, and the WACZ byte ranges it was asked for."""

    wacz: Path
    pages: dict[str, bytes]
    wacz_reads: list[tuple[int, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def file_for(self, path: str) -> Path | None:
        """The file behind a URL path: the WACZ or one of ReplayWeb.page's own files."""
        if path == WACZ_PATH:
            return self.wacz
        if path.startswith(REPLAY_BASE):
            # A directory's index.html, as any static server does: the embed's first load of
            # its frame may come before the service worker controls it.
            if path.endswith("/"):
                path += "index.html"
            root = (MODULES / "replaywebpage").resolve()
            target = (root / path.removeprefix(REPLAY_BASE)).resolve()
            if target.is_relative_to(root) and target.is_file():
                return target
        return None


class WaczHandler(BaseHTTPRequestHandler):
    """GET and HEAD with single byte ranges: ReplayWeb.page reads a WACZ by range requests."""

    site: Site

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _serve(self, body: bool) -> None:
        path = self.path.split("?", 1)[0]
        if path in self.site.pages:
            data = self.site.pages[path]
            self._send(200, "text/html; charset=utf-8", data, body)
            return
        file = self.site.file_for(path)
        if file is None:
            self._send(404, "text/plain", b"not found\n", body)
            return
        data = file.read_bytes()
        ctype = {".js": "text/javascript", ".html": "text/html", ".wacz": "application/wacz+zip"}
        mime = ctype.get(file.suffix, "application/octet-stream")
        match = _RANGE.match(self.headers.get("Range", ""))
        if match is None:
            if file == self.site.wacz and body:
                with self.site.lock:
                    self.site.wacz_reads.append((0, len(data)))
            self._send(200, mime, data, body)
            return
        first, last = match.groups()
        if first:
            start, end = int(first), min(int(last or len(data) - 1), len(data) - 1)
        else:
            start, end = max(0, len(data) - int(last)), len(data) - 1
        if start > end:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(data)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if file == self.site.wacz and body:
            with self.site.lock:
                self.site.wacz_reads.append((start, end + 1))
        self._send(206, mime, data[start : end + 1], body, f"bytes {start}-{end}/{len(data)}")

    def _send(
        self, status: int, mime: str, data: bytes, body: bool, content_range: str = ""
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", mime)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Cache-Control", "no-store")
        if content_range:
            self.send_header("Content-Range", content_range)
        self.end_headers()
        if body:
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve_wacz(wacz: Path, pages: dict[str, bytes]) -> Iterator[tuple[Site, str]]:
    """Serve the WACZ, ReplayWeb.page and `pages` on 127.0.0.1: the Site and its base URL."""
    served = Site(wacz, pages)
    handler = type("Handler", (WaczHandler,), {"site": served})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
