"""One exchange as a crawl archives it: full records, or a revisit when its payload is known.

:class:`Revisits` holds the payload-dedup lookups (a complete 200 response whose payload
digest is already archived, in this crawl or an earlier one, becomes a revisit record);
:func:`exchange_records` builds the records, :func:`capture_event` the event reported once
they are written, and :class:`ExchangeRefs` is what the caller gets back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from warcio.recordloader import ArcWarcRecord

from archiver.operations.history import PayloadIndex, PayloadRef
from archiver.spool import CrawlDir
from archiver.warc import (
    DigestAlgorithm,
    HttpExchange,
    RecordLocation,
    build_exchange_records,
    build_request_record,
    build_revisit_record,
)

_STATUS = re.compile(rb"HTTP/\d(?:\.\d)? +(\d{3})")


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


class Revisits:
    """Payload dedup of one crawl: which responses become revisits of an earlier record."""

    def __init__(self, crawl_dir: CrawlDir, payloads: PayloadIndex | None) -> None:
        self.crawl_dir = crawl_dir
        # Payloads archived in full, by digest: a response with one of these becomes a
        # revisit record.  None turns revisit records off.
        self.payloads = payloads

    def claim(
        self,
        exchange: HttpExchange,
        *,
        status: int | None,
        body: bytes,
        cut: bool,
        payload_digest: str,
        date: str,
        response_id: str,
    ) -> tuple[PayloadRef | None, PayloadRef | None]:
        """(the payload this response now holds, the earlier record holding it); one at most is set."""
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
        if original is not None:
            own = None
        return own, original

    def forget(self, own: PayloadRef | None) -> None:
        """A payload whose record never reached the file cannot be referred to."""
        if self.payloads is not None and own is not None:
            self.payloads.discard(own.digest, own.record_id)

    def recorded(self, event: dict[str, Any], record_id: str, location: RecordLocation) -> None:
        """A response record is in its file: its payload's entry learns where."""
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


def exchange_records(
    exchange: HttpExchange,
    original: PayloadRef | None,
    *,
    digest_algorithm: DigestAlgorithm,
    request_id: str,
    response_id: str,
) -> list[ArcWarcRecord]:
    """The request and response records, or request and revisit when `original` holds the payload."""
    if original is not None:
        revisit = build_revisit_record(
            exchange,
            refers_to=original.record_id,
            refers_to_uri=original.url,
            refers_to_date=original.date,
            digest_algorithm=digest_algorithm,
            record_id=response_id,
        )
        request = build_request_record(
            exchange,
            concurrent_to=response_id,
            digest_algorithm=digest_algorithm,
            record_id=request_id,
        )
        return [request, revisit]
    return list(
        build_exchange_records(
            exchange,
            digest_algorithm=digest_algorithm,
            request_id=request_id,
            response_id=response_id,
        )
    )


def capture_event(
    exchange: HttpExchange,
    head: bytes,
    refs: ExchangeRefs,
    *,
    payload_size: int,
    original: PayloadRef | None,
) -> dict[str, Any]:
    """The "capture" event of an exchange (completed with its file location once written)."""
    event: dict[str, Any] = {
        "event": "capture",
        "url": exchange.target_uri,
        "date": refs.date,
        "status": refs.status,
        "kind": refs.kind,
        "record_id": refs.response_id,
        "request_id": refs.request_id,
        "payload_digest": refs.payload_digest,
        "payload_size": payload_size,
        "etag": head_field(head, "ETag"),
        "last_modified": head_field(head, "Last-Modified"),
    }
    if original is not None:
        event.update(
            refers_to=original.record_id,
            refers_to_uri=original.url,
            refers_to_date=original.date,
        )
    return event
