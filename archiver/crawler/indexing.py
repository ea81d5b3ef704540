"""Extension that indexes each closed WARC into a CDXJ sidecar and adds the crawl to the archive index.

The sidecar ({warc}.cdxj) is written by a close hook of the crawl's archive, off the writer
thread, and uploaded beside its WARC.  Once the crawl is closed and every file is stored,
the crawl joins the archive-wide index (archiver.index.archive), in a thread.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import threads

from archiver.config import SettingError
from archiver.crawler.runtime import archive_for
from archiver.index import update_after_crawl, write_sidecar
from archiver.storage import S3Config, make_client

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

    from archiver.operations import CrawlArchive
    from archiver.warc import ClosedWarc

logger = logging.getLogger(__name__)


class IndexExtension:
    """Writes {warc}.cdxj for every closed WARC; publishes the crawl to the archive-wide index."""

    def __init__(
        self, crawler: Crawler, archive: CrawlArchive, cfg: S3Config | None, max_runs: int
    ) -> None:
        self.crawler = crawler
        self.archive = archive
        self.cfg = cfg
        self.max_runs = max_runs
        archive.add_close_hook(self.index_closed)
        crawler.signals.connect(self.engine_stopped, signal=signals.engine_stopped)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Build from settings; off when ARCHIVER_INDEX_ENABLED or WARC capture is off."""
        settings = crawler.settings
        if not settings.getbool("ARCHIVER_WARC_ENABLED"):
            raise NotConfigured("ARCHIVER_WARC_ENABLED is off")
        if not settings.getbool("ARCHIVER_INDEX_ENABLED"):
            raise NotConfigured("ARCHIVER_INDEX_ENABLED is off")
        max_runs = settings.getint("ARCHIVER_INDEX_MAX_RUNS")
        if max_runs < 1:
            raise NotConfigured(f"ARCHIVER_INDEX_MAX_RUNS must be 1 or more, not {max_runs}")
        try:
            cfg: S3Config | None = S3Config.from_settings(settings)
        except SettingError:
            cfg = None  # the upload extension reports the setting; sidecars are still written
        if cfg is not None and not cfg.enabled:
            cfg = None
        return cls(crawler, archive_for(crawler), cfg, max_runs)

    def index_closed(self, closed: ClosedWarc) -> list[Path]:
        """Close hook: index one closed WARC; the sidecar is uploaded beside it."""
        path = write_sidecar(closed)
        self._inc("archiver/index/warcs")
        return [path]

    async def engine_stopped(self) -> None:
        """After the archive closed (manifest stored): add the crawl to the archive-wide index."""
        if self.cfg is None:
            return
        crawl_id = self.archive.crawl_dir.info.crawl_id
        if self.archive.uploads_waiting:
            logger.warning(
                "event=index_update_waiting crawl=%s: the crawl joins the archive index "
                "when `archiver upload` has stored its files",
                crawl_id,
            )
            return
        try:
            await maybe_deferred_to_future(threads.deferToThread(self._publish))
        except Exception as exc:
            self._inc("archiver/index/errors")
            logger.error(
                "event=index_update_failed crawl=%s error=%r (run `archiver reindex --crawl %s`)",
                crawl_id,
                exc,
                crawl_id,
            )

    def _publish(self) -> None:
        assert self.cfg is not None
        run = update_after_crawl(
            self.cfg, make_client(self.cfg), self.archive.crawl_dir.info, max_runs=self.max_runs
        )
        if run is not None:
            self._inc("archiver/index/published")
            logger.info(
                "event=index_updated crawl=%s run=%s lines=%d", run.crawls, run.run_id, run.lines
            )

    def _inc(self, key: str) -> None:
        stats = self.crawler.stats
        if stats is not None:
            stats.inc_value(key)
