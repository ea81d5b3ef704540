"""The WARC writer's own thread: gzip and disk writes leave the caller's (Scrapy's) thread."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from typing import TypeAlias

from warcio.recordloader import ArcWarcRecord

from archiver.warc.writer import RecordLocation, RotatingWarcWriter

logger = logging.getLogger(__name__)


_WriteJob: TypeAlias = tuple[Sequence[ArcWarcRecord], Future[list[RecordLocation]]]


class WarcWriterThread:
    """Runs a RotatingWarcWriter on its own thread, so gzip and disk writes leave the caller's."""

    def __init__(self, writer: RotatingWarcWriter, max_queue: int = 64) -> None:
        self.writer = writer
        # Bounded: when the disk (or gzip) falls behind, submit() waits rather than memory
        # growing.  A queued exchange holds its records, twice a news page's 100 KB or so; on
        # a busy 2-core machine the writer lagged and 1,000 queued exchanges held 100-200 MB
        # (docs/performance.md).  64 still absorbs a burst of a few MB.
        self._queue: queue.Queue[_WriteJob | None] = queue.Queue(maxsize=max_queue)
        self._lock = threading.Lock()
        self._closing = False
        self._stop_queued = False
        self._close_error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="warc-writer", daemon=True)
        self._thread.start()

    def submit(self, records: Sequence[ArcWarcRecord]) -> Future[list[RecordLocation]]:
        """Queue records for writing (together, in one file); the future gets their locations."""
        future: Future[list[RecordLocation]] = Future()
        with self._lock:
            if self._closing:
                raise RuntimeError("WARC writer thread is closed")
            self._queue.put((list(records), future))
        return future

    def close(self, timeout: float | None = None) -> None:
        """Write everything queued, then close the writer; TimeoutError if that takes longer."""
        with self._lock:
            self._closing = True
            if not self._stop_queued:
                try:
                    self._queue.put(None, timeout=timeout)
                except queue.Full:
                    raise TimeoutError(f"WARC writer queue still full after {timeout}s") from None
                self._stop_queued = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"WARC writer thread still writing after {timeout}s")
        if self._close_error is not None:
            raise self._close_error

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                break
            records, future = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                locations = self.writer.write(records)
            except Exception as exc:
                logger.exception("writing %d WARC records failed", len(records))
                future.set_exception(exc)
            else:
                future.set_result(locations)
        try:
            self.writer.close()
        except Exception as exc:
            logger.exception("closing the WARC writer failed")
            self._close_error = exc
