"""The WARC writer thread of one crawl: records queued, and each reported once in its file.

:class:`RecordQueue` builds an exchange's records (full, or a revisit when its payload is
archived already; see archiver.operations.captures) and metadata records, hands them to the
writer thread, and emits each one's event (see archiver.operations.archive.EventHook) with its
file, offset and length once the writer has written it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any

from warcio.recordloader import ArcWarcRecord

from archiver.operations.captures import (
    ExchangeRefs,
    Revisits,
    capture_event,
    exchange_records,
    response_status,
)
from archiver.operations.history import PayloadIndex
from archiver.spool import CrawlDir
from archiver.warc import (
    ClosedWarc,
    DigestAlgorithm,
    HttpExchange,
    RecordLocation,
    RotatingWarcWriter,
    WarcWriterThread,
    build_metadata_record,
    digest,
    new_record_id,
    stored_response,
    warc_date,
)

Counter = Callable[[str, int], None]
Emit = Callable[[dict[str, Any]], None]


class RecordQueue:
    """Queues one crawl's records on the writer thread; their events follow once they are written."""

    def __init__(
        self,
        crawl_dir: CrawlDir,
        *,
        prefix: str,
        max_size: int,
        digest_algorithm: DigestAlgorithm,
        warcinfo: Mapping[str, str],
        payloads: PayloadIndex | None,
        count: Counter,
        emit: Emit,
        on_close: Callable[[ClosedWarc], None],
        on_done: Callable[[Future[Any]], None],
    ) -> None:
        self.digest_algorithm = digest_algorithm
        self._revisits = Revisits(crawl_dir, payloads)
        self._count = count
        self._emit = emit
        # Reports a write that failed (counted and logged by the archive).
        self._on_done = on_done
        # What a record being written is, by record id, until the writer reports it written.
        self._in_flight: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.writer = RotatingWarcWriter(
            crawl_dir.warc_dir,
            prefix=prefix,
            max_size=max_size,
            warcinfo_fields=warcinfo,
            digest_algorithm=digest_algorithm,
            on_close=on_close,
            on_write=self._on_records_written,
        )
        self._thread = WarcWriterThread(self.writer)

    def write_exchange(self, exchange: HttpExchange) -> ExchangeRefs:
        """Queue the records of one exchange (a revisit when its payload is known); returns their ids."""
        request_id, response_id = new_record_id(), new_record_id()
        head, body, cut = stored_response(exchange)
        status = response_status(head)
        date = warc_date(exchange.date)
        payload_digest = digest(body, self.digest_algorithm)
        own, original = self._revisits.claim(
            exchange,
            status=status,
            body=body,
            cut=cut,
            payload_digest=payload_digest,
            date=date,
            response_id=response_id,
        )
        records = exchange_records(
            exchange,
            original,
            digest_algorithm=self.digest_algorithm,
            request_id=request_id,
            response_id=response_id,
        )
        if original is not None:
            self._count("archiver/warc/revisits", 1)
            self._count("archiver/warc/payload_bytes_deduplicated", len(body))
        else:
            self._count("archiver/warc/payload_bytes", len(body))
        refs = ExchangeRefs(
            request_id,
            response_id,
            date,
            kind="revisit" if original is not None else "response",
            status=status,
            payload_digest=payload_digest,
            refers_to=original.record_id if original is not None else None,
        )
        event = capture_event(exchange, head, refs, payload_size=len(body), original=original)
        self._submit(records, response_id, event, lambda: self._revisits.forget(own))
        return refs

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
        event = {
            "event": "metadata",
            "url": target_uri,
            "record_id": record_id,
            "refers_to": refers_to,
        }
        self._submit([record], record_id, event)
        return record_id

    def _submit(
        self,
        records: list[ArcWarcRecord],
        record_id: str,
        event: dict[str, Any],
        on_failure: Callable[[], None] | None = None,
    ) -> None:
        """Queue records; `event` is emitted once `record_id` is in the file, dropped if it fails."""
        with self._lock:
            self._in_flight[record_id] = event
        future = self._thread.submit(records)
        future.add_done_callback(self._on_done)

        def forget_on_failure(done: Future[Any]) -> None:
            if done.exception() is None:
                return
            with self._lock:
                self._in_flight.pop(record_id, None)
            if on_failure is not None:
                on_failure()

        future.add_done_callback(forget_on_failure)

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
            self._revisits.recorded(event, record_id, location)
            self._emit(event)

    def set_part_size(self, part_size: int) -> None:
        """WARCs opened from now on also hash each upload part of this size as they are written."""
        self.writer.part_size = part_size

    def close(self) -> None:
        """Write what is queued and close the current WARC (blocking)."""
        self._thread.close()
