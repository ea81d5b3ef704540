"""A WACZ from `archiver export-wacz` opens in ReplayWeb.page, self-hosted, in headless Chromium.

ReplayWeb.page (npm `replaywebpage`) and playwright-core come from tests/replayweb/, installed
by `make test` with `npm ci`; playwright-core drives Debian's chromium.  A small server on
127.0.0.1 serves a page embedding <replay-web-page>, its service worker, and the WACZ with
byte ranges, as a researcher would self-host it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from operator import itemgetter
from pathlib import Path
from typing import Any

import pytest

from archiver.cli import main
from archiver.devserver.s3server import SeaweedServer
from tests.support.ci import unavailable
from tests.support.paths import ROOT
from tests.support.retrieval import ArchivedCrawl, archived_crawl
from tests.support.tools import chromium

pytestmark = [pytest.mark.s3, pytest.mark.slow]

REPLAYWEB = ROOT / "tests" / "replayweb"
MODULES = REPLAYWEB / "node_modules"
# ReplayWeb.page's service worker serves its app under this path; sw.js must be served from it.
REPLAY_BASE = "/replay/"
WACZ_PATH = "/crawl.wacz"
# Generous for a loaded 2-core machine; a healthy run needs about 5 s of it.
BROWSER_TIMEOUT_MS = 60_000
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


class _Handler(BaseHTTPRequestHandler):
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


@pytest.fixture(scope="module")
def crawl(s3_server: SeaweedServer, tmp_path_factory: pytest.TempPathFactory) -> ArchivedCrawl:
    return archived_crawl(s3_server, tmp_path_factory.mktemp("retrieval"))


@pytest.fixture(scope="module")
def wacz_file(crawl: ArchivedCrawl, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wacz") / "crawl.wacz"
    code = main([*crawl.settings(), "export-wacz", "--crawl", crawl.crawl_id, "-o", str(out)])
    assert code == 0
    return out


@pytest.fixture
def site(wacz_file: Path, crawl: ArchivedCrawl) -> Iterator[tuple[Site, str]]:
    pages = {
        "/article.html": embed_page("An archived article", {"url": crawl.seed_url}),
        "/pages.html": embed_page("The archived pages", {"view": "pages"}),
    }
    served = Site(wacz_file, pages)
    handler = type("Handler", (_Handler,), {"site": served})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def pages_jsonl(wacz: Path) -> list[dict[str, Any]]:
    """The page entries of the WACZ's pages.jsonl, header left out."""
    with zipfile.ZipFile(wacz) as zf:
        lines = zf.read("pages/pages.jsonl").decode().splitlines()[1:]
    return [json.loads(line) for line in lines]


def epoch_ms(iso: str) -> int:
    """Milliseconds since the epoch of a pages.jsonl timestamp, as ReplayWeb.page keeps them."""
    return int(datetime.fromisoformat(iso).timestamp() * 1000)


@pytest.fixture(scope="module")
def tools() -> tuple[str, Path]:
    """node and chromium; module-scoped and asked for first, so a skip comes before the crawl."""
    return replayweb_node(), chromium()


def test_replaywebpage_shows_the_archived_article_and_the_page_list(
    tools: tuple[str, Path],
    site: tuple[Site, str],
    crawl: ArchivedCrawl,
    wacz_file: Path,
    tmp_path: Path,
) -> None:
    node, browser = tools
    served, base = site
    sentence = crawl.seed["body"].split(".")[0] + "."
    pages = pages_jsonl(wacz_file)
    articles = {p.url for p in crawl.articles()}
    titles = sorted(p["title"] for p in pages if p["url"] in articles)
    assert crawl.seed["title"] in titles
    options = {
        "chromium": str(browser),
        "profile": str(tmp_path / "profile"),
        "timeoutMs": BROWSER_TIMEOUT_MS,
        "replay": {"page": base + "/article.html", "url": crawl.seed_url, "waitFor": sentence},
        "pages": {
            "page": base + "/pages.html",
            "appPath": REPLAY_BASE,
            "source": base + WACZ_PATH,
            "waitFor": crawl.seed["title"],
            "titles": titles,
        },
    }
    started = time.monotonic()
    proc = subprocess.run(
        [node, str(REPLAYWEB / "open.mjs"), json.dumps(options)],
        cwd=REPLAYWEB,
        capture_output=True,
        text=True,
        timeout=BROWSER_TIMEOUT_MS / 1000 * 2 + 30,
    )
    print(f"ReplayWeb.page in chromium: {time.monotonic() - started:.1f} s")
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = json.loads(proc.stdout.splitlines()[-1])
    # A check that failed outright reports null (its error is in the console list).
    replay = seen["replay"] or {"frameUrl": None, "title": "", "text": ""}
    listed = seen["pages"] or {"visible": [], "loaded": None}
    context = json.dumps(seen["console"])[-2000:]

    # The article, replayed from the WACZ inside ReplayWeb.page's replay frame.
    assert replay["frameUrl"] and replay["frameUrl"].endswith("mp_/" + crawl.seed_url), context
    assert crawl.seed["title"] in replay["title"], context
    assert crawl.seed["title"] in replay["text"], context
    assert sentence in replay["text"], context
    # Every article's pages.jsonl title is shown in the page list.
    assert sorted(listed["visible"]) == titles, context
    # ReplayWeb.page read every pages.jsonl entry as written: URL, time, title and text (it
    # shows the URL as the title of a page that has none).
    expected = [
        {
            "url": p["url"],
            "ts": epoch_ms(p["ts"]),
            "title": p.get("title") or p["url"],
            **({"text": p["text"]} if "text" in p else {}),
        }
        for p in pages
    ]
    key = itemgetter("url", "ts")
    assert sorted(listed["loaded"] or [], key=key) == sorted(expected, key=key), context
    # Nothing left 127.0.0.1, and the WACZ was read by ranges, never downloaded whole.
    assert seen["offsite"] == []
    size = wacz_file.stat().st_size
    reads = served.wacz_reads
    assert reads and sum(end - start for start, end in reads) < size, reads
