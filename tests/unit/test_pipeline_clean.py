"""The cleaning pipeline: per-site rule files from ARCHIVER_CLEAN_RULES_DIRS reach its workers."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from archiver.cleaning import RuleError
from archiver.crawler.items import ArticleItem
from pipelines.clean import CleanPipeline

SITE_FILE = """\
[site]
name = "Promo Times"
domains = ["promotimes.example"]

[drop.shop]
selectors = ["p.shop-box"]
"""
STORY = "".join(
    f"<p>Paragraph {i} of the story, long enough to count as the prose of an article.</p>"
    for i in range(6)
)
PAGE = (
    "<html><head><title>Harbour works</title></head><body><article>"
    f"{STORY}<p class='shop-box'>Buy the harbour calendar in our shop, only 9.99 this week!</p>"
    "</article></body></html>"
).encode()


def _pipeline(settings: dict[str, Any]) -> CleanPipeline:
    crawler = get_crawler(settings_dict={"ARCHIVER_CLEAN_ENABLED": True, **settings})
    return CleanPipeline.from_crawler(crawler)


def _item(url: str, body: bytes = PAGE) -> ArticleItem:
    return ArticleItem(
        url=url,
        fetched_at="2026-11-20T10:00:00Z",
        status=200,
        content_type="text/html; charset=utf-8",
        body=body,
    )


def _clean(pipeline: CleanPipeline, url: str, body: bytes = PAGE) -> dict[str, Any]:
    item = asyncio.run(pipeline.process_item(_item(url, body)))
    assert isinstance(item, ArticleItem)
    return item.article


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "rules"
    directory.mkdir()
    (directory / "site-promotimes.toml").write_text(SITE_FILE, encoding="utf-8")
    return directory


@pytest.mark.parametrize("workers", [1, 2], ids=["thread", "process-pool"])
def test_site_rules_from_the_setting_reach_the_workers(rules_dir: Path, workers: int) -> None:
    pipeline = _pipeline(
        {"ARCHIVER_CLEAN_RULES_DIRS": [str(rules_dir)], "ARCHIVER_CLEAN_WORKERS": workers}
    )
    pipeline.open_spider()
    try:
        # The files were read when the pipeline was built: workers never read them again.
        (rules_dir / "site-promotimes.toml").unlink()
        for _ in range(3):
            article = _clean(pipeline, "https://www.promotimes.example/harbour")
            assert "Paragraph 5 of the story" in article["body"]
            assert "calendar" not in article["body"]
        other = _clean(pipeline, "https://other.example/harbour")
        assert "calendar" in other["body"]
    finally:
        pipeline.close_spider()


def test_without_the_setting_only_packaged_rules_apply() -> None:
    pipeline = _pipeline({"ARCHIVER_CLEAN_WORKERS": 1})
    pipeline.open_spider()
    try:
        article = _clean(pipeline, "https://www.promotimes.example/harbour")
        assert "calendar" in article["body"]
    finally:
        pipeline.close_spider()


def test_setting_given_as_comma_separated_text(rules_dir: Path, tmp_path: Path) -> None:
    second = tmp_path / "more-rules"
    second.mkdir()
    (second / "site-other.toml").write_text(
        SITE_FILE.replace("promotimes.example", "other.example"), encoding="utf-8"
    )
    pipeline = _pipeline(
        {"ARCHIVER_CLEAN_RULES_DIRS": f"{rules_dir},{second}", "ARCHIVER_CLEAN_WORKERS": 1}
    )
    pipeline.open_spider()
    try:
        for url in ("https://promotimes.example/a", "https://news.other.example/a"):
            assert "calendar" not in _clean(pipeline, url)["body"]
    finally:
        pipeline.close_spider()


@pytest.mark.parametrize(
    ("content", "message"),
    [("[site]\ndomains = ['x.example']\n[drop.ads]\n", "empty group"), (None, "not a directory")],
    ids=["bad-file", "missing-directory"],
)
def test_bad_rules_stop_the_crawl_at_start(
    tmp_path: Path, content: str | None, message: str
) -> None:
    directory = tmp_path / "rules"
    if content is not None:
        directory.mkdir()
        (directory / "site-x.toml").write_text(content, encoding="utf-8")
    with pytest.raises(RuleError, match=message):
        _pipeline({"ARCHIVER_CLEAN_RULES_DIRS": [str(directory)]})


def test_page_without_article_is_dropped_with_the_reason() -> None:
    pipeline = _pipeline({"ARCHIVER_CLEAN_WORKERS": 1})
    pipeline.open_spider()
    try:
        with pytest.raises(DropItem, match="no article body"):
            _clean(pipeline, "https://other.example/empty", b"<html><body></body></html>")
    finally:
        pipeline.close_spider()


@pytest.mark.parametrize("workers", [1, 2], ids=["thread", "process-pool"])
def test_the_date_a_feed_gave_reaches_the_cleaner_as_evidence(workers: int) -> None:
    # PAGE states no date anywhere: the feed's or sitemap's date is the only evidence.
    pipeline = _pipeline({"ARCHIVER_CLEAN_WORKERS": workers})
    pipeline.open_spider()
    try:
        undated = asyncio.run(pipeline.process_item(_item("https://news.example/harbour")))
        listed = _item("https://news.example/harbour")
        listed.listed_date = "2026-03-04T09:30:00+00:00"
        dated = asyncio.run(pipeline.process_item(listed))
    finally:
        pipeline.close_spider()
    assert isinstance(undated, ArticleItem) and isinstance(dated, ArticleItem)
    assert not undated.article.get("published")
    assert str(dated.article["published"]).startswith("2026-03-04")
