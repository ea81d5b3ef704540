"""What `scrapy crawl` says when a crawl cannot start or fetches nothing: one line each.

A bad setting, spider argument or sites file stops the crawl before anything is fetched
(exit code 2); start URLs that all fail to download (unknown host, refused connection,
refused address) end it with a one-line summary (exit code 1; 0 for a site crawl, whose
run record holds the verdict).  Network failures are
logged in one line each, without a traceback; an unexpected error keeps its traceback.
The command using this is archiver.crawler.scrapy_commands.crawl.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import traceback
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
)
from twisted.internet import error as twisted_error
from twisted.python.failure import Failure

from archiver.cleaning import RuleError
from archiver.config import SettingError
from archiver.crawler.netguard import BlockedAddressError
from archiver.operations import AlreadyRunning, SitesError

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

EXIT_FAILED = 1  # the crawl ran (or started) and failed: nothing could be fetched, a lock held
EXIT_USAGE = 2  # a bad setting, spider argument or sites file: nothing ran

# Failures worth one log line and a place in the summary, not a traceback.
NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    CannotResolveHostError,
    twisted_error.DNSLookupError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    DownloadFailedError,
    twisted_error.ConnectError,
    twisted_error.TimeoutError,
    BlockedAddressError,
)


class StartupError(ValueError):
    """A crawl that cannot start as asked (a bad spider argument); the message says why."""


# Errors that mean the command line, a setting or a file is wrong (exit code 2).
USAGE_ERRORS: tuple[type[BaseException], ...] = (StartupError, SettingError, SitesError, RuleError)


def one_line(text: object) -> str:
    """The message on one line (no newlines, runs of spaces collapsed)."""
    return " ".join(str(text).split())


def describe_failure(exc: BaseException, url: str = "") -> str:
    """What went wrong with a download, for people: the host and the kind of failure."""
    host = urlsplit(url).hostname or "the host"
    if isinstance(exc, CannotResolveHostError | twisted_error.DNSLookupError):
        return f"unknown host {host} (DNS lookup found no address): is the URL right?"
    if isinstance(exc, DownloadConnectionRefusedError | twisted_error.ConnectionRefusedError):
        return f"{host} refused the connection: is the server up?"
    if isinstance(exc, DownloadTimeoutError | twisted_error.TimeoutError):
        return f"{host} did not answer in time ({one_line(exc)})"
    return one_line(exc) or type(exc).__name__


def start_failure(failure: Failure) -> tuple[str, str]:
    """The URL and the reason of a start request's network failure; re-raises any other
    failure (an HTTP error, a robots.txt refusal) for Scrapy's own handling."""
    exc = failure.value
    if not isinstance(exc, NETWORK_ERRORS):
        failure.raiseException()
    request = getattr(failure, "request", None)
    url = str(request.url) if request is not None else "?"
    return url, describe_failure(exc if exc is not None else failure, url)


class QuietNetworkErrors(logging.Filter):
    """Drops the traceback of a network failure from a log record (the message stays)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep every record; strip exc_info when it is a network error."""
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, NETWORK_ERRORS):
            record.exc_info = None
            record.exc_text = None
        return True


# Scrapy components that log a network failure with its traceback.
NOISY_LOGGERS = ("scrapy.downloadermiddlewares.robotstxt", "scrapy.core.scraper")


def quiet_network_tracebacks() -> None:
    """Install QuietNetworkErrors on the loggers that print network tracebacks (once)."""
    for name in NOISY_LOGGERS:
        log = logging.getLogger(name)
        if not any(isinstance(f, QuietNetworkErrors) for f in log.filters):
            log.addFilter(QuietNetworkErrors())


class StartOutcome:
    """Watches one crawl started by CrawlerProcess.crawl() and says how it ended."""

    def __init__(self) -> None:
        self.error: BaseException | None = None

    def watch(self, running: Any) -> None:
        """Take the crawl's exception from its task or Deferred (so nothing logs it twice)."""
        if isinstance(running, asyncio.Future):
            running.add_done_callback(self._task_done)
        elif hasattr(running, "addErrback"):
            running.addErrback(self._failed)

    def _task_done(self, task: asyncio.Future[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.error = task.exception()

    def _failed(self, failure: Failure) -> None:
        self.error = failure.value

    def exit_code(
        self, crawler: Crawler, bootstrap_failed: bool, err: IO[str] | None = None
    ) -> int:
        """Report how the crawl ended on err (stderr): 0, or 1 or 2 with one line."""
        out = sys.stderr if err is None else err
        if self.error is not None:
            if isinstance(self.error, USAGE_ERRORS):
                out.write(f"Error: {one_line(self.error)}\n")
                return EXIT_USAGE
            if isinstance(self.error, AlreadyRunning):
                out.write(f"Error: {one_line(self.error)}\n")
                return EXIT_FAILED
            traceback.print_exception(self.error, file=out)
            return EXIT_FAILED
        if bootstrap_failed:
            return EXIT_FAILED
        summary = nothing_fetched(crawler)
        if summary:
            out.write(f"Error: {summary}\n")
            # A site crawl's verdict is its run record (error rate), which `archiver crawl`
            # and `archiver status` judge; the exit code stays Scrapy's there.
            stats = crawler.stats
            return 0 if stats is not None and stats.get_value("archiver/site") else EXIT_FAILED
        return 0


def nothing_fetched(crawler: Crawler) -> str | None:
    """A summary when every start URL failed to download and no response came, else None."""
    spider = crawler.spider
    failures: dict[str, str] = dict(getattr(spider, "start_failures", None) or {})
    started = int(getattr(spider, "start_requested", 0) or 0)
    if not failures or len(failures) < started:
        return None
    if crawler.stats is not None and crawler.stats.get_value("downloader/response_count"):
        # Something answered (robots.txt, a redirect whose target was refused): not nothing.
        return None
    url, reason = next(iter(failures.items()))
    more = f" (and {len(failures) - 1} more start URL(s))" if len(failures) > 1 else ""
    return f"nothing could be fetched: {url}: {reason}{more}"
