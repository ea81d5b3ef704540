"""One crawl's archive: WARC writing off the caller's thread, uploads as files close, the manifest.

Scrapy-free: the WARC middleware, the metadata pipeline and the upload extension are
adapters over :class:`CrawlArchive`, which they share through archiver.runtime.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archiver import SOFTWARE
from archiver.spool import CrawlDir
from archiver.storage import Uploader, UploadResult, object_key
from archiver.warc import (
    ClosedWarc,
    DigestAlgorithm,
    HttpExchange,
    RotatingWarcWriter,
    WarcWriterThread,
    build_exchange_records,
    build_metadata_record,
    new_record_id,
    warc_date,
)

logger = logging.getLogger(__name__)

Counter = Callable[[str, int], None]
# Runs once per closed WARC, off the writer thread; returns sidecar files (an index, say)
# to upload beside it.
CloseHook = Callable[[ClosedWarc], list[Path]]

WARC_CONFORMS_TO = "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"
MANIFEST_NAME = "manifest.json"
ITEMS_NAME = "items.jsonl"
MANIFEST_VERSION = 1


def _no_count(_key: str, _n: int) -> None:
    return None


@dataclass(frozen=True)
class ExchangeRefs:
    """Where an exchange went: its record ids and date, for records that refer to it."""

    request_id: str
    response_id: str
    date: str


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
    ) -> None:
        self.crawl_dir = crawl_dir
        self.digest_algorithm = digest_algorithm
        self._count = count
        self._writer = RotatingWarcWriter(
            crawl_dir.warc_dir,
            prefix=prefix,
            max_size=max_size,
            warcinfo_fields=warcinfo,
            digest_algorithm=digest_algorithm,
            on_close=self._on_warc_closed,
        )
        self._thread = WarcWriterThread(self._writer)
        self._items_path = crawl_dir.root / ITEMS_NAME
        # One thread appends items, so their lines never interleave and the caller never waits on disk.
        self._items_io = ThreadPoolExecutor(1, thread_name_prefix="archiver-items")
        self._uploader: Uploader | None = None
        self._key_prefix = ""
        self._keep_local = True
        self._upload_pool: ThreadPoolExecutor | None = None
        self._uploads: dict[str, Future[UploadResult]] = {}
        self._upload_errors: dict[str, str] = {}
        self._closed_files: list[ClosedWarc] = []
        self._close_hooks: list[CloseHook] = []
        self._sidecars: dict[str, list[str]] = {}
        # Hooks and uploads of closed files run here, so the writer thread goes straight on.
        self._post_close = ThreadPoolExecutor(1, thread_name_prefix="archiver-closed")
        self._lock = threading.Lock()
        self._finished = False

    # --- writing -----------------------------------------------------------------
    def write_exchange(self, exchange: HttpExchange) -> ExchangeRefs:
        """Queue the request and response records of one exchange; returns their ids at once."""
        request_id, response_id = new_record_id(), new_record_id()
        request_record, response_record = build_exchange_records(
            exchange,
            digest_algorithm=self.digest_algorithm,
            request_id=request_id,
            response_id=response_id,
        )
        future = self._thread.submit([request_record, response_record])
        future.add_done_callback(self._on_written)
        return ExchangeRefs(request_id, response_id, warc_date(exchange.date))

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
        self._thread.submit([record]).add_done_callback(self._on_written)
        return record_id

    def write_item(self, item: Mapping[str, Any]) -> None:
        """Queue one extracted item for the crawl's items.jsonl."""
        line = json.dumps(item, ensure_ascii=False, sort_keys=True) + "\n"
        self._items_io.submit(self._append_item, line).add_done_callback(self._on_written)

    def _append_item(self, line: str) -> None:
        with open(self._items_path, "a", encoding="utf-8") as fh:
            fh.write(line)

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
        self._key_prefix = key_prefix
        self._keep_local = keep_local
        self._upload_pool = ThreadPoolExecutor(
            max(1, threads), thread_name_prefix="archiver-upload"
        )

    def key_for(self, filename: str) -> str:
        """Storage key of one of this crawl's files."""
        info = self.crawl_dir.info
        return object_key(self._key_prefix, info.crawl_date, info.crawl_id, filename)

    def add_close_hook(self, hook: CloseHook) -> None:
        """Run `hook` on every WARC this crawl closes; the files it returns are uploaded too."""
        self._close_hooks.append(hook)

    def _on_warc_closed(self, closed: ClosedWarc) -> None:
        with self._lock:
            self._closed_files.append(closed)
        self._count("archiver/warc/files_closed", 1)
        self._count("archiver/warc/bytes", closed.size)
        logger.info(
            "event=warc_closed file=%s size=%d records=%s", closed.name, closed.size, closed.records
        )
        self._post_close.submit(self._after_close, closed).add_done_callback(self._on_written)

    def _after_close(self, closed: ClosedWarc) -> None:
        sidecars: list[Path] = []
        for hook in self._close_hooks:
            try:
                sidecars.extend(hook(closed))
            except Exception as exc:
                self._count("archiver/warc/close_hook_errors", 1)
                logger.error("event=close_hook_failed file=%s error=%r", closed.name, exc)
        with self._lock:
            self._sidecars[closed.name] = [p.name for p in sidecars]
        self._schedule_upload(closed.path)
        for path in sidecars:
            self._schedule_upload(path)

    def _schedule_upload(self, path: Path) -> None:
        if self._uploader is None or self._upload_pool is None:
            return
        future = self._upload_pool.submit(self._upload, path)
        with self._lock:
            self._uploads[path.name] = future

    def _upload(self, path: Path) -> UploadResult:
        assert self._uploader is not None
        key = self.key_for(path.name)
        try:
            result = self._uploader.upload_and_release(path, key, keep_local=self._keep_local)
        except Exception as exc:
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

    # --- closing -----------------------------------------------------------------
    def close(self, stats: Callable[[], Mapping[str, Any]] | None = None) -> dict[str, Any]:
        """Finish the crawl: flush and close WARCs, wait for uploads, write and upload the manifest.

        Blocking; call it from a thread, never from Scrapy's reactor.  `stats` is read
        once the uploads are done, so the manifest counts them.
        """
        if self._finished:
            return self._read_manifest()
        self._finished = True
        self._thread.close()
        self._post_close.shutdown(wait=True)
        self._items_io.shutdown(wait=True)
        if self._items_path.exists():
            self._schedule_upload(self._items_path)
        results = self._wait_uploads()
        finished = datetime.now(UTC)
        self.crawl_dir.mark_finished(finished)
        manifest = self._build_manifest(results, stats() if stats else {}, finished)
        manifest_path = self.crawl_dir.root / MANIFEST_NAME
        tmp = manifest_path.with_suffix(".json.tmp")
        tmp.write_text(
            json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
        )
        os.replace(tmp, manifest_path)
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
        if self._upload_pool is not None:
            self._upload_pool.shutdown(wait=True)
        return manifest

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
        self, results: Mapping[str, UploadResult], stats: Mapping[str, Any], finished: datetime
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
                    "uploaded": bool(uploaded and uploaded.verified),
                }
            )
        return {
            "manifest_version": MANIFEST_VERSION,
            "software": SOFTWARE,
            "crawl_id": info.crawl_id,
            "spider": info.spider,
            "start_urls": list(info.start_urls),
            "started": info.started.isoformat(),
            "finished": finished.isoformat(),
            "files": files,
            "items": ITEMS_NAME if self._items_path.exists() else None,
            "uploads_waiting": self.uploads_waiting,
            "stats": {str(k): v for k, v in stats.items()},
        }

    def _read_manifest(self) -> dict[str, Any]:
        path = self.crawl_dir.root / MANIFEST_NAME
        if not path.exists():
            return {}
        loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return loaded
