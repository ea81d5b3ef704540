"""`archiver serve` in Debian's headless Chromium, over a crawl of the sample site in SeaweedFS.

A copy of the sample site gets one article with HTML and script in its title and text; the
crawl stores it with the others (WARCs, the archive index, articles.parquet). The test then
starts `archiver serve`, and a script (tests/replayweb/serve.mjs, playwright-core) searches a
phrase of the seed article, opens it, follows the replay link into pywb, applies a site facet
and a date range, downloads the CSV, and tries hostile queries; screenshots of the search and
article pages are taken, and copied to docs/img/ when ARCHIVER_UPDATE_DOC_IMAGES=1.
"""

from __future__ import annotations

import csv
import html
import io
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.devserver.s3server import SeaweedServer
from archiver.devserver.samplesite import EXPECTED_DIR, SITE_ROOT, SampleSite
from tests.support.ci import unavailable
from tests.support.crawl import PREFIX, crawl_command, run_crawl
from tests.support.paths import ROOT
from tests.support.tools import PYWB_VENV, chromium, free_port, pywb_bin

pytestmark = [pytest.mark.s3, pytest.mark.slow]

REPLAYWEB = ROOT / "tests" / "replayweb"
DOCS_IMAGES = ROOT / "docs" / "img"
UPDATE_DOCS = os.environ.get("ARCHIVER_UPDATE_DOC_IMAGES") == "1"
HOSTILE_PATH = "a/418230-council-approves-late-night-bus-routes.html"
HOSTILE_WORD = "Quuxplanted"
HOSTILE_TITLE = f'{HOSTILE_WORD} <script>alert("title")</script> <img src=x onerror=alert(1)>'
HOSTILE_PARAGRAPH = (
    f"{HOSTILE_WORD} readers saw <script>alert('text')</script> and <b>bold</b> tags and "
    "<img src=y onerror=alert(2)> written out as plain words in this paragraph of the article."
)
# Words of the seed article's body; its title does not hold them.
PHRASE = "European peacekeeping forces"


def plant_hostile_article(root: Path) -> None:
    """Give one article of the copied site HTML and script in its title and text, as text."""
    page = root / HOSTILE_PATH
    source = page.read_text(encoding="utf-8")
    manifest = json.loads((root / "_manifest.json").read_text(encoding="utf-8"))
    path = "/" + HOSTILE_PATH.removesuffix(".html")
    title = next(p["title"] for p in manifest["pages"] if p["path"] == path)
    assert html.escape(title, quote=False) in source, "the planted page's title moved"
    source = source.replace(html.escape(title, quote=False), html.escape(HOSTILE_TITLE, quote=True))
    first = source.index("<p>")
    source = source[:first] + f"<p>{html.escape(HOSTILE_PARAGRAPH)}</p>\n" + source[first:]
    page.write_text(source, encoding="utf-8")


@dataclass
class Served:
    """A crawl of the hostile copy in a bucket, and `archiver serve` over it."""

    url: str
    proc: subprocess.Popen[str]
    site_url: str
    seed: dict[str, Any]
    stderr: Path


def _tools() -> tuple[str, Path]:
    node = shutil.which("node")
    if node is None:
        unavailable("node is not installed (Debian: apt-get install nodejs npm)")
    if not (REPLAYWEB / "node_modules" / "playwright-core" / "package.json").exists():
        unavailable("playwright-core is not installed in tests/replayweb: run `make replayweb`")
    assert node is not None
    return node, chromium()


@pytest.fixture(scope="module")
def tools() -> tuple[str, Path]:
    """node with playwright-core, chromium and pywb: asked for first, so a skip comes early."""
    found = _tools()
    pywb_bin()
    return found


@pytest.fixture(scope="module")
def served(
    tools: tuple[str, Path], s3_server: SeaweedServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    work = tmp_path_factory.mktemp("serve")
    shutil.copytree(SITE_ROOT, work / "site")
    plant_hostile_article(work / "site")
    bucket = "serve-" + os.urandom(4).hex()
    s3_server.create_bucket(bucket)
    with SampleSite(root=work / "site") as site:
        command = crawl_command(site.url, work / "spool", bucket, s3_server.endpoint_url)
        proc = run_crawl(command, s3_server, work / "crawl.log")
        assert proc.returncode == 0, (work / "crawl.log").read_text(encoding="utf-8")[-4000:]
        site_url = site.url
    (work / "var").mkdir()
    (work / "var" / "pywb-venv").symlink_to(PYWB_VENV)
    stderr = work / "serve.err"
    with open(stderr, "w", encoding="utf-8") as err:
        serve = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "archiver",
                "-s",
                f"ARCHIVER_S3_BUCKET={bucket}",
                "-s",
                f"ARCHIVER_S3_PREFIX={PREFIX}",
                "-s",
                f"ARCHIVER_INDEX_CACHE_DIR={work / 'index-cache'}",
                "serve",
                "--port",
                "0",
                "--replay-port",
                str(free_port()),
            ],
            # Relative defaults (var/search, var/pywb-venv, var/serve-replay) land in work.
            cwd=work,
            env={**os.environ, **s3_server.env()},
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    try:
        assert serve.stdout is not None
        url = serve.stdout.readline().strip()
        if not url:
            serve.wait(timeout=60)
            pytest.fail(f"archiver serve printed no URL: {stderr.read_text()[-3000:]}")
        deadline = time.monotonic() + 60
        while "Ctrl-C stops it" not in stderr.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        seed = json.loads((EXPECTED_DIR / "seed-article.json").read_text(encoding="utf-8"))
        yield Served(url, serve, site_url, seed, stderr)
    finally:
        serve.terminate()
        code = serve.wait(timeout=60)
    # SIGTERM stops it cleanly: exit 0, pywb stopped with it.
    assert code == 0, stderr.read_text()[-3000:]


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_serve_prints_a_loopback_url_first(served: Served) -> None:
    assert served.url.startswith("http://127.0.0.1:") and served.url.endswith("/")
    log = served.stderr.read_text()
    assert "search index:" in log and "replay in pywb at http://127.0.0.1:" in log


def test_a_researcher_searches_reads_cites_replays_filters_and_downloads(
    served: Served, tools: tuple[str, Path], tmp_path: Path
) -> None:
    node, browser = tools
    shots = tmp_path / "shots"
    shots.mkdir()
    seed_url = served.site_url + served.seed["url_path"]
    options = {
        "chromium": str(browser),
        "profile": str(tmp_path / "profile"),
        "timeoutMs": 60_000,
        "base": served.url,
        "phrase": PHRASE,
        "seedTitle": served.seed["title"],
        # The seed article was published 2026-09-13.
        "from": "2026-09-01",
        "to": "2026-09-30",
        "lateFrom": "2026-10-01",
        "hostileWord": HOSTILE_WORD,
        "hostileQueries": [
            '"unbalanced',
            "NEAR(forces peacekeeping)",
            "forces AND NOT",
            "title:Kremlin",
            "-forces *",
            "(((",
            "a" * 10_000,
        ],
        "csvPath": str(tmp_path / "results.csv"),
        "searchShot": str(shots / "serve-search.png"),
        "articleShot": str(shots / "serve-article.png"),
    }
    started = time.monotonic()
    proc = subprocess.run(
        [node, str(REPLAYWEB / "serve.mjs"), json.dumps(options)],
        cwd=REPLAYWEB,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = json.loads(proc.stdout)
    assert seen["errors"] == [], (seen["errors"], time.monotonic() - started)
    assert seen["dialogs"] == []

    # The phrase finds the seed article first, its snippet marking the phrase.
    search = seen["search"]
    assert f"?q={quote(chr(34) + PHRASE + chr(34))}".replace("%20", "+") in search["url"]
    assert search["titles"][0] == served.seed["title"]
    assert PHRASE in search["snippets"][0]
    assert set(PHRASE.split()) <= set(search["marks"])

    # The article: the seed's clean text, without caption or "Related content"; the citation.
    article = seen["article"]
    assert article["title"] == served.seed["title"]
    first_paragraph = served.seed["body"].split("\n")[0]
    assert first_paragraph in article["text"]
    assert "The Kremlin sets the conditions" not in article["text"]
    assert "Related content" not in article["text"]
    for label in (
        "Archived URL",
        "Capture time",
        "WARC file",
        "Offset",
        "WARC-Record-ID",
        "Payload digest",
    ):
        assert label in article["citation"]
    assert seed_url in article["citation"] and "<urn:uuid:" in article["citation"]
    assert len(article["captures"]) == 1 and "(this one)" in article["captures"][0]

    # Replay: our banner, pywb's copy on another port, in a sandboxed frame.
    replay = seen["replay"]
    assert "Archived copy" in replay["banner"] and "captured" in replay["banner"]
    assert replay["frameUrl"] is not None and not replay["frameUrl"].startswith(served.url)
    assert replay["frameUrl"].startswith("http://127.0.0.1:") and seed_url in replay["frameUrl"]
    assert served.seed["title"] in replay["frameText"]
    assert "allow-scripts" in replay["sandbox"] and "allow-top-navigation" not in replay["sandbox"]

    # The site facet keeps the query and sets the site; a date range keeps or drops the seed.
    assert "site=127.0.0.1" in seen["facet"]["url"] and seen["facet"]["label"] == "127.0.0.1"
    assert seen["facet"]["titles"][0] == served.seed["title"]
    assert (
        "from=2026-09-01" in seen["inRange"]["url"] and "site=127.0.0.1" in seen["inRange"]["url"]
    )
    assert served.seed["title"] in seen["inRange"]["titles"]
    assert served.seed["title"] not in seen["outOfRange"]["titles"]

    # The CSV holds the query's rows, with where each capture lives.
    assert seen["csv"] == "articles.csv"
    with open(options["csvPath"], encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["url"] == seed_url and rows[0]["warc_key"].endswith(".warc.gz")

    # Hostile title and text are shown as text; nothing they hold runs or becomes an element.
    hostile = seen["hostile"]
    assert hostile["titles"] and HOSTILE_WORD in hostile["titles"][0]
    assert "<script>" in hostile["articleTitle"] and "<img src=x" in hostile["articleTitle"]
    assert "<b>bold</b>" in hostile["articleText"]
    assert hostile["injected"] == 0
    assert [src.rsplit("/", 1)[-1] for src in hostile["scripts"]] == ["copy.js"]
    # FTS syntax and very long queries: a page (results or one line), never a server error.
    for answer in seen["queries"]:
        assert answer["status"] in (200, 400), answer
        assert "Traceback" not in answer["error"]
    assert any(a["status"] == 200 for a in seen["queries"])

    for shot in ("serve-search.png", "serve-article.png"):
        assert (shots / shot).stat().st_size > 10_000
        if UPDATE_DOCS:
            shutil.copyfile(shots / shot, DOCS_IMAGES / shot)


def test_record_and_wacz_downloads_come_from_storage(served: Served, tmp_path: Path) -> None:
    query = quote(f'"{PHRASE}"')
    status, _, body = _get(f"{served.url}api/search?q={query}")
    assert status == 200
    hit = json.loads(body)["results"][0]
    status, headers, record = _get(
        f"{served.url}record?key={quote(hit['warc']['key'])}"
        f"&offset={hit['warc']['offset']}&length={hit['warc']['length']}"
    )
    assert status == 200 and headers["content-type"] == "application/warc"
    assert len(record) == hit["warc"]["length"] and record[:2] == b"\x1f\x8b"
    records = list(ArchiveIterator(io.BytesIO(record)))
    assert records[0].rec_headers.get_header("WARC-Target-URI") == hit["url"]
    status, _, article = _get(
        served.url + hit["article_url"].lstrip("/").replace("article?", "api/article?")
    )
    assert records[0].rec_headers.get_header("WARC-Record-ID") == json.loads(article)["record_id"]
    # A key outside the archive is refused.
    status, _, _ = _get(f"{served.url}record?key=elsewhere.warc.gz&offset=0&length=10")
    assert status == 400
    status, headers, wacz = _get(f"{served.url}download.wacz?q={query}")
    assert status == 200, wacz[:500]
    path = tmp_path / "results.wacz"
    path.write_bytes(wacz)
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        pages = zf.read("pages/pages.jsonl").decode()
    assert "datapackage.json" in names and any(n.startswith("archive/") for n in names)
    assert hit["url"] in pages
