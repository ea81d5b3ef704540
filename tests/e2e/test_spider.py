"""The news spider over the sample site: start kinds, robots.txt sitemaps, limits, bad arguments.

These crawls run without a bucket (WARCs stay in a temporary spool); what the spider
fetched is read from the sample site's own log of what it served.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from archiver.devserver.samplesite import SampleSite, site_manifest
from tests.support.paths import ROOT

pytestmark = pytest.mark.slow


def crawl(site: SampleSite, spool: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "scrapy",
        "crawl",
        "news",
        *args,
        "-s",
        f"ARCHIVER_WARC_DIR={spool}",
        "-s",
        "ARCHIVER_S3_BUCKET=",
        "-s",
        "DOWNLOAD_DELAY=0",
        "-s",
        "AUTOTHROTTLE_START_DELAY=0.01",
        "-s",
        "ARCHIVER_CLEAN_WORKERS=1",
        "-s",
        "ARCHIVER_ALLOWED_NETWORKS=127.0.0.0/8",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def fetched(site: SampleSite) -> list[str]:
    return [s.path for s in site.sent]


def test_a_feed_as_start_url_with_since_fetches_only_newer_entries(tmp_path: Path) -> None:
    since = datetime(2026, 11, 1, tzinfo=UTC)
    with SampleSite() as site:
        proc = crawl(
            site,
            tmp_path,
            "-a",
            f"urls={site.url}/feeds/latest.xml",
            "-a",
            "since=2026-11-01",
            "-a",
            "max_depth=0",
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        pages = {p.path: p for p in site_manifest(site.url)}
        paths = fetched(site)
    in_feed = [p for p in pages.values() if "rss" in p.found_in]
    newer = {p.path for p in in_feed if p.published and p.published >= since}
    older = {p.path for p in in_feed if p.published and p.published < since}
    assert newer and older, "the feed should hold entries on both sides of the date"
    assert newer <= set(paths)
    assert not older & set(paths)


def test_a_sitemap_index_is_followed_to_its_news_sitemap(tmp_path: Path) -> None:
    with SampleSite() as site:
        proc = crawl(
            site, tmp_path, "-a", f"urls={site.url}/sitemap_index.xml", "-a", "max_depth=0"
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        pages = site_manifest(site.url)
        paths = set(fetched(site))
    in_sitemaps = {p.path for p in pages if p.found_in & {"news_sitemap", "sitemap"}}
    only_linked = {p.path for p in pages if p.found_in == {"links"}}
    assert in_sitemaps and in_sitemaps <= paths
    # max_depth=0: page links were not followed, so pages found only through links were not fetched.
    assert only_linked and not only_linked & paths


def test_sitemaps_listed_in_robots_txt_are_found_by_themselves(tmp_path: Path) -> None:
    with SampleSite() as site:
        proc = crawl(site, tmp_path, "-a", f"urls={site.url}/", "-a", "max_depth=0")
        assert proc.returncode == 0, proc.stderr[-3000:]
        paths = fetched(site)
    assert paths[0] == "/robots.txt"
    assert "/sitemap_index.xml" in paths


def test_max_pages_bounds_what_the_spider_schedules(tmp_path: Path) -> None:
    with SampleSite() as site:
        proc = crawl(site, tmp_path, "-a", f"urls={site.url}/", "-a", "max_pages=5")
        assert proc.returncode == 0, proc.stderr[-3000:]
        paths = [p for p in fetched(site) if p != "/robots.txt"]
    # Redirects are followed by Scrapy, not scheduled by the spider: allow their targets.
    assert 1 <= len(paths) <= 6, paths


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "-a urls="),
        (("-a", "urls=ftp://example.org/"), "not an http(s) URL"),
        (
            ("-a", "urls=http://127.0.0.1:9/", "-a", "max_pages=ten"),
            "max_pages= must be a whole number",
        ),
        (("-a", "urls=http://127.0.0.1:9/", "-a", "since=yesterday-ish"), "since= is not a date"),
    ],
)
def test_bad_arguments_fail_with_a_clear_message(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    with SampleSite() as site:
        proc = crawl(site, tmp_path, *args)
    assert proc.returncode != 0
    assert message in proc.stderr
