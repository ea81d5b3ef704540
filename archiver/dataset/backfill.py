"""Datasets for stored crawls that lack one: built from their items.jsonl and WARC indexes.

`archiver reindex` runs this after rebuilding the archive-wide index. A crawl stored before
the dataset existed (or whose dataset failed) gets its articles.parquet from what is in
storage: its items.jsonl and the .cdxj sidecar of each WARC (a WARC without one is indexed
as it streams in). The manifest is left as it is: it marks the crawl complete, and readers
find datasets by listing.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archiver.dataset.build import ITEMS_FILE, write_dataset
from archiver.dataset.schema import ARTICLES_FILE
from archiver.index import ArchiveIndex, add_stored_crawl
from archiver.spool import CrawlInfo
from archiver.storage import S3Config

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)


@dataclass
class BackfillReport:
    """What a backfill pass did, crawl by crawl."""

    built: dict[str, int] = field(default_factory=dict)
    present: list[str] = field(default_factory=list)
    # Complete crawls with no items.jsonl, or no article whose capture is indexed.
    without_articles: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary for `archiver reindex --json`."""
        return {
            "built": dict(self.built),
            "present": list(self.present),
            "without_articles": list(self.without_articles),
        }


def _lines(sidecars: Iterable[tuple[str, Iterable[str]]]) -> Iterator[str]:
    for _relative, lines in sidecars:
        yield from lines


def backfill_crawl(index: ArchiveIndex, crawl_date: str, crawl_id: str) -> int | None:
    """Build and store one crawl's dataset; its rows, None when the crawl is not complete.

    Returns 0 (and stores nothing) when the crawl has no article.
    """
    manifest = index.read_manifest(crawl_date, crawl_id)
    if manifest is None:
        return None
    items_key = index.crawl_key(crawl_date, crawl_id, ITEMS_FILE)
    with tempfile.TemporaryDirectory(prefix="archiver-dataset-") as tmp:
        work = Path(tmp)
        items = work / ITEMS_FILE
        if not index.exists(items_key):
            return 0
        index.client.download_file(index.bucket, items_key, str(items))
        index.requests += 1
        target = work / ARTICLES_FILE
        rows = write_dataset(
            target,
            items,
            _lines(index.crawl_sidecars(crawl_date, crawl_id, manifest)),
            crawl_id=crawl_id,
            key_of=lambda name: index.crawl_key(crawl_date, crawl_id, name),
        )
        if rows:
            index.put_file(index.crawl_key(crawl_date, crawl_id, ARTICLES_FILE), target)
    return rows


def backfill_datasets(
    index: ArchiveIndex,
    *,
    crawl_id: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> BackfillReport:
    """Give every complete crawl in storage (or only `crawl_id`) that lacks one its dataset."""
    report = BackfillReport()
    for crawl_date, cid in index.list_crawls():
        if crawl_id is not None and cid != crawl_id:
            continue
        if index.exists(index.crawl_key(crawl_date, cid, ARTICLES_FILE)):
            report.present.append(cid)
            continue
        if progress is not None:
            progress(cid)
        rows = backfill_crawl(index, crawl_date, cid)
        if rows is None:
            logger.info("event=dataset_backfill_skip crawl=%s reason=no-manifest", cid)
        elif rows:
            logger.info("event=dataset_backfilled crawl=%s articles=%d", cid, rows)
            report.built[cid] = rows
        else:
            report.without_articles.append(cid)
    return report


def add_stored_dataset(cfg: S3Config, client: S3Client, crawl: CrawlInfo) -> None:
    """A crawl complete in storage without a dataset (one uploaded by `archiver upload`,
    whose keys were not known when it ended) gets it from its stored files."""
    index = ArchiveIndex.for_config(cfg, client)
    if index.exists(index.crawl_key(crawl.crawl_date, crawl.crawl_id, ARTICLES_FILE)):
        return
    rows = backfill_crawl(index, crawl.crawl_date, crawl.crawl_id)
    logger.info("event=dataset_built_from_storage crawl=%s articles=%s", crawl.crawl_id, rows)


def crawl_stored(cfg: S3Config, client: S3Client, crawl: CrawlInfo) -> None:
    """The upload pass's follower (`on_crawl_stored`): the crawl joins the archive-wide index,
    then gets its article dataset if it has none; a failure of one does not stop the other."""
    for follower in (add_stored_crawl, add_stored_dataset):
        try:
            follower(cfg, client, crawl)
        except Exception as exc:
            logger.error(
                "event=crawl_stored_follower_failed crawl=%s follower=%s error=%r",
                crawl.crawl_id,
                follower.__name__,
                exc,
            )
