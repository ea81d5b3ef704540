"""The generic news spider: start pages, RSS/Atom feeds, sitemaps (also from robots.txt).

`scrapy crawl news -a urls=URL[,URL...]` with optional `-a max_pages=N`, `-a max_depth=N`,
`-a since=DATE` and `-a allowed_domains=a.example,b.example`; or `scrapy crawl news -a
site=NAME` for a site of the sites file (its start URLs, limits, politeness, cleaning and
recrawl policy, its lock and its resumable job; see archiver.crawler.runtime.SiteRun).  Every
response is archived by the WARC middleware whatever this spider does with it; the spider
only decides what to fetch next and which pages are articles (those become items).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import scrapy
from scrapy import signals
from scrapy.http import Response, TextResponse
from w3lib.url import canonicalize_url

from archiver.config import user_agent
from archiver.crawler.items import ArticleItem
from archiver.crawler.middleware import WARC_META_KEY
from archiver.crawler.requisites import RequisiteSpiderMixin
from archiver.crawler.runtime import SiteRun, start_site_run
from archiver.crawler.startup import StartupError, start_failure
from archiver.discovery import (
    Entry,
    analyze_html,
    parse_date,
    parse_feed,
    parse_sitemap,
    sniff_kind,
)
from archiver.operations import SiteConfig, SitesError, load_sites

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler
    from twisted.python.failure import Failure

logger = logging.getLogger(__name__)

# Link hops from the start URLs.  Entries of a feed or sitemap share its depth, so
# `-a max_depth=0` fetches the start URLs, the sitemaps and feeds, and their articles.
DEPTH_META_KEY = "archiver_depth"
# The date a feed or sitemap gave for the page (ISO 8601): evidence for its publication date.
LISTED_DATE_META_KEY = "archiver_listed_date"


class SpiderArgumentError(StartupError):
    """A bad `-a` argument; the message says which and why (one line, exit code 2)."""


def _split(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return []
    parts = value.split(",") if isinstance(value, str) else list(value)
    return [p.strip() for p in parts if p and p.strip()]


def _positive_int(name: str, value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise SpiderArgumentError(f"-a {name}= must be a whole number, got {value!r}") from None
    if number < 0:
        raise SpiderArgumentError(f"-a {name}= must not be negative, got {number}")
    return number


def _site_arguments(crawler: Crawler, kwargs: dict[str, Any]) -> SiteConfig | None:
    """Fill the spider arguments from `-a site=NAME` (the ones given with -a win)."""
    name = kwargs.pop("site", None)
    if not name:
        return None
    if kwargs.get("urls"):
        raise SpiderArgumentError("give either -a site=NAME or -a urls=..., not both")
    try:
        site = load_sites(crawler.settings.get("ARCHIVER_SITES_FILE")).get(str(name))
    except SitesError as exc:
        raise SpiderArgumentError(str(exc)) from None
    kwargs["urls"] = ",".join(site.start_urls)
    kwargs.setdefault("allowed_domains", ",".join(site.allowed_domains))
    if site.max_pages is not None:
        kwargs.setdefault("max_pages", site.max_pages)
    if site.max_depth is not None:
        kwargs.setdefault("max_depth", site.max_depth)
    since = site.since_date()
    if since is not None:
        kwargs.setdefault("since", since.isoformat())
    return site


def _contact_in_user_agent(settings: Any) -> None:
    """Put ARCHIVER_CONTACT_URL (a sites-file site's, say) into our default User-Agent."""
    agent = user_agent(settings.get("ARCHIVER_CONTACT_URL"))
    if (
        settings.get("USER_AGENT", "").startswith("news-archiver/")
        and settings["USER_AGENT"] != agent
    ):
        settings.set(
            "USER_AGENT",
            agent,
            priority=settings.getpriority("ARCHIVER_CONTACT_URL") or "spider",
        )


def _depth(response: Response) -> int:
    return int(response.meta.get(DEPTH_META_KEY, 0))


def _article_item(
    response: TextResponse, content_type: str, refs: dict[str, Any], detection: str
) -> ArticleItem:
    return ArticleItem(
        url=response.url,
        fetched_at=refs.get("date") or datetime.now(UTC).isoformat(),
        status=response.status,
        content_type=content_type or None,
        body=response.body,
        warc_record_id=refs.get("response_id"),
        warc_date=refs.get("date"),
        detection=detection,
        listed_date=response.meta.get(LISTED_DATE_META_KEY),
    )


class NewsSpider(RequisiteSpiderMixin, scrapy.Spider):
    """Discovers and fetches news articles from homepages, sections, feeds and sitemaps."""

    name = "news"

    def __init__(
        self,
        urls: str | None = None,
        max_pages: str | int | None = None,
        max_depth: str | int | None = None,
        since: str | None = None,
        allowed_domains: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.start_urls = _split(urls)
        if not self.start_urls:
            raise SpiderArgumentError("give the pages to start from: -a urls=URL[,URL...]")
        for url in self.start_urls:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise SpiderArgumentError(f"not an http(s) URL: {url!r}")
        self.max_pages = _positive_int("max_pages", max_pages)
        self.max_depth = _positive_int("max_depth", max_depth)
        self.since: datetime | None = None
        if since:
            self.since = parse_date(since)
            if self.since is None:
                raise SpiderArgumentError(f"-a since= is not a date: {since!r} (use YYYY-MM-DD)")
        domains = _split(allowed_domains) or sorted(
            {urlsplit(u).hostname or "" for u in self.start_urls} - {""}
        )
        self.allowed_domains = domains
        self._seen: set[str] = set()
        self._scheduled = 0
        self._sitemaps_from_robots: set[str] = set()
        self.site: SiteConfig | None = None
        self.site_run: SiteRun | None = None
        self._state: dict[str, Any] | None = None
        # Start URLs that failed to download, with why (read by archiver.crawler.startup).
        self.start_failures: dict[str, str] = {}
        self.start_requested = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        """Create the spider (from the sites file with -a site=); listen for robots.txt sitemaps."""
        site = _site_arguments(crawler, kwargs)
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        if site is not None:
            spider.site = site
            for name, value in site.scrapy_settings().items():
                # -s on the command line still wins (its priority is above "spider").
                settings.set(name, value, priority="spider")
            spider.site_run = start_site_run(crawler, site)
        _contact_in_user_agent(settings)
        crawler.signals.connect(spider._on_robots_parsed, signal=signals.robots_parsed)
        # Stylesheets, fonts, images... of archived pages (ARCHIVER_REQUISITES; never followed).
        spider.setup_requisites(crawler)
        return spider

    async def start(self) -> AsyncIterator[Any]:
        """The start URLs; what each one is (page, feed, sitemap) is found from its body."""
        if self.site_run is not None:
            # History loaded (or restored), a killed run's files recovered: before any request.
            await self.site_run.prepare()
        state = getattr(self, "state", None)
        if isinstance(state, dict):
            # Scrapy's JOBDIR keeps spider.state across a clean stop; the same objects are
            # pickled again at the next one.
            self._state = state
            self._seen = state.setdefault("seen", self._seen)
            self._sitemaps_from_robots = state.setdefault(
                "robots_sitemaps", self._sitemaps_from_robots
            )
            self._scheduled = int(state.get("scheduled", self._scheduled))
        for url in self.start_urls:
            # With a shared frontier every worker yields the start URLs: the shared
            # duplicate filter must see them, so exactly one worker fetches each.
            shared = bool(self.crawler.settings.get("ARCHIVER_REDIS_URL"))
            request = self._request(url, source="start", dont_filter=not shared)
            if request is not None:
                self.start_requested += 1
                yield request

    # --- requests --------------------------------------------------------------
    def _allowed(self, url: str) -> bool:
        return self._host_allowed((urlsplit(url).hostname or "").lower())

    def _host_allowed(self, host: str) -> bool:
        return any(host == d or host.endswith("." + d) for d in self.allowed_domains)

    def _inc(self, key: str) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(key)

    def _request(
        self,
        url: str,
        *,
        source: str,
        depth: int = 0,
        dont_filter: bool = False,
        listed_date: datetime | None = None,
    ) -> scrapy.Request | None:
        if not self._allowed(url):
            return None
        if self.max_depth is not None and depth > self.max_depth:
            if self.crawler.stats is not None:
                self.crawler.stats.inc_value("archiver/spider/over_max_depth")
            return None
        key = canonicalize_url(url)
        if key in self._seen:
            return None
        if self.max_pages is not None and self._scheduled >= self.max_pages:
            if self.crawler.stats is not None:
                self.crawler.stats.inc_value("archiver/spider/over_max_pages")
            return None
        self._seen.add(key)
        request = scrapy.Request(
            url,
            callback=self.parse,
            errback=self._start_failed if source == "start" else None,
            meta={"archiver_source": source, DEPTH_META_KEY: depth},
            dont_filter=dont_filter,
        )
        if listed_date is not None:
            request.meta[LISTED_DATE_META_KEY] = listed_date.isoformat()
        if self.site_run is not None and source != "start":
            decision = self.site_run.decide(request.url, listed_date)
            if not decision.fetch:
                self._inc("archiver/recrawl/skipped")
                logger.debug("event=recrawl_skipped url=%s reason=%s", request.url, decision.reason)
                return None
            if decision.headers:
                request.headers.update(decision.headers)
                self._inc("archiver/recrawl/conditional")
        self._scheduled += 1
        if self._state is not None:
            self._state["scheduled"] = self._scheduled
        return request

    def _from_entries(
        self, entries: Iterable[Entry], source: str, depth: int
    ) -> Iterator[scrapy.Request]:
        for entry in entries:
            if self.since is not None and entry.date is not None and entry.date < self.since:
                if self.crawler.stats is not None:
                    self.crawler.stats.inc_value("archiver/spider/older_than_since")
                continue
            request = self._request(entry.url, source=source, depth=depth, listed_date=entry.date)
            if request is not None:
                yield request

    def _start_failed(self, failure: Failure) -> None:
        """Count and log in one line a start URL that could not be downloaded."""
        url, reason = start_failure(failure)
        self.start_failures[url] = reason
        self._inc("archiver/spider/start_failed")
        logger.error("event=start_failed url=%s reason=%s", url, reason)

    def _on_robots_parsed(self, robotparser: Any, request: scrapy.Request) -> None:
        """Queue the sitemaps a site lists in its robots.txt (parsed by Scrapy's middleware)."""
        parser = getattr(robotparser, "rp", None)
        for sitemap in list(getattr(parser, "sitemaps", []) or []):
            if sitemap in self._sitemaps_from_robots:
                continue
            self._sitemaps_from_robots.add(sitemap)
            sitemap_request = self._request(sitemap, source="robots.txt")
            if sitemap_request is not None and self.crawler.engine is not None:
                self.crawler.engine.crawl(sitemap_request)

    def _item_done(self, response_id: Any) -> bool:
        if self.site_run is None or not isinstance(response_id, str):
            return False
        return self.site_run.earlier_metadata(response_id)[0]

    def _known_article(self, url: str) -> bool:
        """Whether the capture history holds `url` as an article (seen by an earlier run)."""
        if self.site_run is None:
            return False
        known = self.site_run.history.pages.get(url)
        return known is not None and known.is_article

    # --- responses -------------------------------------------------------------
    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        """Dispatch on what the body is: feed, sitemap or HTML page."""
        content_type = (response.headers.get(b"Content-Type") or b"").decode("latin-1")
        kind = sniff_kind(response.body, content_type)
        stats = self.crawler.stats
        if stats is not None:
            stats.inc_value(f"archiver/spider/kind/{kind}")
        if kind in ("rss", "atom"):
            yield from self._from_entries(
                parse_feed(response.body, response.url), "feed", _depth(response)
            )
        elif kind in ("sitemapindex", "urlset"):
            try:
                _, entries = parse_sitemap(response.body, response.url)
            except ValueError as exc:
                logger.warning("event=sitemap_refused url=%s reason=%s", response.url, exc)
                return
            yield from self._from_entries(entries, kind, _depth(response))
        elif kind == "html" and isinstance(response, TextResponse):
            yield from self._parse_html(response, content_type)

    def _parse_html(self, response: TextResponse, content_type: str) -> Iterator[Any]:
        # Links to other sites are dropped while the page is scanned, before they are joined.
        info = analyze_html(
            response.body,
            response.url,
            encoding=response.encoding,
            follow_host=self._host_allowed,
        )
        refs = response.meta.get(WARC_META_KEY) or {}
        if info.is_article:
            self._inc("archiver/spider/articles")
            if self.site_run is not None:
                self.site_run.note_article(response.url)
        if info.is_article and refs.get("kind") == "revisit":
            # The same payload is archived already, and so is its clean text.
            self._inc("archiver/spider/articles_unchanged")
        elif info.is_article and self._item_done(refs.get("response_id")):
            # Replayed in a resumed crawl: its killed process wrote this item already.
            self._inc("archiver/resume/items_skipped")
        elif info.is_article:
            yield _article_item(response, content_type, refs, info.reason)
        elif info.candidate:
            # No article markup: the clean pipeline keeps the item only if the cleaner
            # judges the page an article (and counts it among the articles then).
            self._inc("archiver/spider/candidates")
            if refs.get("kind") == "revisit":
                if self._known_article(response.url):
                    self._inc("archiver/spider/articles")
                    self._inc("archiver/spider/articles_unchanged")
            elif self._item_done(refs.get("response_id")):
                self._inc("archiver/resume/items_skipped")
            else:
                yield _article_item(response, content_type, refs, info.reason)
        yield from self.requisites_of(response, info.is_article or info.candidate)
        for feed in info.feeds:
            request = self._request(feed, source="feed link", depth=_depth(response) + 1)
            if request is not None:
                yield request
        for link in info.links:
            request = self._request(link, source="link", depth=_depth(response) + 1)
            if request is not None:
                yield request
