"""Extension that uploads the crawl's closed files to S3-compatible storage.

Each WARC is uploaded as soon as it is closed, in a thread pool (never on the reactor),
verified, and only then deleted locally.  At the start of a crawl, whatever earlier
runs left waiting in the spool is uploaded too.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import threads

from archiver.config import SettingError
from archiver.crawler.runtime import archive_for
from archiver.dataset.backfill import crawl_stored
from archiver.spool import iter_crawl_dirs
from archiver.storage import S3Config, SpoolReport, Uploader, upload_spool

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


class S3UploadExtension:
    """Uploads closed WARCs, items and the manifest; off (said once) when no bucket is set."""

    def __init__(self, crawler: Crawler, cfg: S3Config) -> None:
        self.crawler = crawler
        self.cfg = cfg
        self.spool_root = Path(crawler.settings.get("ARCHIVER_WARC_DIR"))
        self.archive = archive_for(crawler)
        self.archive.attach_uploader(
            Uploader(cfg),
            key_prefix=cfg.prefix,
            keep_local=cfg.keep_local,
            threads=cfg.upload_threads,
        )
        if crawler.settings.getbool("ARCHIVER_UPLOAD_ON_START"):
            crawler.signals.connect(self.upload_leftovers, signal=signals.spider_opened)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Build from ARCHIVER_S3_* settings; NotConfigured when no bucket is set."""
        settings = crawler.settings
        if not settings.getbool("ARCHIVER_WARC_ENABLED"):
            raise NotConfigured("ARCHIVER_WARC_ENABLED is off")
        try:
            cfg = S3Config.from_settings(settings)
        except SettingError as exc:
            raise NotConfigured(f"upload is off: {exc}") from exc
        if not cfg.enabled:
            logger.warning(
                "event=upload_off reason=ARCHIVER_S3_BUCKET-is-empty: WARC files stay in %s; "
                "set ARCHIVER_S3_BUCKET and run `archiver upload` to send them",
                settings.get("ARCHIVER_WARC_DIR"),
            )
            raise NotConfigured("ARCHIVER_S3_BUCKET is empty")
        logger.info(
            "event=upload_on bucket=%s prefix=%s server=%s", cfg.bucket, cfg.prefix, cfg.server
        )
        return cls(crawler, cfg)

    async def upload_leftovers(self, spider: Any) -> None:
        """Upload what earlier runs left in the spool, in a thread, before the crawl starts."""
        current = self.archive.crawl_dir.info.crawl_id
        try:
            await maybe_deferred_to_future(threads.deferToThread(self._upload_others, current))
        except Exception as exc:
            logger.error("event=leftover_upload_failed error=%s", exc)

    def _upload_others(self, current: str) -> None:
        others = [c.info.crawl_id for c in iter_crawl_dirs(self.spool_root)]
        for crawl_id in others:
            if crawl_id == current:
                continue
            report: SpoolReport = upload_spool(
                self.cfg, self.spool_root, crawl_id=crawl_id, on_crawl_stored=crawl_stored
            )
            stats = self.crawler.stats
            if stats is not None:
                stats.inc_value("archiver/upload/leftover_files", len(report.uploaded))
                stats.inc_value("archiver/upload/leftover_failed", len(report.failed))
                stats.inc_value("archiver/upload/leftover_recovered", len(report.recovered))
            for path, error in report.failed:
                logger.error("event=leftover_upload_failed file=%s error=%s", path, error)
            if report.uploaded:
                logger.info(
                    "event=leftovers_uploaded crawl=%s files=%d bytes=%d",
                    crawl_id,
                    len(report.uploaded),
                    report.bytes_uploaded,
                )
