"""Crawler traps: endless chains of links between pages whose URLs differ only in numbers.

A calendar with a "next month" link on every month, a page counter that never runs out,
a session id that changes on each page: each page leads to one more page of the same
shape, for ever.  :func:`url_shape` is the URL with every run of digits replaced, and a
link whose shape equals the shape of the page it was found on continues that page's
run; a run longer than ``ARCHIVER_TRAP_MAX_REPEATS`` is not followed.  Pages reached
from a page of another shape (a section front, a feed, a sitemap) start a new run, so
articles with numeric ids are never cut; only deep chains of same-shaped pages are.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.exceptions import NotConfigured

from archiver.crawler.requisites import is_requisite

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

# Request.meta key: how many pages of the same shape led to this request, itself included.
RUN_META_KEY = "archiver_shape_run"
SETTING = "ARCHIVER_TRAP_MAX_REPEATS"
_DIGITS = re.compile(r"\d+")
# Shapes already reported; bounded so a site with endless distinct shapes cannot grow it.
_REPORTED_MAX = 10_000


def url_shape(url: str) -> str:
    """The URL's host, then its path and query with each run of digits replaced by "0"."""
    parts = urlsplit(url)
    return parts.netloc.lower() + _DIGITS.sub("0", f"{parts.path or '/'}?{parts.query}")


class TrapDetector:
    """Counts runs of same-shaped links and says when a run has gone on too long."""

    def __init__(self, max_repeats: int) -> None:
        if max_repeats < 1:
            raise ValueError(f"{SETTING} must be 1 or more (0 turns trap detection off)")
        self.max_repeats = max_repeats

    def run_length(self, page_url: str | None, page_run: int, link_url: str) -> int:
        """The run a link starts or continues, found on a page with the given URL and run."""
        if page_url is not None and url_shape(link_url) == url_shape(page_url):
            return page_run + 1
        return 1

    def is_trap(self, run: int) -> bool:
        """Whether a link with this run length should not be followed."""
        return run > self.max_repeats


class TrapMiddleware:
    """Spider middleware that drops links continuing a run of same-shaped pages for too long."""

    def __init__(self, crawler: Crawler, detector: TrapDetector) -> None:
        self.detector = detector
        self.stats = crawler.stats
        self._reported: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Build from ARCHIVER_TRAP_MAX_REPEATS; off when it is 0."""
        max_repeats = crawler.settings.getint(SETTING)
        if max_repeats <= 0:
            raise NotConfigured(f"{SETTING} is 0")
        return cls(crawler, TrapDetector(max_repeats))

    def _admit(self, response: Response, item: Any) -> bool:
        if not isinstance(item, Request) or is_requisite(item.meta):
            # Requisites are never pages: they continue no chain.
            return True
        page_run = int(response.meta.get(RUN_META_KEY, 1))
        run = self.detector.run_length(response.url, page_run, item.url)
        if not self.detector.is_trap(run):
            item.meta[RUN_META_KEY] = run
            return True
        if self.stats is not None:
            self.stats.inc_value("archiver/traps/dropped")
        shape = url_shape(item.url)
        if shape not in self._reported and len(self._reported) < _REPORTED_MAX:
            self._reported.add(shape)
            if self.stats is not None:
                self.stats.inc_value("archiver/traps/detected")
            logger.warning(
                "event=trap_detected shape=%s run=%d url=%s found_on=%s",
                shape,
                run,
                item.url,
                response.url,
            )
        return False

    async def process_spider_output(
        self, response: Response, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        """Pass items and requests on, except links deep inside a trap."""
        async for item in result:
            if self._admit(response, item):
                yield item
