"""The sites file: parsed, defaults applied, and every mistake a clear error naming the key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from scrapy.crawler import Crawler

from archiver.crawler.project import load_settings
from archiver.operations import (
    DEFAULT_AFTER_PUBLICATION,
    AlreadyRunning,
    SitesError,
    load_sites,
    parse_sites,
)
from spiders.news import NewsSpider, SpiderArgumentError
from tests.support.paths import ROOT

EXAMPLE = ROOT / "deploy" / "sites.example.toml"

MINIMAL = """
[sites.ledger]
start_urls = ["https://ledger.example/", "https://www.ledger.example/feeds/latest.xml"]
"""


def test_the_example_in_deploy_parses_with_defaults_applied() -> None:
    sites = load_sites(EXAMPLE)
    assert list(sites.sites) == ["example-news", "regional-daily", "paused-site"]
    assert [s.name for s in sites.enabled()] == ["example-news", "regional-daily"]
    news = sites.get("example-news")
    assert news.allowed_domains == ("example-news.com",)
    assert news.max_depth == 2 and news.max_pages == 2000
    assert news.min_articles == 5 and news.max_error_rate == 0.2
    # Site politeness keys override the defaults' key by key; the rest are inherited.
    assert news.scrapy_settings() == {
        "DOWNLOAD_DELAY": 2.0,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 2,
        "AUTOTHROTTLE_MAX_DELAY": 60.0,
    }
    assert news.recrawl.every == timedelta(days=1)
    assert news.recrawl.after_publication == DEFAULT_AFTER_PUBLICATION
    regional = sites.get("regional-daily")
    assert regional.max_depth == 1
    assert regional.recrawl.after_publication == (timedelta(hours=2), timedelta(days=1))
    assert regional.recrawl.undated_every is None
    assert regional.scrapy_settings()["ARCHIVER_CLEAN_ENABLED"] is True


def test_a_minimal_site_gets_its_domains_from_its_start_urls() -> None:
    site = parse_sites(MINIMAL, Path("sites.toml")).get("ledger")
    assert site.allowed_domains == ("ledger.example", "www.ledger.example")
    assert site.recrawl.conditional_get is True
    assert site.max_pages is None and site.scrapy_settings() == {}


def test_since_is_a_date_or_an_age() -> None:
    text = MINIMAL + 'since = "2026-11-01"\n'
    assert parse_sites(text, Path("s.toml")).get("ledger").since_date() == datetime(
        2026, 11, 1, tzinfo=UTC
    )
    aged = parse_sites(MINIMAL + 'since = "2d"\n', Path("s.toml")).get("ledger")
    now = datetime(2026, 11, 25, 12, tzinfo=UTC)
    assert aged.since_date(now) == datetime(2026, 11, 23, 12, tzinfo=UTC)


def test_rules_dirs_are_relative_to_the_sites_file(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    text = MINIMAL + '[sites.ledger.cleaning]\nrules_dirs = ["rules"]\n'
    site = parse_sites(text, tmp_path / "sites.toml").get("ledger")
    assert site.cleaning.rules_dirs == (tmp_path / "rules",)
    assert site.scrapy_settings() == {"ARCHIVER_CLEAN_RULES_DIRS": [str(tmp_path / "rules")]}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("max_pagez = 5\n", r"site 'ledger': max_pagez: unknown key"),
        ("max_pages = 0\n", r"max_pages: must be at least 1"),
        ('max_pages = "10"\n', r"max_pages: must be a whole number"),
        ("max_error_rate = 1.5\n", r"max_error_rate: must be between 0.0 and 1.0"),
        ('since = "last week"\n', r"since: 'last week' is neither a date nor a duration"),
        ('since = "2026-13-01"\n', r"since: '2026-13-01' is not a valid date"),
        ("[sites.ledger.politeness]\ndelay = 1\n", r"politeness.delay: unknown key"),
        (
            "[sites.ledger.politeness]\nconcurrent_requests_per_domain = 50\n",
            r"politeness.concurrent_requests_per_domain: must be between 1 and 8",
        ),
        ("[sites.ledger.politeness]\nautothrottle = 1\n", r"must be true or false"),
        (
            '[sites.ledger.recrawl]\nafter_publication = ["1h", "6 hours"]\n',
            r"recrawl.after_publication\[1\]: '6 hours' is not a duration",
        ),
        ('[sites.ledger.recrawl]\nevery = "daily"\n', r"recrawl.every: 'daily' is not a duration"),
        ('[sites.ledger.cleaning]\nrules_dirs = ["missing"]\n', r"'missing' is not a directory"),
    ],
)
def test_mistakes_name_the_site_and_the_key(extra: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(SitesError, match=message):
        parse_sites(MINIMAL + extra, tmp_path / "sites.toml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[sites.ledger]\nmax_pages = 3\n", r"start_urls: missing"),
        ('[sites.ledger]\nstart_urls = ["ftp://x.example/"]\n', r"not an http\(s\) URL"),
        ("[sites.ledger]\nstart_urls = []\n", r"give at least one URL"),
        (
            '[sites."Ledger News"]\nstart_urls = ["https://x.example/"]\n',
            r"site name 'Ledger News'",
        ),
        ("[site.ledger]\n", r"unknown top-level key\(s\) \['site'\]"),
        ("[defaults]\nmax_pages = 3\n", r"no sites"),
        ('[defaults]\nstart_urls = ["https://x.example/"]\n' + MINIMAL, r"start_urls: unknown key"),
        ("[sites.ledger\n", r"not valid TOML"),
    ],
)
def test_file_level_mistakes(text: str, message: str) -> None:
    with pytest.raises(SitesError, match=message):
        parse_sites(text, Path("sites.toml"))


def test_unknown_site_and_missing_file_are_clear(tmp_path: Path) -> None:
    sites = parse_sites(MINIMAL, tmp_path / "sites.toml")
    with pytest.raises(SitesError, match=r"no site 'other' \(sites: ledger\)"):
        sites.get("other")
    with pytest.raises(SitesError, match="no such sites file"):
        load_sites(tmp_path / "absent.toml")


def test_the_spider_applies_a_sites_overrides_below_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    sites = tmp_path / "sites.toml"
    sites.write_text(
        MINIMAL
        + "max_pages = 40\n"
        + "[sites.ledger.politeness]\ndownload_delay = 3.0\nconcurrent_requests_per_domain = 1\n"
        + '[sites.ledger.cleaning]\nrules_dirs = ["rules"]\n'
    )

    def crawler() -> Crawler:
        settings = load_settings([f"ARCHIVER_SITES_FILE={sites}", f"ARCHIVER_WARC_DIR={tmp_path}"])
        # As `-s CONCURRENT_REQUESTS_PER_DOMAIN=2` on the command line.
        settings.set("CONCURRENT_REQUESTS_PER_DOMAIN", 2, priority="cmdline")
        return Crawler(NewsSpider, settings)

    run = crawler()
    spider = NewsSpider.from_crawler(run, site="ledger", max_depth="1")
    try:
        assert spider.start_urls == [
            "https://ledger.example/",
            "https://www.ledger.example/feeds/latest.xml",
        ]
        assert spider.allowed_domains == ["ledger.example", "www.ledger.example"]
        assert (spider.max_pages, spider.max_depth) == (40, 1)
        assert run.settings.getfloat("DOWNLOAD_DELAY") == 3.0
        assert run.settings.getlist("ARCHIVER_CLEAN_RULES_DIRS") == [str(tmp_path / "rules")]
        # -s on the command line wins over the sites file.
        assert run.settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN") == 2
        assert run.settings.get("JOBDIR") == str(tmp_path / "_sites" / "ledger" / "job")
        assert spider.site_run is not None and spider.site_run.lock.held
        # A second crawl of the site cannot start while this one holds the lock.
        with pytest.raises(AlreadyRunning):
            NewsSpider.from_crawler(crawler(), site="ledger")
    finally:
        assert spider.site_run is not None
        spider.site_run.lock.release()
    with pytest.raises(SpiderArgumentError, match="either -a site=NAME or -a urls="):
        NewsSpider.from_crawler(crawler(), site="ledger", urls="https://x.example/")
    with pytest.raises(SpiderArgumentError, match="no site 'other'"):
        NewsSpider.from_crawler(crawler(), site="other")
