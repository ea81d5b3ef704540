"""The crawl's shared archive, as Scrapy components reach it (adapter over archiver.archive)."""

from __future__ import annotations

import logging
import weakref
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import threads

from archiver.archive import CrawlArchive, warcinfo_fields
from archiver.spool import CrawlDir, CrawlInfo, new_crawl_id
from archiver.warc import parse_digest_algorithm

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

_archives: weakref.WeakKeyDictionary[Crawler, CrawlArchive] = weakref.WeakKeyDictionary()


def archive_for(crawler: Crawler) -> CrawlArchive:
    """The crawl's archive, created on first use and closed when the spider closes."""
    archive = _archives.get(crawler)
    if archive is None:
        archive = _create(crawler)
        _archives[crawler] = archive
    return archive


def _create(crawler: Crawler) -> CrawlArchive:
    settings = crawler.settings
    spider = crawler.spider
    name = getattr(spider, "name", None) or "crawl"
    started = datetime.now(UTC)
    crawl_id = settings.get("ARCHIVER_CRAWL_ID") or new_crawl_id(name, started)
    try:
        digest = parse_digest_algorithm(str(settings.get("ARCHIVER_WARC_DIGEST", "sha1")))
    except ValueError as exc:
        raise ValueError(f"ARCHIVER_WARC_DIGEST: {exc}") from None
    info = CrawlInfo(
        crawl_id=crawl_id,
        spider=name,
        started=started,
        finished=None,
        start_urls=list(getattr(spider, "start_urls", []) or []),
    )
    crawl_dir = CrawlDir.create(Path(settings.get("ARCHIVER_WARC_DIR")), info)
    stats = crawler.stats

    def count(key: str, n: int) -> None:
        if stats is not None:
            stats.inc_value(key, n)

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
    )
    if stats is not None:
        stats.set_value("archiver/crawl_id", crawl_id)
    logger.info("event=crawl_started crawl=%s spool=%s", crawl_id, crawl_dir.root)

    async def on_closed(spider: Any, reason: str) -> None:
        def final_stats() -> dict[str, Any]:
            values = dict(stats.get_stats()) if stats is not None else {}
            values["finish_reason"] = reason
            return values

        # Closing flushes files and waits for uploads: a thread, so the reactor keeps running.
        await maybe_deferred_to_future(threads.deferToThread(archive.close, final_stats))

    crawler.signals.connect(on_closed, signal=signals.spider_closed, weak=False)
    return archive
