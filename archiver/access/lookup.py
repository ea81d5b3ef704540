"""Finding captures: the archive-wide index opened from settings, lookups of a URL between two
dates, the capture closest to a time, and what a researcher cites for one.

Scrapy-free; `archiver find` and `archiver get` are thin layers over it.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from archiver.access.records import ArchiveDamage
from archiver.config import SettingError
from archiver.index import (
    ArchiveIndex,
    CachedArchiveIndex,
    Capture,
    cache_dir_from_settings,
    key_range,
    timestamp_bound,
    timestamp_datetime,
)
from archiver.storage import S3Config, make_client

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def open_archive(settings: Any) -> tuple[S3Config, S3Client, CachedArchiveIndex]:
    """The storage config, a client and the archive index; SettingError without a bucket.

    The index keeps cluster.idx files under ARCHIVER_INDEX_CACHE_DIR (archiver.index.cache).
    """
    cfg = S3Config.from_settings(settings)
    if not cfg.enabled:
        raise SettingError(
            "no bucket configured: set ARCHIVER_S3_BUCKET (or -s ARCHIVER_S3_BUCKET=NAME)"
        )
    client = make_client(cfg)
    index = CachedArchiveIndex(client, cfg.bucket, cfg.prefix, cache_dir_from_settings(settings))
    return cfg, client, index


def find(
    index: ArchiveIndex,
    url: str,
    *,
    match: str = "exact",
    since: str | None = None,
    until: str | None = None,
    limit: int | None = None,
) -> list[Capture]:
    """Captures of a URL (or its prefix, host or domain) between two dates, oldest first."""
    low = timestamp_bound(since, upper=False) if since else None
    high = timestamp_bound(until, upper=True) if until else None
    rng = key_range(url, match)
    try:
        listed = index.query(rng)
    except (ValueError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        # A bad URL or date was refused above: what fails here is the index as stored.
        raise ArchiveDamage(
            f"the archive-wide index is damaged ({type(exc).__name__}: {exc}): "
            "`archiver reindex` rebuilds it from the crawls in storage"
        ) from exc
    found = []
    for capture in listed:
        if not capture.is_capture:
            continue
        if (low and capture.timestamp < low) or (high and capture.timestamp > high):
            continue
        found.append(capture)
    found.sort(key=lambda c: (c.timestamp, c.key, c.filename, c.offset))
    return found[:limit] if limit is not None else found


def closest(captures: Sequence[Capture], at: str | None) -> Capture | None:
    """The capture nearest in time to `at` (a date or timestamp prefix), else the latest."""
    if not captures:
        return None
    if at is None:
        return max(captures, key=lambda c: (c.timestamp, c.filename, c.offset))
    target = timestamp_datetime(timestamp_bound(at, upper=False))

    def distance(c: Capture) -> tuple[float, str]:
        # Ties go to the later capture, as in pywb.
        seconds = abs((timestamp_datetime(c.timestamp) - target).total_seconds())
        return seconds, _invert(c.timestamp)

    return min(captures, key=distance)


def _invert(ts: str) -> str:
    return "".join(str(9 - int(d)) for d in ts)


def citation(capture: Capture) -> dict[str, Any]:
    """What a researcher cites for a capture: URL, time, record id, digest and where it is."""
    return {
        "url": capture.url,
        "timestamp": capture.timestamp,
        "warc_record_id": capture.get("record_id"),
        "payload_digest": capture.get("digest"),
        "status": capture.get("status"),
        "mime": capture.get("mime"),
        "title": capture.get("title"),
        "published": capture.get("published"),
        "filename": capture.filename,
        "offset": capture.offset,
        "length": capture.length,
    }
