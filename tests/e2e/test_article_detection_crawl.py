"""A crawl of the sample site: every article page becomes an item, no listing does (issue 16).

The Harbour Notes pages carry no og:type, no JSON-LD and no article:published_time, under
plain URLs; two are articles, two are listings that look like articles (a headline, a date,
paragraphs of teasers). The spider makes candidates of them, the cleaner judges.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.devserver.samplesite import SampleSite, site_manifest
from tests.support.paths import ROOT

pytestmark = pytest.mark.slow


@dataclass
class Crawl:
    base: str
    items: list[dict[str, Any]]
    metadata_uris: list[str]
    response_uris: set[str]
    stats: dict[str, Any]


@pytest.fixture(scope="module")
def crawl(tmp_path_factory: pytest.TempPathFactory) -> Crawl:
    spool = tmp_path_factory.mktemp("spool")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")}
    with SampleSite() as site:
        command = [
            sys.executable, "-m", "scrapy", "crawl", "news", "-a", f"urls={site.url}/",
            "-s", f"ARCHIVER_WARC_DIR={spool}", "-s", "ARCHIVER_S3_BUCKET=",
            "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_START_DELAY=0.01",
            "-s", "ARCHIVER_CLEAN_WORKERS=2", "-s", "ARCHIVER_ALLOWED_NETWORKS=127.0.0.0/8",
        ]  # fmt: skip
        proc = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        base = site.url
    assert proc.returncode == 0, proc.stderr[-3000:]
    (crawl_dir,) = [d for d in spool.iterdir() if (d / "manifest.json").is_file()]
    items = [json.loads(line) for line in (crawl_dir / "items.jsonl").read_text().splitlines()]
    metadata, responses = [], set()
    for warc in crawl_dir.glob("*.warc.gz"):
        with warc.open("rb") as stream:
            for record in ArchiveIterator(stream):
                uri = record.rec_headers.get_header("WARC-Target-URI")
                if record.rec_type == "metadata":
                    metadata.append(uri)
                elif record.rec_type == "response":
                    responses.add(uri)
    stats = json.loads((crawl_dir / "manifest.json").read_text())["stats"]
    return Crawl(base, items, metadata, responses, stats)


def test_every_article_page_becomes_an_item_and_no_listing_does(crawl: Crawl) -> None:
    pages = site_manifest(crawl.base)
    articles = {p.url for p in pages if p.kind == "article"}
    listings = {p.url for p in pages if p.kind == "section"}
    item_urls = [i["url"] for i in crawl.items]
    assert sorted(item_urls) == sorted(articles)
    # The listings were fetched and archived, and nothing else was written for them.
    assert listings <= crawl.response_uris
    assert sorted(crawl.metadata_uris) == sorted(articles)


def test_articles_without_markup_are_kept_by_the_cleaners_judgement(crawl: Crawl) -> None:
    unmarked = {p.url for p in site_manifest(crawl.base) if p.template == "harbour-notes"}
    assert len(unmarked) == 2
    by_url = {i["url"]: i for i in crawl.items}
    for url in unmarked:
        detection = by_url[url]["detection"]
        assert detection.startswith("candidate: no article markup, "), detection
        assert "; judged an article: headline, " in detection
        assert by_url[url]["body"] and by_url[url]["title"]
    marked = [i for url, i in by_url.items() if url not in unmarked]
    assert not [i["url"] for i in marked if i["detection"].startswith("candidate:")]


def test_candidates_are_counted(crawl: Crawl) -> None:
    stats = crawl.stats
    kept, dropped = (
        stats["archiver/clean/candidates_kept"],
        stats["archiver/clean/candidates_dropped"],
    )
    assert kept == 2
    # The two Harbour Notes listings, and the sections marked only og:type=website.
    assert dropped >= 2
    assert stats["archiver/spider/candidates"] == kept + dropped
    assert stats["archiver/spider/articles"] == len(crawl.items)
    assert stats["archiver/warc/metadata_records"] == len(crawl.items)
