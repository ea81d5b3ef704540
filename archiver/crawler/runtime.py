"""The crawl's shared archive and site run, as Scrapy components reach them.

Adapters over the Scrapy-free modules: archiver.operations.archive (WARC writing, uploads, the
manifest), and for crawls of a sites-file site (`-a site=NAME`) archiver.operations.siterun
(the site's lock, job, capture history, resume and the judgement of the run), whose
:class:`SiteRun` here adds the settings, the signals and preparing it in a thread.
"""

from __future__ import annotations

import logging
import weakref
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import threads
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from archiver.operations import (
    DEFAULT_MAX_ERROR_RATE,
    CrawlArchive,
    PayloadIndex,
    SiteConfig,
    SiteSession,
    assess,
    warcinfo_fields,
    worker_crawl_id,
)
from archiver.spool import (
    CrawlDir,
    CrawlInfo,
    new_crawl_id,
)
from archiver.storage import S3Config
from archiver.warc import parse_digest_algorithm

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

_archives: weakref.WeakKeyDictionary[Crawler, CrawlArchive] = weakref.WeakKeyDictionary()
_site_runs: weakref.WeakKeyDictionary[Crawler, SiteRun] = weakref.WeakKeyDictionary()


def archive_for(crawler: Crawler) -> CrawlArchive:
    """The crawl's archive, created on first use and closed when the spider closes."""
    archive = _archives.get(crawler)
    if archive is None:
        archive = _create(crawler)
        _archives[crawler] = archive
    return archive


def site_run_for(crawler: Crawler) -> SiteRun | None:
    """The site run of a `-a site=NAME` crawl (None for a crawl of URLs given by hand)."""
    return _site_runs.get(crawler)


def start_site_run(crawler: Crawler, site: SiteConfig) -> SiteRun:
    """Take the site's lock and begin or resume its job; the spider calls this first."""
    run = SiteRun(crawler, site)
    run.begin()
    _site_runs[crawler] = run
    return run


class SiteRun(SiteSession):
    """The Scrapy side of a site run: its settings, its signals, and preparing it in a thread."""

    def __init__(self, crawler: Crawler, site: SiteConfig) -> None:
        settings = crawler.settings
        super().__init__(
            site,
            spool_root=Path(settings.get("ARCHIVER_WARC_DIR")),
            history_on=settings.getbool("ARCHIVER_HISTORY_ENABLED"),
            resume_on=settings.getbool("ARCHIVER_RESUME_ENABLED"),
            revisits=settings.getbool("ARCHIVER_REVISITS_ENABLED"),
            max_error_rate=(
                site.max_error_rate
                if site.max_error_rate is not None
                else settings.getfloat("ARCHIVER_CRAWL_MAX_ERROR_RATE", DEFAULT_MAX_ERROR_RATE)
            ),
        )
        self.crawler = crawler
        self._prepared: Deferred[None] | None = None
        self._outcome: Failure | bool | None = None
        self._waiters: list[Deferred[None]] = []

    @property
    def stats(self) -> StatsCollector | None:
        """The crawl's stats (read when used: Scrapy sets them after the spider is built)."""
        return self.crawler.stats

    # --- before the engine starts ------------------------------------------------
    def begin(self) -> None:
        """Take (or adopt) the site's lock and open its job directory."""
        super().begin()
        if self.resume_on:
            # Scrapy's own resume (queue, seen requests, spider state) lives beside our journal.
            self.crawler.settings.set("JOBDIR", str(self.site_dir.job_dir), priority="spider")
        self.crawler.signals.connect(
            self._closed_without_archive, signal=signals.spider_closed, weak=False
        )

    # --- before the first request -------------------------------------------------
    async def prepare(self) -> None:
        """Restore and load the history, recover what a killed run left; once, in a thread.

        Every caller waits for the same preparation: the spider before its start requests,
        and the capture middleware before any request, since Scrapy sends the requests of
        a resumed JOBDIR queue without waiting for the spider.
        """
        if self._prepared is None:
            self._prepared = threads.deferToThread(self._prepare)
            self._prepared.addBoth(self._prepared_done)
        if self._outcome is not None:
            if isinstance(self._outcome, Failure):
                self._outcome.raiseException()
            return
        waiter: Deferred[None] = Deferred()
        self._waiters.append(waiter)
        await maybe_deferred_to_future(waiter)

    @property
    def ready(self) -> bool:
        """Whether preparation succeeded (nothing waits any more)."""
        return self._outcome is not None and not isinstance(self._outcome, Failure)

    def _prepared_done(self, outcome: Any) -> None:
        self._outcome = outcome if isinstance(outcome, Failure) else True
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if isinstance(outcome, Failure):
                waiter.errback(outcome)
            else:
                waiter.callback(None)

    def _prepare(self) -> None:
        try:
            cfg = S3Config.from_settings(self.crawler.settings)
        except ValueError:
            cfg = None  # the upload extension reports bad storage settings
        self.load(cfg)

    # --- at the end (a thread) -------------------------------------------------------
    async def _closed_without_archive(self, spider: Any, reason: str) -> None:
        # With ARCHIVER_WARC_ENABLED off there is no archive, whose close ends the run.
        if _archives.get(self.crawler) is not None:
            return

        def end() -> None:
            self.history.close()
            self.finish(reason, {"finish_reason": reason, "problems": []})

        await maybe_deferred_to_future(threads.deferToThread(end))


def _create(crawler: Crawler) -> CrawlArchive:
    settings = crawler.settings
    spider = crawler.spider
    name = getattr(spider, "name", None) or "crawl"
    run = site_run_for(crawler)
    started = datetime.now(UTC)
    if run is not None:
        crawl_id = run.crawl_id
    elif settings.get("ARCHIVER_REDIS_URL"):
        # A worker of a distributed crawl archives under its own id within the shared one.
        crawl_id = worker_crawl_id(settings.get("ARCHIVER_CRAWL_ID"))
    else:
        crawl_id = settings.get("ARCHIVER_CRAWL_ID") or new_crawl_id(name, started)
    try:
        digest = parse_digest_algorithm(str(settings.get("ARCHIVER_WARC_DIGEST", "sha1")))
    except ValueError as exc:
        raise ValueError(f"ARCHIVER_WARC_DIGEST: {exc}") from None
    spool_root = Path(settings.get("ARCHIVER_WARC_DIR"))
    if run is not None and (spool_root / crawl_id).is_dir():
        # Resuming: the crawl directory, its files and its start date are the crawl's own.
        crawl_dir = CrawlDir.load(spool_root / crawl_id)
    else:
        info = CrawlInfo(
            crawl_id=crawl_id,
            spider=name,
            started=started,
            finished=None,
            start_urls=list(getattr(spider, "start_urls", []) or []),
            site=run.site.name if run is not None else None,
        )
        crawl_dir = CrawlDir.create(spool_root, info)
    stats = crawler.stats

    def count(key: str, n: int) -> None:
        if stats is not None:
            stats.inc_value(key, n)

    revisits = settings.getbool("ARCHIVER_REVISITS_ENABLED")
    rate = settings.getfloat("ARCHIVER_CRAWL_MAX_ERROR_RATE", DEFAULT_MAX_ERROR_RATE)
    archive = CrawlArchive(
        crawl_dir,
        prefix=settings.get("ARCHIVER_WARC_PREFIX"),
        max_size=settings.getint("ARCHIVER_WARC_MAX_SIZE"),
        digest_algorithm=digest,
        warcinfo=warcinfo_fields(
            crawl_id=crawl_id,
            user_agent=settings.get("USER_AGENT"),
            operator=settings.get("ARCHIVER_OPERATOR"),
            robots="obey" if settings.getbool("ROBOTSTXT_OBEY") else "ignore",
        ),
        count=count,
        payloads=run.payloads if run is not None else (PayloadIndex() if revisits else None),
    )
    if run is not None:
        run.attach(archive)
    if stats is not None:
        stats.set_value("archiver/crawl_id", crawl_id)
    logger.info("event=crawl_started crawl=%s spool=%s", crawl_id, crawl_dir.root)

    async def on_closed(spider: Any, reason: str) -> None:
        def final_stats() -> dict[str, Any]:
            values = dict(stats.get_stats()) if stats is not None else {}
            values["finish_reason"] = reason
            return values

        def close() -> None:
            if run is None:
                archive.close(final_stats, judge=lambda doc: assess(doc, max_error_rate=rate))
                return
            try:
                archive.close(final_stats, final=run.final(reason), judge=run.judge)
            finally:
                run.finish(reason, archive.stats_document)

        # Closing flushes files and waits for uploads: a thread, so the reactor keeps running.
        await maybe_deferred_to_future(threads.deferToThread(close))

    crawler.signals.connect(on_closed, signal=signals.spider_closed, weak=False)
    return archive
