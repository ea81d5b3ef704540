"""Distributed mode's frontier: several `scrapy crawl` workers share one request queue in Redis.

Off unless ARCHIVER_REDIS_URL is set.  The add-on puts the request queue and the
duplicate filter in Redis (scrapy-redis) under keys named after ARCHIVER_CRAWL_ID,
which every worker of one crawl is started with.  The rest of distributed mode (the
workers' roll, the merged manifest) is archiver.crawler.distributed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from archiver.operations import FrontierKeys, scheduler_settings, validate_crawl_id

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings


class RedisFrontierAddon:
    """Scrapy add-on: when ARCHIVER_REDIS_URL is set, the scheduler and dupefilter use Redis."""

    def update_settings(self, settings: BaseSettings) -> None:
        """Point SCHEDULER and DUPEFILTER_CLASS at scrapy-redis, keyed by the crawl id."""
        url = str(settings.get("ARCHIVER_REDIS_URL") or "").strip()
        if not url:
            return
        crawl_id = validate_crawl_id(str(settings.get("ARCHIVER_CRAWL_ID") or "").strip())
        for name, value in scheduler_settings(url, FrontierKeys(crawl_id)).items():
            settings.set(name, value, priority="addon")
