"""One crawl's archive: WARC writing off the caller's thread, uploads as files close, the manifest.

Scrapy-free: the WARC middleware, the metadata pipeline and the upload extension are
adapters over :class:`CrawlArchive`, which they share through archiver.crawler.runtime.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from warcio.recordloader import ArcWarcRecord

from archiver import SOFTWARE
from archiver.operations.crawlstats import STATS_NAME, crawl_stats
from archiver.operations.history import PayloadIndex, PayloadRef
from archiver.spool import CrawlDir
from archiver.storage import LocalDigest, Uploader, UploadResult, object_key, written_digest
from archiver.warc import (
    ClosedWarc,
    DigestAlgorithm,
    HttpExchange,
    RecordLocation,
    RotatingWarcWriter,
    WarcWriterThread,
    build_exchange_records,
    build_metadata_record,
    build_request_record,
    build_revisit_record,
    digest,
    new_record_id,
    stored_response,
    warc_date,
)

logger = logging.getLogger(__name__)

Counter = Callable[[str, int], None]
# Runs once per closed WARC, off the writer thread; returns sidecar files (an index, say)
# to upload beside it.
CloseHook = Callable[[ClosedWarc], list[Path]]
# Gets every archive event ("capture", "metadata", "closed", "article") as a JSON-ready dict,
# once what it describes is in a file.  Captures and metadata come on the writer thread,
# before the file they are in can be closed: a hook must be quick and must not write records.
EventHook = Callable[[dict[str, Any]], None]

WARC_CONFORMS_TO = "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"
MANIFEST_NAME = "manifest.json"
ITEMS_NAME = "items.jsonl"
# Items are appended under this name and renamed when the crawl ends: a file whose name
# ends in .part is never uploaded, so no other process ships a half-written one.
ITEMS_PART = ITEMS_NAME + ".part"
MANIFEST_VERSION = 1
_STATUS = re.compile(rb"HTTP/\d(?:\.\d)? +(\d{3})")


def _no_count(_key: str, _n: int) -> None:
    return None


@dataclass(frozen=True)
class ExchangeRefs:
    """Where an exchange went: its record ids and date, for records that refer to it.

    `response_id` is the response record, or the revisit record when the payload was
    archived before; `refers_to` then names the record that holds the payload.
    """

    request_id: str
    response_id: str
    date: str
    kind: str = "response"
    status: int | None = None
    payload_digest: str | None = None
    refers_to: str | None = None


def response_status(head: bytes) -> int | None:
    """The status code of an HTTP response head."""
    found = _STATUS.match(head)
    return int(found.group(1)) if found else None


def head_field(head: bytes, name: str) -> str | None:
    """The first value of a header in an HTTP head (case-insensitive), as text."""
    wanted = name.lower().encode("ascii")
    for line in head.split(b"\n")[1:]:
        field_name, colon, value = line.partition(b":")
        if colon and field_name.strip().lower() == wanted:
            return value.strip().decode("latin-1")
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
        self._event_hooks: list[EventHook] = []
        # What a record being written is, by record id, until the writer reports it written.
        self._in_flight: dict[str, dict[str, Any]] = {}
        self._writer = RotatingWarcWriter(
            crawl_dir.warc_dir,
            prefix=prefix,
            max_size=max_size,
            warcinfo_fields=warcinfo,
            digest_algorithm=digest_algorithm,
            on_close=self._on_warc_closed,
            on_write=self._on_records_written,
        )
        self._thread = WarcWriterThread(self._writer)
        self._items_path = crawl_dir.root / ITEMS_PART
        # One thread appends items, so their lines never interleave and the caller never waits on disk.
        self._items_io = ThreadPoolExecutor(1, thread_name_prefix="archiver-items")
        self._uploader: Uploader | None = None
        self._key_prefix = ""
        self._keep_local = True
        self._upload_pool: ThreadPoolExecutor | None = None
        self._uploads: dict[str, Future[UploadResult]] = {}
        self._upload_errors: dict[str, str] = {}
        self._closed_files: list[ClosedWarc] = []
        # Files an earlier process of this crawl closed and uploaded (resumed crawls).
        self._released_earlier: set[str] = set()
        self._close_hooks: list[CloseHook] = []
        self._finish_hooks: list[Callable[[dict[str, Any]], None]] = []
        self._sidecars: dict[str, list[str]] = {}
        # Hooks and uploads of closed files run here, so the writer thread goes straight on.
        self._post_close = ThreadPoolExecutor(1, thread_name_prefix="archiver-closed")
        self._lock = threading.Lock()
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
        request_id, response_id = new_record_id(), new_record_id()
        head, body, cut = stored_response(exchange)
        status = response_status(head)
        date = warc_date(exchange.date)
        payload_digest = digest(body, self.digest_algorithm)
        original = None
        own: PayloadRef | None = None
        if (
            self.payloads is not None
            and status == 200
            and body
            and not cut
            and not exchange.truncated
        ):
            info = self.crawl_dir.info
            own = PayloadRef(
                payload_digest,
                exchange.target_uri,
                date,
                response_id,
                info.crawl_id,
                info.crawl_date,
            )
            original = self.payloads.add(own)
        records: list[ArcWarcRecord]
        if original is not None:
            own = None
            revisit = build_revisit_record(
                exchange,
                refers_to=original.record_id,
                refers_to_uri=original.url,
                refers_to_date=original.date,
                digest_algorithm=self.digest_algorithm,
                record_id=response_id,
            )
            request = build_request_record(
                exchange,
                concurrent_to=response_id,
                digest_algorithm=self.digest_algorithm,
                record_id=request_id,
            )
            records = [request, revisit]
            self._count("archiver/warc/revisits", 1)
            self._count("archiver/warc/payload_bytes_deduplicated", len(body))
        else:
            records = list(
                build_exchange_records(
                    exchange,
                    digest_algorithm=self.digest_algorithm,
                    request_id=request_id,
                    response_id=response_id,
                )
            )
            self._count("archiver/warc/payload_bytes", len(body))
        kind = "revisit" if original is not None else "response"
        event: dict[str, Any] = {
            "event": "capture",
            "url": exchange.target_uri,
            "date": date,
            "status": status,
            "kind": kind,
            "record_id": response_id,
            "request_id": request_id,
            "payload_digest": payload_digest,
            "payload_size": len(body),
            "etag": head_field(head, "ETag"),
            "last_modified": head_field(head, "Last-Modified"),
        }
        if original is not None:
            event.update(
                refers_to=original.record_id,
                refers_to_uri=original.url,
                refers_to_date=original.date,
            )
        with self._lock:
            self._in_flight[response_id] = event
        future = self._thread.submit(records)
        future.add_done_callback(self._on_written)
        payloads, mine = self.payloads, own

        def forget_on_failure(done: Future[Any]) -> None:
            if done.exception() is None:
                return
            with self._lock:
                self._in_flight.pop(response_id, None)
            # A payload whose record never reached the file cannot be referred to.
            if payloads is not None and mine is not None:
                payloads.discard(mine.digest, mine.record_id)

        future.add_done_callback(forget_on_failure)
        return ExchangeRefs(
            request_id,
            response_id,
            date,
            kind=kind,
            status=status,
            payload_digest=payload_digest,
            refers_to=original.record_id if original is not None else None,
        )

    def _on_records_written(
        self, records: Sequence[ArcWarcRecord], locations: list[RecordLocation]
    ) -> None:
        """Writer thread, after the records are in the file: complete and emit their events."""
        for record, location in zip(records, locations, strict=True):
            record_id = record.rec_headers.get_header("WARC-Record-ID")
            with self._lock:
                event = self._in_flight.pop(record_id, None)
            if event is None:
                continue
            event.update(filename=location.filename, offset=location.offset, length=location.length)
            if (
                event["event"] == "capture"
                and event["kind"] == "response"
                and self.payloads is not None
            ):
                info = self.crawl_dir.info
                self.payloads.update(
                    PayloadRef(
                        event["payload_digest"],
                        event["url"],
                        event["date"],
                        record_id,
                        info.crawl_id,
                        info.crawl_date,
                        location.filename,
                        location.offset,
                        location.length,
                    )
                )
            self._emit(event)

    def _emit(self, event: dict[str, Any]) -> None:
        for hook in self._event_hooks:
            try:
                hook(event)
            except Exception as exc:
                logger.error("event=archive_hook_failed kind=%s error=%r", event.get("event"), exc)

    def write_metadata(self, target_uri: str, document: Mapping[str, Any], refers_to: str) -> str:
        """Queue a JSON metadata record linked to a response record; returns its id."""
        record_id = new_record_id()
        payload = json.dumps(document, ensure_ascii=False, sort_keys=True).encode("utf-8")
        record = build_metadata_record(
            target_uri,
            payload,
            refers_to=refers_to,
            date=datetime.now(UTC),
            record_id=record_id,
            digest_algorithm=self.digest_algorithm,
        )
        with self._lock:
            self._in_flight[record_id] = {
                "event": "metadata",
                "url": target_uri,
                "record_id": record_id,
                "refers_to": refers_to,
            }
        future = self._thread.submit([record])
        future.add_done_callback(self._on_written)

        def forget_on_failure(done: Future[Any]) -> None:
            if done.exception() is not None:
                with self._lock:
                    self._in_flight.pop(record_id, None)

        future.add_done_callback(forget_on_failure)
        return record_id

    def note_article(self, url: str, published: str | None) -> None:
        """Record that a URL is an article (and when it was published), off the caller's thread."""
        event = {"event": "article", "url": url, "published": published}
        self._items_io.submit(self._emit, event).add_done_callback(self._on_written)

    def write_item(self, item: Mapping[str, Any]) -> None:
        """Queue one extracted item for the crawl's items.jsonl."""
        line = json.dumps(item, ensure_ascii=False, sort_keys=True) + "\n"
        self._items_io.submit(self._append_item, line).add_done_callback(self._on_written)

    def _append_item(self, line: str) -> None:
        data = line.encode("utf-8")
        fd = os.open(self._items_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
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

    def _on_written(self, future: Future[Any]) -> None:
        exc = future.exception()
        if exc is not None:
            self._count("archiver/warc/write_errors", 1)
            logger.error(
                "event=warc_write_failed crawl=%s error=%r", self.crawl_dir.info.crawl_id, exc
            )

    # --- uploads -----------------------------------------------------------------
    def attach_uploader(
        self, uploader: Uploader, *, key_prefix: str, keep_local: bool, threads: int
    ) -> None:
        """Upload every file of this crawl as soon as it is closed."""
        self._uploader = uploader
        # WARCs opened from now on also hash each upload part as they are written.
        self._writer.part_size = uploader.cfg.multipart_chunksize
        self._key_prefix = key_prefix
        self._keep_local = keep_local
        self._upload_pool = ThreadPoolExecutor(
            max(1, threads), thread_name_prefix="archiver-upload"
        )

    def key_for(self, filename: str) -> str:
        """Storage key of one of this crawl's files."""
        info = self.crawl_dir.info
        return object_key(self._key_prefix, info.crawl_date, info.crawl_id, filename)

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
        with self._lock:
            self._closed_files.extend(files)
            self._released_earlier.update(released)
        for closed in files:
            if closed.path.exists():
                # An earlier process may have stored it already: look before sending.
                self._post_close.submit(self._after_close, closed, True).add_done_callback(
                    self._on_written
                )

    def _on_warc_closed(self, closed: ClosedWarc) -> None:
        with self._lock:
            self._closed_files.append(closed)
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
        with self._lock:
            self._sidecars[closed.name] = [p.name for p in sidecars]
        # The writer's digests go along: the upload sends them, it does not read them again.
        self._schedule_upload(closed.path, written_digest(closed), check_existing=adopted)
        for path in sidecars:
            self._schedule_upload(path, check_existing=adopted)

    def _schedule_upload(
        self, path: Path, written: LocalDigest | None = None, *, check_existing: bool = True
    ) -> None:
        if self._uploader is None or self._upload_pool is None:
            return
        future = self._upload_pool.submit(self._upload, path, written, check_existing)
        with self._lock:
            self._uploads[path.name] = future

    def _upload(
        self, path: Path, written: LocalDigest | None = None, check_existing: bool = True
    ) -> UploadResult:
        assert self._uploader is not None
        key = self.key_for(path.name)
        try:
            result = self._uploader.upload_and_release(
                path,
                key,
                keep_local=self._keep_local,
                written=written,
                check_existing=check_existing,
            )
        except Exception as exc:
            stored = self._stored_elsewhere(path, key)
            if stored is not None:
                return stored
            self._count("archiver/upload/failed", 1)
            with self._lock:
                self._upload_errors[path.name] = str(exc)
            logger.error(
                "event=upload_failed file=%s key=%s error=%s (the file waits in the spool)",
                path.name,
                key,
                exc,
            )
            raise
        self._count("archiver/upload/files", 1)
        self._count("archiver/upload/bytes", result.size)
        logger.info("event=upload_verified file=%s key=%s size=%d", path.name, key, result.size)
        return result

    def _stored_elsewhere(self, path: Path, key: str) -> UploadResult | None:
        """The result for a file gone from the spool whose key is stored, else None."""
        # An upload pass of another process (`archiver upload`, another crawl's start)
        # sent it, verified it and released it while this one was at it: not lost.
        if path.exists() or self._uploader is None:
            return None
        try:
            head = self._uploader.head(key)
        except Exception:
            return None
        if head is None:
            return None
        logger.info("event=upload_done_elsewhere file=%s key=%s", path.name, key)
        return UploadResult(path, key, int(head["ContentLength"]), "", True, True, released=True)

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
            return self._read_manifest()
        self._finished = True
        closing = time.monotonic()
        self._thread.close()
        self._post_close.shutdown(wait=True)
        self._items_io.shutdown(wait=True)
        items_written = False
        if final and self._items_path.exists():
            items = self._items_path.with_name(ITEMS_NAME)
            os.replace(self._items_path, items)
            items_written = True
            self._schedule_upload(items)
        results = self._wait_uploads()
        finished = datetime.now(UTC)
        values = dict(stats()) if stats else {}
        if not final:
            if self._upload_pool is not None:
                self._upload_pool.shutdown(wait=True)
            self.stats_document = crawl_stats(
                self._build_manifest(results, values, finished, items_written),
                run_started=self.started,
                closing_seconds=time.monotonic() - closing,
            )
            self.stats_document["problems"] = judge(self.stats_document) if judge else []
            return {}
        self.crawl_dir.mark_finished(finished)
        manifest = self._build_manifest(results, values, finished, items_written)
        manifest_path = self.crawl_dir.root / MANIFEST_NAME
        self._write_json(manifest_path, manifest)
        self.stats_document = crawl_stats(
            manifest, run_started=self.started, closing_seconds=time.monotonic() - closing
        )
        self.stats_document["problems"] = judge(self.stats_document) if judge else []
        stats_path = self.crawl_dir.root / STATS_NAME
        self._write_json(stats_path, self.stats_document)
        if self._uploader is not None:
            if self.uploads_waiting:
                # The manifest marks a crawl complete in storage: it goes up after its files.
                logger.warning(
                    "event=uploads_waiting crawl=%s files=%s: run `archiver upload` once storage is back",
                    self.crawl_dir.info.crawl_id,
                    ",".join(self.uploads_waiting),
                )
            else:
                self._schedule_upload(manifest_path)
                self._wait_uploads()
                self._schedule_upload(stats_path)
                self._wait_uploads()
        if self._upload_pool is not None:
            self._upload_pool.shutdown(wait=True)
        for hook in self._finish_hooks:
            try:
                hook(manifest)
            except Exception as exc:
                self._count("archiver/finish_hook_errors", 1)
                logger.error(
                    "event=finish_hook_failed crawl=%s error=%r", self.crawl_dir.info.crawl_id, exc
                )
        return manifest

    @staticmethod
    def _write_json(path: Path, doc: Mapping[str, Any]) -> None:
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(
            json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
        )
        os.replace(tmp, path)

    def _wait_uploads(self) -> dict[str, UploadResult]:
        with self._lock:
            pending = dict(self._uploads)
        results: dict[str, UploadResult] = {}
        for name, future in pending.items():
            try:
                results[name] = future.result()
            except Exception:  # already logged and counted in _upload
                continue
        return results

    @property
    def uploads_waiting(self) -> list[str]:
        """Names of this crawl's files whose upload failed (they wait in the spool)."""
        with self._lock:
            return sorted(self._upload_errors)

    def _build_manifest(
        self,
        results: Mapping[str, UploadResult],
        stats: Mapping[str, Any],
        finished: datetime,
        items_written: bool,
    ) -> dict[str, Any]:
        info = self.crawl_dir.info
        files = []
        for closed in sorted(self._closed_files, key=lambda c: c.name):
            uploaded = results.get(closed.name)
            files.append(
                {
                    "name": closed.name,
                    "key": self.key_for(closed.name) if self._uploader else None,
                    "size": closed.size,
                    "sha256": closed.sha256,
                    "records": dict(closed.records),
                    "sidecars": self._sidecars.get(closed.name, []),
                    "first_date": warc_date(closed.first_date) if closed.first_date else None,
                    "last_date": warc_date(closed.last_date) if closed.last_date else None,
                    "uploaded": bool(uploaded and uploaded.verified)
                    or closed.name in self._released_earlier,
                }
            )
        return {
            "manifest_version": MANIFEST_VERSION,
            "software": SOFTWARE,
            "crawl_id": info.crawl_id,
            "spider": info.spider,
            "site": info.site,
            "start_urls": list(info.start_urls),
            "started": info.started.isoformat(),
            "finished": finished.isoformat(),
            "files": files,
            "items": ITEMS_NAME if items_written else None,
            "uploads_waiting": self.uploads_waiting,
            "stats": {str(k): v for k, v in stats.items()},
        }

    def _read_manifest(self) -> dict[str, Any]:
        path = self.crawl_dir.root / MANIFEST_NAME
        if not path.exists():
            return {}
        loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return loaded
