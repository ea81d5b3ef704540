"""Bringing the search index up to date with the article datasets in storage."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Protocol

import pyarrow as pa

from archiver.dataset.read import ArticleFilter, iter_dataset_keys, read_articles
from archiver.dataset.schema import COLUMNS
from archiver.search.model import SyncReport

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)


class SyncTarget(Protocol):
    """What sync needs of an index."""

    def datasets(self) -> dict[str, str]: ...
    def add_table(self, table: pa.Table, source_key: str, etag: str) -> int: ...
    def drop(self, source_keys: list[str]) -> None: ...


def sync_index(index: SyncTarget, client: S3Client | Any, bucket: str, prefix: str) -> SyncReport:
    """List the stored datasets; read the new and changed ones (by key and ETag); drop the vanished.

    Each dataset is replaced in one transaction, so an interrupted sync leaves the index
    consistent and the next one carries on where it stopped.
    """
    started = time.monotonic()
    known = index.datasets()
    seen = 0
    read = added = 0
    stored: set[str] = set()
    for obj in iter_dataset_keys(client, bucket, prefix):
        seen += 1
        stored.add(obj.key)
        if known.get(obj.key) == obj.etag:
            continue
        table = read_articles(client, bucket, prefix, ArticleFilter(), COLUMNS, keys=[obj])
        added += index.add_table(table, obj.key, obj.etag)
        read += 1
        log.info("search index: read %s (%s articles)", obj.key, table.num_rows)
    vanished = sorted(set(known) - stored)
    if vanished:
        index.drop(vanished)
        log.info("search index: dropped %s datasets no longer in storage", len(vanished))
    return SyncReport(seen, read, len(vanished), added, time.monotonic() - started)
