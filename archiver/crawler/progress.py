"""Extension that writes the crawl's live counts to ARCHIVER_PROGRESS_FILE once a second.

`archiver crawl` sets the file when its standard error is a terminal and shows the counts
as one live line per site; the crawl's own log goes to its log file as before.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from twisted.internet import task

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

# Once a second: often enough for a live line, a few hundred bytes written each time.
INTERVAL = 1.0
_STATUS_PREFIX = "downloader/response_status_count/"


def progress_counts(stats: dict[str, Any], elapsed: float, *, done: bool) -> dict[str, Any]:
    """The live counts: pages archived, articles, failed requests, seconds since the start."""

    def value(key: str) -> int:
        raw = stats.get(key, 0)
        return raw if isinstance(raw, int) else 0

    errors = value("downloader/exception_count") + value("spider_exceptions/count")
    errors += sum(
        int(v)
        for k, v in stats.items()
        if k.startswith(_STATUS_PREFIX) and k[len(_STATUS_PREFIX) :].startswith("5")
    )
    return {
        "pages": value("archiver/warc/responses") + value("archiver/warc/revisits"),
        "requests": value("downloader/request_count"),
        "articles": value("archiver/spider/articles"),
        "errors": errors,
        "elapsed": round(elapsed, 3),
        "done": done,
    }


class ProgressFile:
    """Writes the live counts to a JSON file (replaced whole) while the spider runs."""

    def __init__(self, crawler: Crawler, path: Path) -> None:
        self.crawler = crawler
        self.path = path
        self.started = time.monotonic()
        self._loop: task.LoopingCall | None = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Build from settings; off unless ARCHIVER_PROGRESS_FILE names a file."""
        name = str(crawler.settings.get("ARCHIVER_PROGRESS_FILE") or "").strip()
        if not name:
            raise NotConfigured("ARCHIVER_PROGRESS_FILE is not set")
        return cls(crawler, Path(name))

    def spider_opened(self, spider: Any) -> None:
        """Start writing."""
        self.started = time.monotonic()
        self._loop = task.LoopingCall(self.write, False)
        self._loop.start(INTERVAL, now=True)

    def spider_closed(self, spider: Any, reason: str) -> None:
        """Stop writing; the last counts say the crawl is done."""
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self.write(True)

    def write(self, done: bool) -> None:
        """Replace the file with the current counts (a failed write only costs the line)."""
        stats = self.crawler.stats
        values = dict(stats.get_stats()) if stats is not None else {}
        doc = progress_counts(values, time.monotonic() - self.started, done=done)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        try:
            tmp.write_text(json.dumps(doc), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:
            tmp.unlink(missing_ok=True)
