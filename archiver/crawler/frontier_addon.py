"""The add-on that keeps a crawl's frontier on disk unless ARCHIVER_FRONTIER=memory.

Crawls without Redis get archiver.crawler.frontier.SpoolScheduler, which puts Scrapy's
disk queue in the spool when the crawl has no JOBDIR (that module says why).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from archiver.config import SettingError

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

MODES = ("disk", "memory")


def frontier_mode(settings: BaseSettings) -> str:
    """ARCHIVER_FRONTIER, checked: "disk" or "memory"."""
    mode = str(settings.get("ARCHIVER_FRONTIER") or "").strip().lower()
    if mode not in MODES:
        raise SettingError(f"ARCHIVER_FRONTIER must be one of {', '.join(MODES)}, not {mode!r}")
    return mode


class FrontierAddon:
    """Scrapy add-on: crawls without Redis use SpoolScheduler unless ARCHIVER_FRONTIER=memory."""

    def update_settings(self, settings: BaseSettings) -> None:
        """Set SCHEDULER at add-on priority (a SCHEDULER set by the user still wins)."""
        if frontier_mode(settings) != "disk":
            return
        if str(settings.get("ARCHIVER_REDIS_URL") or "").strip():
            return  # the Redis add-on's scheduler holds the shared frontier
        settings.set("SCHEDULER", "archiver.crawler.frontier.SpoolScheduler", priority="addon")
