"""Distributed mode: several `scrapy crawl` workers share one frontier in Redis.

Off unless ARCHIVER_REDIS_URL is set.  The frontier itself (the request queue and the
duplicate filter in Redis) is set up by archiver.crawler.redis_frontier.RedisFrontierAddon
under keys named after ARCHIVER_CRAWL_ID, which every worker of one crawl is started with.
This extension keeps the workers' roll: each worker archives, indexes and uploads its own
files as a crawl of its own (`{crawl id}.{host}-{pid}`); the last worker to finish writes
the crawl's merged manifest.json under the shared crawl id.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from scrapy import signals
from scrapy.exceptions import DontCloseSpider, NotConfigured

from archiver.crawler.runtime import archive_for
from archiver.operations import (
    FrontierKeys,
    WorkerRoll,
    merge_manifests,
    validate_crawl_id,
    worker_name,
)
from archiver.spool import MANIFEST_NAME
from archiver.storage import S3Config, Uploader, object_key

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

# Activity is written to Redis at most this often per worker.
TOUCH_INTERVAL_SECONDS = 1.0


class DistributedCrawlExtension:
    """Joins the crawl's roll, keeps idle workers alive while others work, merges manifests."""

    def __init__(
        self, crawler: Crawler, roll: WorkerRoll, crawl_id: str, idle_timeout: float
    ) -> None:
        self.crawler = crawler
        self.roll = roll
        self.crawl_id = crawl_id
        self.idle_timeout = idle_timeout
        self._last_touch = 0.0
        archive = archive_for(crawler)
        archive.add_finish_hook(self._finished)
        self.archive = archive
        crawler.signals.connect(self._opened, signal=signals.spider_opened)
        crawler.signals.connect(self._response, signal=signals.response_received)
        crawler.signals.connect(self._idle, signal=signals.spider_idle)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Off (NotConfigured) unless ARCHIVER_REDIS_URL is set."""
        settings = crawler.settings
        url = str(settings.get("ARCHIVER_REDIS_URL") or "").strip()
        if not url:
            raise NotConfigured("ARCHIVER_REDIS_URL is empty")
        import redis

        crawl_id = validate_crawl_id(str(settings.get("ARCHIVER_CRAWL_ID") or "").strip())
        client = redis.Redis.from_url(url, decode_responses=True)
        roll = WorkerRoll(client, FrontierKeys(crawl_id), worker_name())
        return cls(crawler, roll, crawl_id, settings.getfloat("ARCHIVER_REDIS_IDLE_TIMEOUT"))

    def _opened(self, spider: Any) -> None:
        self.roll.join()
        logger.info("event=worker_joined crawl=%s worker=%s", self.crawl_id, self.roll.worker)

    def _response(self, response: Any, request: Any, spider: Any) -> None:
        now = time.monotonic()
        if now - self._last_touch >= TOUCH_INTERVAL_SECONDS:
            self._last_touch = now
            self.roll.touch()

    def _idle(self, spider: Any) -> None:
        # Another worker may be parsing a page whose links will land in the queue: stop
        # only once the queue is empty and the whole crawl has been quiet for a while.
        if self.roll.queued() > 0 or self.roll.quiet_for() < self.idle_timeout:
            raise DontCloseSpider("other workers of the crawl are still busy")

    def _finished(self, manifest: dict[str, Any]) -> None:
        """Hand in this worker's manifest; the last worker out writes the merged one."""
        mine = {**manifest, "worker": self.roll.worker, "manifest_name": manifest.get("crawl_id")}
        if not self.roll.leave(mine):
            logger.info("event=worker_left crawl=%s worker=%s", self.crawl_id, self.roll.worker)
            return
        merged = merge_manifests(self.roll.manifests())
        merged["crawl_id"] = self.crawl_id
        merged["merged_at"] = datetime.now(UTC).isoformat()
        self._publish(merged)

    def _publish(self, merged: dict[str, Any]) -> None:
        settings = self.crawler.settings
        cfg = S3Config.from_settings(settings)
        date = str(merged["started"])[:10]
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / MANIFEST_NAME
            path.write_text(json.dumps(merged, indent=2, sort_keys=True, default=str) + "\n")
            if not cfg.enabled:
                target = Path(settings.get("ARCHIVER_WARC_DIR")) / f"{self.crawl_id}.manifest.json"
                target.write_bytes(path.read_bytes())
                logger.info("event=merged_manifest_written path=%s", target)
                return
            key = object_key(cfg.prefix, date, self.crawl_id, MANIFEST_NAME)
            Uploader(cfg).upload_file(path, key, content_type="application/json")
        logger.info(
            "event=merged_manifest_uploaded crawl=%s workers=%d files=%d key=%s",
            self.crawl_id,
            len(merged["workers"]),
            len(merged["files"]),
            key,
        )
