"""Page requisites in a real crawl of the sample site and its CDN host (issue 15).

Two site crawls (`scrapy crawl news -a site=sample`) into one spool, without storage: the
first fetches every page's stylesheets, fonts, images (the CDN's too, named through
ARCHIVER_HOSTS), scripts and icons; the second finds them unchanged and stores revisits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from archiver.devserver.samplesite import SampleSite, site_manifest
from archiver.devserver.samplesite.bigimage import huge_png
from tests.support.paths import ROOT
from tests.support.sitecrawl import SITE, read_records, write_sites
from tests.support.tools import free_port

pytestmark = [pytest.mark.slow]

# Lowered so the sample site's very large image (a few MB) is cut.
MAX_BYTES = 100_000


@dataclass
class Crawl:
    """One finished crawl, read from the spool."""

    stats: dict[str, Any]
    manifest: dict[str, Any]
    records: list[dict[str, Any]]
    log: str

    def http(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r["type"] in ("response", "revisit")]

    def by_uri(self, uri: str) -> list[dict[str, Any]]:
        return [r for r in self.http() if r["uri"] == uri]


def _crawl(site: SampleSite, spool: Path, sites: Path, log: Path, *extra: str) -> Crawl:
    command = [sys.executable, "-m", "scrapy", "crawl", "news", "-a", f"site={SITE}"]
    for setting in (
        f"ARCHIVER_SITES_FILE={sites}",
        f"ARCHIVER_WARC_DIR={spool}",
        "ARCHIVER_S3_BUCKET=",
        "ARCHIVER_INDEX_ENABLED=false",
        "DOWNLOAD_DELAY=0",
        "AUTOTHROTTLE_START_DELAY=0.01",
        "ARCHIVER_CLEAN_WORKERS=1",
        "ARCHIVER_ALLOWED_NETWORKS=127.0.0.0/8",
        'ARCHIVER_HOSTS={"cdn.sample.test": "127.0.0.2"}',
        f"ARCHIVER_REQUISITE_MAX_BYTES={MAX_BYTES}",
        *extra,
    ):
        command += ["-s", setting]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")}
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.run(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=600
        )
    text = log.read_text(encoding="utf-8")
    assert proc.returncode == 0, text[-3000:]
    runs = (spool / "_sites" / SITE / "runs.jsonl").read_text(encoding="utf-8").splitlines()
    crawl_dir = spool / json.loads(runs[-1])["crawl_id"]
    stats = json.loads((crawl_dir / "stats.json").read_text(encoding="utf-8"))
    records: list[dict[str, Any]] = []
    for warc in sorted(crawl_dir.glob("*.warc.gz")):
        records += read_records(warc.read_bytes(), warc.name)
    manifest = json.loads((crawl_dir / "manifest.json").read_text(encoding="utf-8"))
    return Crawl(stats, manifest, records, text)


@dataclass
class Crawls:
    site: SampleSite
    first: Crawl
    second: Crawl
    sent_first: list[Any]


@pytest.fixture(scope="module")
def crawls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crawls]:
    root = tmp_path_factory.mktemp("requisites")
    site = SampleSite()
    site.start(port=free_port())
    try:
        # Every run looks again at every article, in full: its requisites are fetched again.
        sites = write_sites(root / "sites.toml", site.url, 'every = "1s"\nconditional_get = false')
        spool = root / "spool"
        first = _crawl(site, spool, sites, root / "first.log", "ARCHIVER_REQUISITES_ALL_PAGES=true")
        sent_first = list(site.sent)
        time.sleep(1.1)
        second = _crawl(site, spool, sites, root / "second.log")
        yield Crawls(site, first, second, sent_first)
    finally:
        site.stop()


def test_every_requisite_of_the_site_and_its_cdn_is_archived_once(crawls: Crawls) -> None:
    requisites = [p for p in site_manifest(crawls.site.url) if p.kind == "requisite"]
    assert [p for p in requisites if p.host == "cdn"], "the sample site has CDN requisites"
    first = crawls.first
    for page in requisites:
        if page.disallowed:
            continue
        found = first.by_uri(page.url)
        assert len(found) == 1, (page.url, len(found))
        assert found[0]["status"] == 200
    # Request and response records, the response's payload byte for byte what was sent.
    requests = {r["uri"] for r in first.records if r["type"] == "request"}
    sent = {(s.host, s.path): s.body for s in crawls.sent_first if s.status == 200}
    for page in requisites:
        if page.disallowed or page.generated:
            continue
        assert page.url in requests
        record = first.by_uri(page.url)[0]
        if record["type"] == "response":
            assert record["payload"] == sent[(page.host, page.path)], page.url
    cdn = [r for r in first.http() if r["uri"].startswith(crawls.site.cdn_url)]
    assert cdn, "CDN captures"


def test_self_importing_stylesheet_is_fetched_once(crawls: Crawls) -> None:
    loops = [r for r in crawls.first.http() if r["uri"].endswith("/static/css/print.css")]
    assert len(loops) == 1
    served = [s for s in crawls.sent_first if s.path == "/static/css/print.css"]
    assert len(served) == 1


def test_very_large_image_is_cut_and_marked(crawls: Crawls) -> None:
    (huge,) = [p for p in site_manifest(crawls.site.url) if p.generated]
    (record,) = crawls.first.by_uri(huge.url)
    assert record["type"] == "response"
    assert record["payload"] == huge_png()[:MAX_BYTES]
    warc = [r for r in crawls.first.records if r["uri"] == huge.url and r["type"] == "response"]
    assert warc
    assert crawls.first.stats["requisites"]["truncated"] == 1


def test_robots_refused_pixel_is_not_fetched_and_counted(crawls: Crawls) -> None:
    pixels = [p for p in site_manifest(crawls.site.url) if p.disallowed]
    assert pixels
    assert not [s for s in crawls.sent_first if s.host == "cdn" and s.path.startswith("/track/")]
    assert not [r for r in crawls.first.http() if "/track/" in r["uri"]]
    assert crawls.first.stats["requisites"]["robots_refused"] >= 1
    # The CDN's own robots.txt was asked for (and archived).
    assert crawls.first.by_uri(crawls.site.cdn_url + "/robots.txt")


def test_second_crawl_stores_unchanged_requisites_as_revisits(crawls: Crawls) -> None:
    stats = crawls.second.stats["requisites"]
    assert stats["fetched"] > 0
    assert stats["revisits"] > 0
    assert stats["revisit_share"] == round(stats["revisits"] / stats["fetched"], 4)
    first_ids = {r["id"]: r for r in crawls.first.http() if r["type"] == "response"}
    css = [r for r in crawls.second.http() if r["uri"].endswith("/static/css/site.css")]
    assert len(css) == 1
    assert css[0]["type"] == "revisit"
    assert css[0]["refers_to"] in first_ids
    assert first_ids[css[0]["refers_to"]]["uri"] == css[0]["uri"]


def test_requisite_requests_wait_in_the_disk_queue_like_pages(crawls: Crawls) -> None:
    for crawl in (crawls.first, crawls.second):
        scrapy_stats = crawl.manifest["stats"]
        assert "scheduler/unserializable" not in scrapy_stats
        assert scrapy_stats["scheduler/enqueued/disk"] == scrapy_stats["scheduler/enqueued"]
        assert crawl.stats["requisites"]["requested"] > 0
