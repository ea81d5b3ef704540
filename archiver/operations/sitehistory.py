"""A site's capture history during one run: restored and loaded before it, fed its events, backed up after.

Scrapy-free; used by archiver.operations.siterun.  The history itself (the SQLite file, its
writer thread, backup and restore) is archiver.operations.history.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from archiver.operations.history import (
    ArticleEvent,
    CaptureEvent,
    CaptureHistory,
    HistoryError,
    HistoryEvent,
    HistoryWriter,
    PayloadIndex,
    backup_history,
    history_key,
    restore_history,
)
from archiver.operations.recrawl import KnownPage
from archiver.storage import S3Config, Uploader, UploadError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)


class RunStats(Protocol):
    """The crawl's stats, as a run reports into them (Scrapy's StatsCollector is one)."""

    def set_value(self, key: str, value: Any) -> None:
        """Set a stat."""

    def inc_value(self, key: str, count: int = 1) -> None:
        """Add to a stat."""


def history_event(event: Mapping[str, Any], crawl_id: str, crawl_date: str) -> HistoryEvent | None:
    """The history's form of an archive event (captures and articles; None for the others)."""
    if event.get("event") == "article":
        return ArticleEvent(str(event["url"]), event.get("published"))
    if event.get("event") != "capture" or not isinstance(event.get("status"), int):
        return None
    return CaptureEvent(
        url=str(event["url"]),
        date=str(event["date"]),
        status=int(event["status"]),
        record_id=str(event["record_id"]),
        kind=str(event["kind"]),
        crawl_id=crawl_id,
        crawl_date=crawl_date,
        payload_digest=event.get("payload_digest"),
        etag=event.get("etag"),
        last_modified=event.get("last_modified"),
        filename=event.get("filename"),
        offset=event.get("offset"),
        length=event.get("length"),
    )


class RunHistory:
    """The capture history of one site run: what is known of each page, and what this run adds."""

    def __init__(self, site: str, path: Path) -> None:
        self.site = site
        self.path = path
        self.history: CaptureHistory | None = None
        self.writer: HistoryWriter | None = None
        self.pages: dict[str, KnownPage] = {}
        # "off", or how the backup at the end went: "verified", "unverified", "failed".
        self.backup = "off"

    def open(
        self,
        s3: S3Config | None,
        client: S3Client | None,
        payloads: PayloadIndex | None,
        stats: RunStats | None,
    ) -> None:
        """Restore the history from storage into an empty spool, load it, start its writer."""
        history = CaptureHistory(self.path)
        if not history.path.exists() and s3 is not None and client is not None:
            key = history_key(s3.prefix, self.site)
            try:
                if restore_history(s3, client, key, history.path):
                    if stats is not None:
                        stats.set_value("archiver/history/restored", 1)
                else:
                    logger.info("event=history_new site=%s backup=none key=%s", self.site, key)
            except (UploadError, HistoryError, OSError) as exc:
                # Crawling without it only costs bandwidth; the next backup starts it afresh.
                logger.error("event=history_restore_failed site=%s error=%s", self.site, exc)
                if stats is not None:
                    stats.inc_value("archiver/history/errors")
        try:
            history.create()
            snapshot = history.snapshot()
        except HistoryError as exc:
            logger.error("event=history_unusable site=%s error=%s", self.site, exc)
            if stats is not None:
                stats.inc_value("archiver/history/errors")
            return
        self.history = history
        self.pages = snapshot.pages
        if payloads is not None:
            for ref in snapshot.payloads:
                payloads.add(ref)
        self.writer = HistoryWriter(history)
        logger.info(
            "event=history_loaded site=%s pages=%d payloads=%d",
            self.site,
            len(snapshot.pages),
            len(snapshot.payloads),
        )

    def submit(self, event: Mapping[str, Any], crawl_id: str, crawl_date: str) -> None:
        """Queue an archive event for the history (nothing when it is not open)."""
        if self.writer is None:
            return
        converted = history_event(event, crawl_id, crawl_date)
        if converted is not None:
            self.writer.submit(converted)

    def close(self) -> int:
        """Commit what is queued and stop the writer; returns how many events it failed to write."""
        if self.writer is None:
            return 0
        self.writer.close()
        return self.writer.errors

    def back_up(self, s3: S3Config | None, client: S3Client | None) -> None:
        """Upload the history to storage (sets `backup`)."""
        if self.history is None or s3 is None or client is None:
            return
        try:
            verified = backup_history(
                self.history,
                Uploader(s3, client),
                history_key(s3.prefix, self.site),
            )
            self.backup = "verified" if verified else "unverified"
        except (UploadError, HistoryError, OSError) as exc:
            self.backup = "failed"
            logger.error("event=history_backup_failed site=%s error=%s", self.site, exc)
