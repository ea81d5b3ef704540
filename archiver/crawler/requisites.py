"""Page requisites in the crawl: the requests for them and the downloader middleware that bounds them.

A thin Scrapy adapter over archiver.discovery.requisites (what a page or stylesheet refers
to) and archiver.discovery.requisite_limits (the mode and the limits).  The news spider asks
:func:`requisites_for` for the crawl's :class:`RequisiteFetcher` and yields what
:meth:`RequisiteFetcher.for_page` gives for each page it archives.  Requisite requests may
go to any host (``allow_offsite``: CDNs), but pass through every downloader middleware as
pages do: robots.txt, per-host politeness, the address guard, the WARC capture.  They are
never parsed for links: a stylesheet is read only for its own ``@import`` and ``url()``, up
to MAX_CSS_DEPTH, and each URL is asked for once per crawl, so a self-importing stylesheet
ends.  :class:`RequisiteMiddleware` refuses requisites once their page's byte budget is
spent, gives each its size cap (the capture handler cuts the body there, archived with
``WARC-Truncated: length``) and counts ``archiver/requisites/<event>``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

import scrapy
from scrapy.exceptions import IgnoreRequest, NotConfigured

from archiver.crawler.capture import MAX_BYTES_META_KEY
from archiver.crawler.middleware import REQUISITE_META_KEY, TRUNCATED_META_KEY, WARC_META_KEY
from archiver.discovery import (
    MAX_CSS_DEPTH,
    Found,
    Requisite,
    RequisiteBudget,
    RequisitePolicy,
    css_requisites,
    html_requisites,
)

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response, TextResponse
    from twisted.python.failure import Failure

logger = logging.getLogger(__name__)

PREFIX = "archiver/requisites/"
# What a browser accepts for each kind: servers and CDNs choose a format by it (WebP, AVIF).
ACCEPT = {
    "style": "text/css,*/*;q=0.1",
    "image": "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8",
    "icon": "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8",
}
_fetchers: WeakKeyDictionary[Crawler, RequisiteFetcher | None] = WeakKeyDictionary()


def requisites_for(crawler: Crawler) -> RequisiteFetcher | None:
    """The crawl's requisite fetcher (None when ARCHIVER_REQUISITES is none)."""
    if crawler not in _fetchers:
        policy = RequisitePolicy.from_settings(crawler.settings)
        _fetchers[crawler] = RequisiteFetcher(crawler, policy) if policy.enabled else None
    return _fetchers[crawler]


class RequisiteFetcher:
    """Builds one crawl's requisite requests within its policy and counts what happens to them."""

    def __init__(self, crawler: Crawler, policy: RequisitePolicy) -> None:
        self.crawler = crawler
        self.policy = policy
        self.budget = RequisiteBudget(policy)
        # The spider's methods that call parse() and failed(): a request kept in a disk queue
        # (JOBDIR) must name its callbacks as methods of the spider.
        self.callback: Callable[[Response], Any] = self.parse
        self.errback: Callable[[Failure], Any] = self.failed

    def bind(self, callback: Callable[[Response], Any], errback: Callable[[Failure], Any]) -> None:
        """Use the spider's own methods as the requests' callbacks (they call parse and failed)."""
        self.callback, self.errback = callback, errback

    def inc(self, event: str, count: int = 1) -> None:
        """Count `archiver/requisites/{event}`."""
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(PREFIX + event, count)

    def wants(self, is_article: bool) -> bool:
        """Whether the requisites of this page are fetched (articles, or every page by setting)."""
        return is_article or self.policy.all_pages

    def for_page(self, response: TextResponse) -> Iterator[scrapy.Request]:
        """The requisite requests of an archived HTML page."""
        found = html_requisites(
            response.body, response.url, encoding=response.encoding, srcset=self.policy.srcset
        )
        self.inc("pages")
        yield from self._requests(found, response.url, 0)

    def _requests(self, found: Found, page: str, depth: int) -> Iterator[scrapy.Request]:
        if found.data_uris:
            self.inc("data_uri_ignored", found.data_uris)
        for requisite in found.requisites:
            if requisite.level > self.policy.level:
                self.inc("not_in_mode/" + requisite.kind)
                continue
            refused = self.budget.admit(page, requisite.url)
            if refused is not None:
                self.inc(refused)
                continue
            self.inc("requested")
            yield self._request(requisite, page, depth)

    def _request(self, requisite: Requisite, page: str, depth: int) -> scrapy.Request:
        return scrapy.Request(
            requisite.url,
            callback=self.callback,
            errback=self.errback,
            # Below pages and feeds: a page's requisites come after what finds new pages.
            priority=-1,
            headers={"Accept": ACCEPT.get(requisite.kind, "*/*")},
            meta={
                REQUISITE_META_KEY: {"page": page, "kind": requisite.kind, "depth": depth},
                # CDNs: outside the site's domains, still under robots.txt and the guard.
                "allow_offsite": True,
                # Not retried, as a browser does not: one attempt each, so what failed is
                # counted once and left out of the crawl's error rate (crawlstats).
                "dont_retry": True,
            },
        )

    def parse(self, response: Response) -> Iterator[scrapy.Request]:
        """A fetched requisite: only a stylesheet is read, for its own requisites."""
        info = response.meta.get(REQUISITE_META_KEY) or {}
        content_type = (response.headers.get(b"Content-Type") or b"").decode("latin-1").lower()
        is_css = "text/css" in content_type or (
            info.get("kind") == "style" and "html" not in content_type
        )
        if not is_css or response.status != 200:
            return
        depth = int(info.get("depth", 0)) + 1
        if depth > MAX_CSS_DEPTH:
            self.inc("over_css_depth")
            return
        found = css_requisites(response.body, response.url)
        yield from self._requests(found, str(info.get("page") or response.url), depth)

    def failed(self, failure: Failure) -> None:
        """A requisite that could not be fetched: counted by the middleware, never the page's failure."""
        request = getattr(failure, "request", None)
        logger.debug(
            "event=requisite_failed url=%s error=%s",
            getattr(request, "url", "?"),
            failure.getErrorMessage(),
        )


class RequisiteSpiderMixin:
    """The spider's side of requisites: the callbacks are its methods, so requests can wait
    in a disk queue (JOBDIR) or Redis, which name a callback by the spider's method name."""

    requisites: RequisiteFetcher | None = None

    def setup_requisites(self, crawler: Crawler) -> None:
        """Get the crawl's fetcher (None when ARCHIVER_REQUISITES is none) and bind it here."""
        self.requisites = requisites_for(crawler)
        if self.requisites is not None:
            self.requisites.bind(self.parse_requisite, self.requisite_failed)

    def requisites_of(self, response: TextResponse, is_article: bool) -> Iterator[scrapy.Request]:
        """The requisite requests of an archived HTML page, if its requisites are wanted."""
        if self.requisites is not None and self.requisites.wants(is_article):
            yield from self.requisites.for_page(response)

    def parse_requisite(self, response: Response) -> Iterator[scrapy.Request]:
        """A fetched requisite: a stylesheet's own requisites, nothing else."""
        if self.requisites is not None:
            yield from self.requisites.parse(response)

    def requisite_failed(self, failure: Failure) -> None:
        """A requisite that could not be fetched (counted; never the page's failure)."""
        if self.requisites is not None:
            self.requisites.failed(failure)


class RequisiteRefused(IgnoreRequest):
    """A requisite not fetched because its page's requisites brought their byte budget."""


class RequisiteMiddleware:
    """Downloader middleware: the byte budget and size cap of requisites, and their counts."""

    def __init__(self, fetcher: RequisiteFetcher) -> None:
        self.fetcher = fetcher

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Off when ARCHIVER_REQUISITES is none."""
        fetcher = requisites_for(crawler)
        if fetcher is None:
            raise NotConfigured("ARCHIVER_REQUISITES is none")
        return cls(fetcher)

    def process_request(self, request: Request) -> None:
        """Refuse a requisite whose page is over budget; give the others their size cap."""
        info = request.meta.get(REQUISITE_META_KEY)
        if not info:
            if request.meta.get("dont_obey_robotstxt") and request.url.endswith("/robots.txt"):
                # Asked by the robots.txt middleware for a host a request was allowed to
                # reach (a CDN's, say): the offsite filter must let it through too.
                request.meta["allow_offsite"] = True
            return
        page = str(info.get("page"))
        budget = self.fetcher.budget
        if budget.over_page_bytes(page):
            self.fetcher.inc("over_page_bytes")
            raise RequisiteRefused(f"requisites of {page} brought their byte budget")
        cap = budget.size_cap(page)
        if cap:
            request.meta[MAX_BYTES_META_KEY] = cap
            # The capture handler cuts at the cap; Scrapy's own limit would drop it instead.
            request.meta["download_maxsize"] = 0

    def process_response(self, request: Request, response: Response) -> Response:
        """Count a fetched requisite, its kind, bytes and whether it became a revisit."""
        info = request.meta.get(REQUISITE_META_KEY)
        if not info:
            return response
        fetcher = self.fetcher
        fetcher.budget.charge(str(info.get("page")), len(response.body))
        fetcher.inc("fetched")
        fetcher.inc("kind/" + str(info.get("kind")))
        fetcher.inc("bytes", len(response.body))
        if response.status >= 400:
            fetcher.inc("status_error")
        if response.status >= 500:
            fetcher.inc("status_5xx")
        refs = request.meta.get(WARC_META_KEY) or {}
        if refs.get("kind") == "revisit":
            fetcher.inc("revisits")
        if request.meta.get(TRUNCATED_META_KEY) == "length":
            fetcher.inc("truncated")
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        """Count a requisite that failed: refused by robots.txt, cut at its cap, or an error."""
        info = request.meta.get(REQUISITE_META_KEY)
        if not info or isinstance(exception, RequisiteRefused):
            return
        fetcher = self.fetcher
        if request.meta.get(TRUNCATED_META_KEY) == "length":
            # Archived up to the cap (and not retried: the WARC middleware said so).
            fetcher.budget.charge(
                str(info.get("page")), int(request.meta.get(MAX_BYTES_META_KEY) or 0)
            )
            fetcher.inc("fetched")
            fetcher.inc("kind/" + str(info.get("kind")))
            fetcher.inc("truncated")
            # Scrapy counted the cut as a download error: the crawl's error rate leaves it out.
            fetcher.inc("truncated/download_error")
        elif isinstance(exception, IgnoreRequest) and "robots.txt" in str(exception):
            fetcher.inc("robots_refused")
        else:
            fetcher.inc("failed")
            fetcher.inc("failed/" + type(exception).__name__)
        return


def is_requisite(meta: dict[str, Any]) -> bool:
    """Whether a request is a requisite (the trap detector leaves those alone)."""
    return bool(meta.get(REQUISITE_META_KEY))
