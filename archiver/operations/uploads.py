"""Upload bookkeeping of one crawl: closed files go to the Uploader in a thread pool.

Each upload is verified and the local file released; a failure is counted and logged, and
the file waits in the spool for `archiver upload`.  :class:`CrawlArchive` submits every file
it closes and waits for them all before it writes the manifest.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from archiver.spool import CrawlDir
from archiver.storage import LocalDigest, Uploader, UploadResult, object_key

logger = logging.getLogger(__name__)

Counter = Callable[[str, int], None]


class CrawlUploads:
    """The uploads of one crawl's files: submitted once closed, awaited, counted."""

    def __init__(self, crawl_dir: CrawlDir, count: Counter) -> None:
        self.crawl_dir = crawl_dir
        self._count = count
        self._uploader: Uploader | None = None
        self._key_prefix = ""
        self._keep_local = True
        self._pool: ThreadPoolExecutor | None = None
        self._uploads: dict[str, Future[UploadResult]] = {}
        self._errors: dict[str, str] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        """Whether an uploader is attached (else files stay in the spool)."""
        return self._uploader is not None

    def attach(
        self, uploader: Uploader, *, key_prefix: str, keep_local: bool, threads: int
    ) -> None:
        """Upload with `uploader` from now on, in `threads` parallel uploads."""
        self._uploader = uploader
        self._key_prefix = key_prefix
        self._keep_local = keep_local
        self._pool = ThreadPoolExecutor(max(1, threads), thread_name_prefix="archiver-upload")

    def key_for(self, filename: str) -> str:
        """Storage key of one of this crawl's files."""
        info = self.crawl_dir.info
        return object_key(self._key_prefix, info.crawl_date, info.crawl_id, filename)

    def schedule(
        self, path: Path, written: LocalDigest | None = None, *, check_existing: bool = True
    ) -> None:
        """Queue a file's upload (nothing when no uploader is attached)."""
        if self._uploader is None or self._pool is None:
            return
        future = self._pool.submit(self._upload, path, written, check_existing)
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
                self._errors[path.name] = str(exc)
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

    def wait(self) -> dict[str, UploadResult]:
        """Wait for every upload queued so far; the results of those that succeeded, by name."""
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
    def waiting(self) -> list[str]:
        """Names of this crawl's files whose upload failed (they wait in the spool)."""
        with self._lock:
            return sorted(self._errors)

    def upload_last(self, *paths: Path) -> None:
        """Upload the crawl's closing documents one by one, once every other file is stored."""
        if self._uploader is None:
            return
        if self.waiting:
            # The manifest marks a crawl complete in storage: it goes up after its files.
            logger.warning(
                "event=uploads_waiting crawl=%s files=%s: run `archiver upload` once storage is back",
                self.crawl_dir.info.crawl_id,
                ",".join(self.waiting),
            )
            return
        for path in paths:
            self.schedule(path)
            self.wait()

    def shutdown(self) -> None:
        """Stop the upload threads once their uploads are done."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
