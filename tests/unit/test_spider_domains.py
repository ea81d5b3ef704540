"""The news spider's allowed domains: the start URLs' hosts and their subdomains, unless given."""

from __future__ import annotations


def test_allowed_domains_default_to_the_start_hosts_and_include_subdomains() -> None:
    from spiders.news import NewsSpider

    spider = NewsSpider(urls="https://www.example-news.com/,https://feeds.example.org/rss")
    assert spider.allowed_domains == ["feeds.example.org", "www.example-news.com"]
    assert spider._allowed("https://www.example-news.com/world/a")
    assert not spider._allowed("https://example-news.com/")
    narrowed = NewsSpider(urls="https://www.example-news.com/", allowed_domains="example-news.com")
    assert narrowed._allowed("https://cdn.example-news.com/x")
    assert not narrowed._allowed("https://evil-example-news.com/")
