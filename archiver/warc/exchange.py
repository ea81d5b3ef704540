"""The vocabulary every WARC record uses: one HTTP exchange, WARC dates, digests, record ids.

Policy (digests, dates) is explained in docs/warc.md.
"""

from __future__ import annotations

import os
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from warcio.utils import Digester

DigestAlgorithm = Literal["sha1", "sha256"]
DIGEST_ALGORITHMS: tuple[DigestAlgorithm, ...] = ("sha1", "sha256")

WARC_VERSION = "WARC/1.1"


def warc_date(dt: datetime) -> str:
    """WARC/1.1 date of an aware datetime: UTC to the microsecond, 2026-11-25T17:02:59.308400Z."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"naive datetime {dt!r}: pass an aware (UTC) datetime")
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_warc_date(value: str) -> datetime:
    """Aware UTC datetime of a WARC-Date header value (with or without fractional seconds)."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_digest_algorithm(value: str) -> DigestAlgorithm:
    """The digest algorithm named by a setting value ("sha1" or "sha256", any case)."""
    name = value.strip().lower()
    if name not in DIGEST_ALGORITHMS:
        raise ValueError(
            f"digest algorithm must be one of {', '.join(DIGEST_ALGORITHMS)}, not {value!r}"
        )
    return name


def digest(data: bytes, algorithm: DigestAlgorithm) -> str:
    """WARC digest of data: "sha1:<base32>" or "sha256:<base32>"."""
    digester = Digester(parse_digest_algorithm(algorithm))
    digester.update(data)
    return str(digester)


# Random bytes for record ids, drawn from os.urandom this many ids at a time: uuid4() makes
# one system call per id, and on a busy crawl each call gave up the GIL to the writer and
# index threads and waited to get it back (180 us per id in a profile, two ids per page).
_ID_BATCH = 256
_id_lock = threading.Lock()
_id_bytes: list[bytes] = []


def _forget_ids() -> None:
    # A forked child must never hand out the ids its parent still holds.
    _id_bytes.clear()


os.register_at_fork(after_in_child=_forget_ids)


def new_record_id() -> str:
    """A fresh WARC-Record-ID, "<urn:uuid:...>" (a random version 4 UUID, as uuid4() makes)."""
    with _id_lock:
        if not _id_bytes:
            pool = os.urandom(16 * _ID_BATCH)
            _id_bytes.extend(pool[i : i + 16] for i in range(0, len(pool), 16))
        raw = _id_bytes.pop()
    return f"<urn:uuid:{uuid.UUID(bytes=raw, version=4)}>"


@dataclass(frozen=True)
class HttpExchange:
    """One HTTP request and its response, as the bytes that crossed the wire."""

    target_uri: str
    request_head: bytes
    request_body: bytes
    response_head: bytes
    response_body: bytes
    ip_address: str | None
    date: datetime
    truncated: str | None = None
    # A page requisite: the page it was fetched for, and its kind (style, font, image...);
    # written on the request record as WARC-Requisite-Of and WARC-Resource-Type.
    requisite_of: str | None = None
    resource_type: str | None = None
