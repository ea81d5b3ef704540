"""One-off crawls of URLs (`archiver crawl URL...`): implicit sites named after their host,
their generated sites file, the usage errors, and the live line's counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from archiver.cli import main
from archiver.crawler.progress import progress_counts
from archiver.operations import (
    AdhocLimits,
    SitesError,
    group_by_host,
    host_site_name,
    progress_line,
    write_adhoc_site,
)


def test_each_host_is_a_site_named_after_it() -> None:
    assert host_site_name("https://News.Example.org/world/") == "news.example.org"
    assert host_site_name("http://127.0.0.1:8080/") == "127.0.0.1_8080"
    assert host_site_name("http://[::1]:80/") == "--1_80"
    grouped = group_by_host(
        ["https://a.example/", "https://b.example/feed.xml", "https://a.example/sitemap.xml"]
    )
    assert grouped == {
        "a.example": ["https://a.example/", "https://a.example/sitemap.xml"],
        "b.example": ["https://b.example/feed.xml"],
    }
    for bad in ("ftp://a.example/", "a.example", "", "http://a.example:99999/"):
        with pytest.raises(SitesError):
            host_site_name(bad)


def test_the_generated_site_carries_the_spider_arguments(tmp_path: Path) -> None:
    limits = AdhocLimits(
        max_pages=5, max_depth=1, since="2026-01-02", allowed_domains=("example.org",)
    )
    site, path = write_adhoc_site(
        tmp_path, "news.example.org", ['https://news.example.org/a "b"/'], limits
    )
    assert path.parent == tmp_path / "_sites" / "news.example.org"
    assert site.start_urls == ('https://news.example.org/a "b"/',)
    assert (site.max_pages, site.max_depth, site.since) == (5, 1, "2026-01-02")
    assert site.allowed_domains == ("example.org",)
    assert site.min_articles == 0
    bare, _ = write_adhoc_site(tmp_path, "x.example", ["https://x.example/"], AdhocLimits())
    assert bare.allowed_domains == ("x.example",) and bare.max_pages is None
    with pytest.raises(SitesError, match="since: 'soon' is neither a date nor a duration"):
        write_adhoc_site(tmp_path, "y.example", ["https://y.example/"], AdhocLimits(since="soon"))
    assert not list((tmp_path / "_sites" / "y.example").glob("*.toml"))


def test_url_mode_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spool = tmp_path / "spool"
    base = ["-s", f"ARCHIVER_WARC_DIR={spool}", "crawl"]
    code = main([*base, "https://a.example/", "--site", "sample"])
    assert code == 2 and "give --site NAME" in capsys.readouterr().err
    code = main([*base, "--all", "--max-pages", "3"])
    assert code == 2 and "go with URLs" in capsys.readouterr().err
    code = main([*base, "ftp://a.example/"])
    assert code == 2 and "not an http(s) URL: 'ftp://a.example/'" in capsys.readouterr().err
    code = main([*base, "https://a.example/", "--since", "soon"])
    err = capsys.readouterr().err
    assert code == 2 and "'soon' is neither a date nor a duration" in err
    assert str(spool) not in err, "the generated sites file is not the user's to see"
    assert not list(spool.rglob("*.toml"))


def test_the_live_line_counts_pages_articles_rate_and_errors() -> None:
    stats = {
        "archiver/warc/responses": 30,
        "archiver/warc/revisits": 10,
        "archiver/spider/articles": 7,
        "downloader/request_count": 45,
        "downloader/exception_count": 2,
        "downloader/response_status_count/503": 1,
        "downloader/response_status_count/404": 4,
    }
    counts = progress_counts(stats, 20.0, done=False)
    assert counts == {
        "pages": 40,
        "requests": 45,
        "articles": 7,
        "errors": 3,
        "elapsed": 20.0,
        "done": False,
    }
    assert progress_line("a.example", counts) == (
        "a.example: 40 pages, 7 articles, 2.0 pages/s, 3 errors"
    )
    assert progress_line("a.example", None) == "a.example: starting"
