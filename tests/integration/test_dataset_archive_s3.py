"""A crawl's article dataset in real storage: written at the crawl's end and uploaded before
its manifest, or, for a crawl that ran without storage, built by `archiver upload`."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from archiver.dataset import ARTICLES_FILE, JOURNAL_NAME
from archiver.dataset.backfill import crawl_stored
from archiver.index import write_sidecar
from archiver.storage import Uploader, upload_spool
from tests.support.dataset_archive import ARCHIVE_CRAWL_ID, new_archive, write_articles
from tests.support.s3 import S3Bucket

pytestmark = pytest.mark.s3


def _stored_rows(bucket: S3Bucket, key: str) -> list[dict[str, object]]:
    return pq.read_table(pa.BufferReader(bucket.read(key))).to_pylist()


def _check_offsets(bucket: S3Bucket, rows: list[dict[str, object]]) -> None:
    """One ranged GET of each row's (warc_key, offset, length) is its response record."""
    for row in rows:
        offset, length = int(str(row["warc_offset"])), int(str(row["warc_length"]))
        member = bucket.client.get_object(
            Bucket=bucket.name,
            Key=str(row["warc_key"]),
            Range=f"bytes={offset}-{offset + length - 1}",
        )["Body"].read()
        head = gzip.decompress(member)[:1500].decode()
        assert "WARC-Type: response" in head
        assert f"WARC-Record-ID: {row['record_id']}" in head


def test_a_crawl_uploads_its_dataset_built_after_its_sidecars_left_the_spool(
    s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    archive = new_archive(tmp_path / "spool")
    archive.add_close_hook(lambda closed: [write_sidecar(closed)])
    prefix = s3_bucket.cfg.prefix
    archive.attach_uploader(Uploader(s3_bucket.cfg), key_prefix=prefix, keep_local=False, threads=2)
    urls = write_articles(archive, 0, 12)
    manifest = archive.close()
    root = archive.crawl_dir.root
    # Uploaded and released: nothing of it is left in the spool but crawl.json.
    assert sorted(p.name for p in root.iterdir()) == ["crawl.json"]
    assert manifest["dataset"] == ARTICLES_FILE
    base = f"{prefix}/2026-03-01/{ARCHIVE_CRAWL_ID}"
    assert f"{base}/{ARTICLES_FILE}" in s3_bucket.list_keys()
    rows = _stored_rows(s3_bucket, f"{base}/{ARTICLES_FILE}")
    assert [r["url"] for r in rows] == urls
    warcs = {str(r["warc_key"]) for r in rows}
    assert len(warcs) > 1 and all(k.startswith(f"{base}/news-") for k in warcs)
    _check_offsets(s3_bucket, rows)


def test_archiver_upload_builds_the_dataset_of_a_crawl_that_ran_without_storage(
    s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    archive = new_archive(spool)
    archive.add_close_hook(lambda closed: [write_sidecar(closed)])
    urls = write_articles(archive, 0, 5)
    assert archive.close()["dataset"] is None
    assert not (archive.crawl_dir.root / JOURNAL_NAME).exists()
    report = upload_spool(s3_bucket.cfg, spool, on_crawl_stored=crawl_stored)
    assert report.ok
    key = f"{s3_bucket.cfg.prefix}/2026-03-01/{ARCHIVE_CRAWL_ID}/{ARTICLES_FILE}"
    rows = _stored_rows(s3_bucket, key)
    assert [r["url"] for r in rows] == urls
    _check_offsets(s3_bucket, rows)
