"""A replayed article looks like the live page: requisites in pywb and ReplayWeb.page (issue 15).

One crawl of the sample site with its requisites (the CDN host named through ARCHIVER_HOSTS) into
SeaweedFS. The seed article is opened live in headless Chromium, the site is stopped, and the
archived seed article is opened through pywb (`archiver replay`) and through ReplayWeb.page over a
WACZ from `archiver export-wacz`. In each: the headline is styled by the archived stylesheet, the
web font is loaded, every image of the article decoded, and no request left the replay server.
The pywb screenshot differs from the live one by less than 2% of its pixels.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from archiver.cli import main
from archiver.devserver.s3server import SeaweedServer
from archiver.devserver.samplesite import EXPECTED_DIR, SampleSite
from tests.support.crawl import PREFIX, crawl_command, run_crawl
from tests.support.paths import ROOT
from tests.support.replay import archiver_replay
from tests.support.replayweb import WACZ_PATH, embed_page, replayweb_node, serve_wacz
from tests.support.screens import look, pixel_difference, side_by_side
from tests.support.tools import chromium

pytestmark = [pytest.mark.s3, pytest.mark.slow]

SEED_PATH = json.loads((EXPECTED_DIR / "seed-article.json").read_text(encoding="utf-8"))["url_path"]
# What site.css gives the headline: its colour and the web font's family.
HEADLINE_COLOR = "rgb(139, 26, 26)"
HEADLINE_FONT = '"Herald Serif"'
MAX_DIFFERENCE = 0.02
# Set to 1 to refresh the picture in docs/for-researchers.md from this run.
UPDATE_DOCS = os.environ.get("ARCHIVER_UPDATE_DOC_IMAGES") == "1"
DOCS_PICTURE = ROOT / "docs" / "img" / "replay-live-vs-pywb.png"


@dataclass
class Crawled:
    """The crawl in the bucket and what the live seed page showed before the site stopped."""

    server: SeaweedServer
    bucket: str
    crawl_id: str
    site_url: str
    cdn_url: str
    live: dict[str, Any]
    live_png: Path
    work: Path

    @property
    def seed_url(self) -> str:
        return self.site_url + SEED_PATH

    def settings(self) -> list[str]:
        return ["-s", f"ARCHIVER_S3_BUCKET={self.bucket}", "-s", f"ARCHIVER_S3_PREFIX={PREFIX}"]


@pytest.fixture(scope="module")
def tools() -> tuple[str, Path]:
    """node and chromium, asked for first so a skip comes before the crawl."""
    return replayweb_node(), chromium()


@pytest.fixture(scope="module")
def crawled(
    tools: tuple[str, Path], s3_server: SeaweedServer, tmp_path_factory: pytest.TempPathFactory
) -> Crawled:
    node, browser = tools
    work = tmp_path_factory.mktemp("replay-requisites")
    bucket = "rq-" + secrets.token_hex(4)
    s3_server.create_bucket(bucket)
    with SampleSite() as site:
        command = crawl_command(
            site.url,
            work / "spool",
            bucket,
            s3_server.endpoint_url,
            "-s",
            f"ARCHIVER_HOSTS={json.dumps(site.hosts)}",
        )
        proc = run_crawl(command, s3_server, work / "crawl.log")
        assert proc.returncode == 0, (work / "crawl.log").read_text(encoding="utf-8")[-4000:]
        live_png = work / "live.png"
        target = {"name": "live", "url": site.url + SEED_PATH, "screenshot": str(live_png)}
        report = look(node, browser, work / "profile-live", [target])
        site_url, cdn_url = site.url, site.cdn_url
    client = s3_server.client()
    keys = [
        o["Key"]
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for o in page.get("Contents", [])
    ]
    manifest_key = next(k for k in keys if k.endswith("/manifest.json"))
    manifest = json.loads(client.get_object(Bucket=bucket, Key=manifest_key)["Body"].read())
    assert report["targets"]["live"], report["console"]
    return Crawled(
        s3_server,
        bucket,
        manifest["crawl_id"],
        site_url,
        cdn_url,
        report["targets"]["live"],
        live_png,
        work,
    )


@dataclass
class Pywb:
    proc: subprocess.Popen[str]
    url: str
    page_url: str


@pytest.fixture(scope="module")
def pywb(crawled: Crawled) -> Iterator[Pywb]:
    settings, env = crawled.settings(), crawled.server.env()
    with archiver_replay(settings, env, crawled.work / "replay", crawled.seed_url) as running:
        yield Pywb(running.proc, running.url, running.page_url)


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def assert_rendered_with_requisites(seen: dict[str, Any], live: dict[str, Any]) -> None:
    """The headline's style and font, the stylesheets and every article image, as live."""
    assert seen["h1"]["color"] == live["h1"]["color"] == HEADLINE_COLOR
    assert seen["h1"]["fontFamily"].startswith(HEADLINE_FONT)
    assert seen["fontCheck"] is True
    assert seen["fonts"] and all(f["status"] == "loaded" for f in seen["fonts"]), seen["fonts"]
    assert any(href.endswith("/static/css/site.css") for href in seen["stylesheets"])
    assert len(seen["images"]) == len(live["images"]) >= 4
    broken = [img for img in seen["images"] if img["naturalWidth"] <= 0]
    assert not broken, broken


def test_live_page_is_styled_by_its_requisites(crawled: Crawled) -> None:
    live = crawled.live
    assert live["h1"]["color"] == HEADLINE_COLOR and live["fontCheck"] is True
    assert all(img["naturalWidth"] > 0 for img in live["images"]) and len(live["images"]) >= 4
    # The photos come from the CDN host, mapped to 127.0.0.2 for the browser as for the crawler.
    cdn_images = [img for img in live["images"] if img["src"].startswith(crawled.cdn_url + "/")]
    assert len(cdn_images) == len(live["images"])
    allowed = {origin(crawled.site_url), origin(crawled.cdn_url)}
    assert {origin(url) for url in live["requests"]} == allowed


def test_pywb_replay_looks_like_the_live_page(
    crawled: Crawled, pywb: Pywb, tools: tuple[str, Path]
) -> None:
    node, browser = tools
    replay_png = crawled.work / "pywb.png"
    target = {"name": "pywb", "url": pywb.page_url, "screenshot": str(replay_png)}
    report = look(node, browser, crawled.work / "profile-pywb", [target])
    seen = report["targets"]["pywb"]
    assert seen, report["console"]
    assert_rendered_with_requisites(seen, crawled.live)
    # Everything came from pywb, from the archive: the live site and its CDN are stopped, and
    # no request went to them or anywhere else.
    assert {origin(url) for url in seen["requests"]} == {origin(pywb.url)}, seen["requests"]
    assert all(img["src"].startswith(pywb.url) for img in seen["images"])
    difference = pixel_difference(crawled.live_png, replay_png)
    picture = crawled.work / "side-by-side.png"
    side_by_side(crawled.live_png, replay_png, picture)
    print(f"pywb replay vs live: {difference:.4%} of pixels differ")
    if UPDATE_DOCS:
        shutil.copyfile(picture, DOCS_PICTURE)
    assert difference < MAX_DIFFERENCE


def test_replaywebpage_replay_from_a_wacz_uses_the_archived_requisites(
    crawled: Crawled, tools: tuple[str, Path]
) -> None:
    node, browser = tools
    wacz = crawled.work / "crawl.wacz"
    code = main([*crawled.settings(), "export-wacz", "--crawl", crawled.crawl_id, "-o", str(wacz)])
    assert code == 0
    pages = {"/article.html": embed_page("An archived article", {"url": crawled.seed_url})}
    with serve_wacz(wacz, pages) as (_, base):
        target = {
            "name": "replayweb",
            "url": base + "/article.html",
            "frameUrl": "mp_/" + crawled.seed_url,
            "screenshot": None,
        }
        report = look(node, browser, crawled.work / "profile-rwp", [target])
    seen = report["targets"]["replayweb"]
    assert seen, report["console"]
    assert_rendered_with_requisites(seen, crawled.live)
    # ReplayWeb.page's service worker read everything from the WACZ on the local server.
    assert {origin(url) for url in seen["requests"]} == {base}, seen["requests"]
    assert WACZ_PATH.endswith(".wacz")
