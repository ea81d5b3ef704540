"""The news spider's allowed domains: the start URLs' hosts and their subdomains, unless given."""

from __future__ import annotations

from datetime import UTC, datetime

from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from archiver.discovery import Entry
from spiders.news import LISTED_DATE_META_KEY, NewsSpider, _article_item


def test_allowed_domains_default_to_the_start_hosts_and_include_subdomains() -> None:
    spider = NewsSpider(urls="https://www.example-news.com/,https://feeds.example.org/rss")
    assert spider.allowed_domains == ["feeds.example.org", "www.example-news.com"]
    assert spider._allowed("https://www.example-news.com/world/a")
    assert not spider._allowed("https://example-news.com/")
    narrowed = NewsSpider(urls="https://www.example-news.com/", allowed_domains="example-news.com")
    assert narrowed._allowed("https://cdn.example-news.com/x")
    assert not narrowed._allowed("https://evil-example-news.com/")


def test_a_feed_entrys_date_travels_with_its_request_to_the_item() -> None:
    spider = NewsSpider(urls="https://news.example/")
    spider.crawler = get_crawler(NewsSpider)
    when = datetime(2026, 3, 4, 9, 30, tzinfo=UTC)
    entry = Entry(url="https://news.example/a/harbour", date=when)
    (request,) = spider._from_entries([entry], "feed", 1)
    assert request.meta[LISTED_DATE_META_KEY] == when.isoformat()
    body = "<html><head><title>t</title></head><body><article>" + "<p>word </p>" * 3
    response = HtmlResponse(
        request.url, body=(body + "</article></body></html>").encode(), request=request
    )
    item = _article_item(response, "text/html", {}, "test")
    assert item.listed_date == when.isoformat()
