"""One crawl's archive: WARC writing off the caller's thread, uploads as files close, the manifest.

Scrapy-free: the WARC middleware, the metadata pipeline and the upload extension are
adapters over :class:`CrawlArchive`, which they share through archiver.crawler.runtime.
:class:`CrawlArchive` is a facade over the writer thread and its records
(archiver.operations.records, with the revisit lookups of archiver.operations.captures), the
upload bookkeeping (archiver.operations.uploads) and the manifest (archiver.operations.manifest).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archiver import SOFTWARE
from archiver.dataset import build_articles, discard_journal, keep_capture_lines
from archiver.operations.captures import ExchangeRefs
from archiver.operations.crawlstats import STATS_NAME, crawl_stats
from archiver.operations.history import PayloadIndex
from archiver.operations.manifest import CrawlManifest, write_json
from archiver.operations.records import RecordQueue
from archiver.operations.uploads import Counter, CrawlUploads
from archiver.spool import CrawlDir
from archiver.storage import Uploader, written_digest
from archiver.warc import ClosedWarc, DigestAlgorithm, HttpExchange, warc_date

logger = logging.getLogger(__name__)

# Runs once per closed WARC, off the writer thread; returns sidecar files (an index, say)
# to upload beside it.
CloseHook = Callable[[ClosedWarc], list[Path]]
# Gets every archive event ("capture", "metadata", "closed", "article") as a JSON-ready dict,
# once what it describes is in a file.  Captures and metadata come on the writer thread,
# before the file they are in can be closed: a hook must be quick and must not write records.
EventHook = Callable[[dict[str, Any]], None]

WARC_CONFORMS_TO = "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"
ITEMS_NAME = "items.jsonl"
# Items are appended under this name and renamed when the crawl ends: a file whose name
# ends in .part is never uploaded, so no other process ships a half-written one.
ITEMS_PART = ITEMS_NAME + ".part"


def _no_count(_key: str, _n: int) -> None:
    return None


def warcinfo_fields(
    *, crawl_id: str, user_agent: str, operator: str, robots: str, description: str = ""
) -> dict[str, str]:
    """The warcinfo record's fields for a crawl, in the conventional order."""
    fields = {
        "software": f"{SOFTWARE} (warcio, Scrapy)",
        "format": "WARC File Format 1.1",
        "conformsTo": WARC_CONFORMS_TO,
        "hostname": socket.gethostname(),
        "operator": operator or "unspecified",
        "robots": robots,
        "http-header-user-agent": user_agent,
        "isPartOf": crawl_id,
    }
    if description:
        fields["description"] = description
    return fields


def _append_line(path: Path, line: str) -> None:
    data = line.encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        start = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        except OSError:
            # A full disk can cut the line: take it back, so the file holds whole lines only.
            os.ftruncate(fd, start)
            raise
    finally:
        os.close(fd)


def _keep_capture_lines(crawl_dir: CrawlDir, closed: ClosedWarc, sidecars: list[Path]) -> None:
    """The sidecars leave the spool once uploaded; the article dataset needs their lines."""
    try:
        keep_capture_lines(crawl_dir.root, sidecars)
    except OSError as exc:
        logger.error("event=capture_lines_not_kept file=%s error=%r", closed.name, exc)


def _build_dataset(
    crawl_dir: CrawlDir, key_for: Callable[[str], str], count: Counter
) -> Path | None:
    """articles.parquet from the crawl's items and capture lines; None when it has none."""
    try:
        return build_articles(crawl_dir, key_for)
    except Exception as exc:
        # The WARCs and items are the archive; a dataset can be built again by reindex.
        count("archiver/dataset/errors", 1)
        logger.error("event=dataset_failed crawl=%s error=%r", crawl_dir.info.crawl_id, exc)
        return None


class CrawlArchive:
    """Writes one crawl's records into rotating WARCs and uploads each file once closed."""

    def __init__(
        self,
        crawl_dir: CrawlDir,
        *,
        prefix: str,
        max_size: int,
        digest_algorithm: DigestAlgorithm,
        warcinfo: Mapping[str, str],
        count: Counter = _no_count,
        payloads: PayloadIndex | None = None,
    ) -> None:
        self.crawl_dir = crawl_dir
        self.digest_algorithm = digest_algorithm
        # Payloads archived in full, by digest: a response with one of these becomes a
        # revisit record.  None turns revisit records off.
        self.payloads = payloads
        self.started = datetime.now(UTC)
        self._count = count
        self._uploads = CrawlUploads(crawl_dir, count)
        self._manifest = CrawlManifest(crawl_dir)
        self._event_hooks: list[EventHook] = []
        self._records = RecordQueue(
            crawl_dir,
            prefix=prefix,
            max_size=max_size,
            digest_algorithm=digest_algorithm,
            warcinfo=warcinfo,
            payloads=payloads,
            count=count,
            emit=self._emit,
            on_close=self._on_warc_closed,
            on_done=self._on_written,
        )
        self._items_path = crawl_dir.root / ITEMS_PART
        # One thread appends items, so their lines never interleave and the caller never waits on disk.
        self._items_io = ThreadPoolExecutor(1, thread_name_prefix="archiver-items")
        self._close_hooks: list[CloseHook] = []
        self._finish_hooks: list[Callable[[dict[str, Any]], None]] = []
        # Hooks and uploads of closed files run here, so the writer thread goes straight on.
        self._post_close = ThreadPoolExecutor(1, thread_name_prefix="archiver-closed")
        self._finished = False
        # The crawl's stats.json document, once close() has built it.
        self.stats_document: dict[str, Any] = {}

    # --- writing -----------------------------------------------------------------
    def add_event_hook(self, hook: EventHook) -> None:
        """Call `hook` with every archive event (see EventHook)."""
        self._event_hooks.append(hook)

    def write_exchange(self, exchange: HttpExchange) -> ExchangeRefs:
        """Queue the records of one exchange; returns their ids at once.

        A complete 200 response whose payload digest is already archived, in this crawl or
        an earlier one, is written as a revisit record instead of a second copy of the body.
        """
        return self._records.write_exchange(exchange)

    def write_metadata(self, target_uri: str, document: Mapping[str, Any], refers_to: str) -> str:
        """Queue a JSON metadata record linked to a response record; returns its id."""
        return self._records.write_metadata(target_uri, document, refers_to)

    def _emit(self, event: dict[str, Any]) -> None:
        for hook in self._event_hooks:
            try:
                hook(event)
            except Exception as exc:
                logger.error("event=archive_hook_failed kind=%s error=%r", event.get("event"), exc)

    def note_article(self, url: str, published: str | None) -> None:
        """Record that a URL is an article (and when it was published), off the caller's thread."""
        event = {"event": "article", "url": url, "published": published}
        self._items_io.submit(self._emit, event).add_done_callback(self._on_written)

    def write_item(self, item: Mapping[str, Any]) -> None:
        """Queue one extracted item for the crawl's items.jsonl."""
        line = json.dumps(item, ensure_ascii=False, sort_keys=True) + "\n"
        self._items_io.submit(_append_line, self._items_path, line).add_done_callback(
            self._on_written
        )

    def _on_written(self, future: Future[Any]) -> None:
        exc = future.exception()
        if exc is not None:
            self._count("archiver/warc/write_errors", 1)
            logger.error(
                "event=warc_write_failed crawl=%s error=%r", self.crawl_dir.info.crawl_id, exc
            )

    # --- closed files and uploads --------------------------------------------------
    def attach_uploader(
        self, uploader: Uploader, *, key_prefix: str, keep_local: bool, threads: int
    ) -> None:
        """Upload every file of this crawl as soon as it is closed."""
        # WARCs opened from now on also hash each upload part as they are written.
        self._records.set_part_size(uploader.cfg.multipart_chunksize)
        self._uploads.attach(
            uploader, key_prefix=key_prefix, keep_local=keep_local, threads=threads
        )

    def key_for(self, filename: str) -> str:
        """Storage key of one of this crawl's files."""
        return self._uploads.key_for(filename)

    def add_finish_hook(self, hook: Callable[[dict[str, Any]], None]) -> None:
        """Run `hook` with the manifest once the crawl's final close is done (in its thread)."""
        self._finish_hooks.append(hook)

    def add_close_hook(self, hook: CloseHook) -> None:
        """Run `hook` on every WARC this crawl closes; the files it returns are uploaded too."""
        self._close_hooks.append(hook)

    def adopt_files(self, files: Sequence[ClosedWarc], *, released: Sequence[str] = ()) -> None:
        """Take over WARCs an earlier process of this crawl closed (resume).

        Local ones are uploaded like this run's files; `released` names those already
        uploaded, verified and deleted.  All of them are listed in the manifest.
        """
        self._manifest.adopt(files, released)
        for closed in files:
            if closed.path.exists():
                # An earlier process may have stored it already: look before sending.
                self._post_close.submit(self._after_close, closed, True).add_done_callback(
                    self._on_written
                )

    def _on_warc_closed(self, closed: ClosedWarc) -> None:
        self._manifest.add_closed(closed)
        self._emit(
            {
                "event": "closed",
                "name": closed.name,
                "size": closed.size,
                "sha256": closed.sha256,
                "records": dict(closed.records),
                "first_date": warc_date(closed.first_date) if closed.first_date else None,
                "last_date": warc_date(closed.last_date) if closed.last_date else None,
            }
        )
        self._count("archiver/warc/files_closed", 1)
        self._count("archiver/warc/bytes", closed.size)
        logger.info(
            "event=warc_closed file=%s size=%d records=%s", closed.name, closed.size, closed.records
        )
        self._post_close.submit(self._after_close, closed).add_done_callback(self._on_written)

    def _after_close(self, closed: ClosedWarc, adopted: bool = False) -> None:
        sidecars: list[Path] = []
        for hook in self._close_hooks:
            try:
                sidecars.extend(hook(closed))
            except Exception as exc:
                self._count("archiver/warc/close_hook_errors", 1)
                logger.error("event=close_hook_failed file=%s error=%r", closed.name, exc)
        self._manifest.set_sidecars(closed.name, sidecars)
        _keep_capture_lines(self.crawl_dir, closed, sidecars)
        # The writer's digests go along: the upload sends them, it does not read them again.
        self._uploads.schedule(closed.path, written_digest(closed), check_existing=adopted)
        for path in sidecars:
            self._uploads.schedule(path, check_existing=adopted)

    @property
    def uploads_waiting(self) -> list[str]:
        """Names of this crawl's files whose upload failed (they wait in the spool)."""
        return self._uploads.waiting

    # --- closing -----------------------------------------------------------------
    def close(
        self,
        stats: Callable[[], Mapping[str, Any]] | None = None,
        *,
        final: bool = True,
        judge: Callable[[dict[str, Any]], list[str]] | None = None,
    ) -> dict[str, Any]:
        """Finish the crawl: flush and close WARCs, wait for uploads, write and upload the manifest.

        Blocking; call it from a thread, never from Scrapy's reactor.  `stats` is read
        once the uploads are done, so the manifest counts them.  With `final` false the
        crawl is only paused, to be resumed: its files are closed and uploaded, but the
        items stay in the spool and no manifest or stats.json is written.  `judge` names
        the problems of the run; they go into stats.json.
        """
        if self._finished:
            return self._manifest.read()
        self._finished = True
        closing = time.monotonic()
        self._records.close()
        self._post_close.shutdown(wait=True)
        self._items_io.shutdown(wait=True)
        items_written = False
        if final and self._items_path.exists():
            items = self._items_path.with_name(ITEMS_NAME)
            os.replace(self._items_path, items)
            items_written = True
            self._uploads.schedule(items)
        # Without an uploader the keys are not known: `archiver upload` builds it from storage.
        dataset = (
            _build_dataset(self.crawl_dir, self.key_for, self._count)
            if items_written and self._uploads.enabled
            else None
        )
        if dataset is not None:
            self._uploads.schedule(dataset)
        results = self._uploads.wait()
        finished = datetime.now(UTC)
        values = dict(stats()) if stats else {}
        manifest_doc = self._manifest.build(
            results,
            values,
            finished,
            items=ITEMS_NAME if items_written else None,
            dataset=dataset.name if dataset is not None else None,
            uploads_waiting=self.uploads_waiting,
            key_for=self._uploads.key_for if self._uploads.enabled else None,
        )
        if not final:
            self._uploads.shutdown()
            self._judge(manifest_doc, closing, judge)
            return {}
        self.crawl_dir.mark_finished(finished)
        manifest_path = self._manifest.write(manifest_doc)
        self._judge(manifest_doc, closing, judge)
        stats_path = self.crawl_dir.root / STATS_NAME
        write_json(stats_path, self.stats_document)
        self._uploads.upload_last(manifest_path, stats_path)
        discard_journal(self.crawl_dir.root)
        self._uploads.shutdown()
        for hook in self._finish_hooks:
            try:
                hook(manifest_doc)
            except Exception as exc:
                self._count("archiver/finish_hook_errors", 1)
                logger.error(
                    "event=finish_hook_failed crawl=%s error=%r", self.crawl_dir.info.crawl_id, exc
                )
        return manifest_doc

    def _judge(
        self,
        manifest: dict[str, Any],
        closing: float,
        judge: Callable[[dict[str, Any]], list[str]] | None,
    ) -> None:
        """Build the crawl's stats.json document and name its problems."""
        self.stats_document = crawl_stats(
            manifest, run_started=self.started, closing_seconds=time.monotonic() - closing
        )
        self.stats_document["problems"] = judge(self.stats_document) if judge else []
