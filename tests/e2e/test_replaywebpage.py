"""A WACZ from `archiver export-wacz` opens in ReplayWeb.page, self-hosted, in headless Chromium.

The self-hosting (ReplayWeb.page's files, the WACZ by byte ranges) is tests/support/replayweb.py.
"""

from __future__ import annotations

import json
import subprocess
import time
import zipfile
from collections.abc import Iterator
from datetime import datetime
from operator import itemgetter
from pathlib import Path
from typing import Any

import pytest

from archiver.cli import main
from archiver.devserver.s3server import SeaweedServer
from tests.support.replayweb import (
    REPLAY_BASE,
    REPLAYWEB,
    WACZ_PATH,
    Site,
    embed_page,
    replayweb_node,
    serve_wacz,
)
from tests.support.retrieval import ArchivedCrawl, archived_crawl
from tests.support.tools import chromium

pytestmark = [pytest.mark.s3, pytest.mark.slow]

# Generous for a loaded 2-core machine; a healthy run needs about 5 s of it.
BROWSER_TIMEOUT_MS = 60_000


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
    with serve_wacz(wacz_file, pages) as served:
        yield served


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
