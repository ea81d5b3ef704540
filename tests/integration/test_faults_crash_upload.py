"""Crashes and `archiver upload`: a dead writer's file is cut after its last whole record.

A file whose writer still runs is left alone; a dead writer's file is stored once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from archiver.storage import upload_spool
from tests.support.open_warcs import crawl_dir, dead_pid, open_name, responses, write_open_warc
from tests.support.s3 import S3Bucket


@pytest.mark.s3
def test_upload_never_touches_a_file_that_is_still_being_written(
    tmp_path: Path, s3_bucket: S3Bucket
) -> None:
    spool = tmp_path / "spool"
    crawl = crawl_dir(spool)
    path = write_open_warc(crawl.root, 3)
    before = path.read_bytes()
    report = upload_spool(s3_bucket.cfg, spool, client=s3_bucket.client)
    assert report.recovered == [] and path in report.waiting
    assert path.read_bytes() == before
    assert s3_bucket.list_keys() == []


@pytest.mark.s3
def test_archiver_upload_recovers_a_dead_writers_file_cut_mid_record(
    tmp_path: Path, s3_bucket: S3Bucket
) -> None:
    spool = tmp_path / "spool"
    crawl = crawl_dir(spool)
    written = write_open_warc(tmp_path / "w", 5)
    data = written.read_bytes()
    complete = responses(data)
    assert len(complete) == 5
    # The kill came while the last record's gzip member was half written.
    last_member = data.rindex(b"\x1f\x8b\x08")
    torn = crawl.root / open_name(dead_pid())
    torn.write_bytes(data[: last_member + (len(data) - last_member) // 2])
    report = upload_spool(s3_bucket.cfg, spool, client=s3_bucket.client)
    assert report.failed == [] and report.waiting == []
    (recovered,) = report.recovered
    assert recovered.name == torn.name.removesuffix(".open")
    (key,) = [k for k in s3_bucket.list_keys() if k.endswith(".warc.gz")]
    stored = s3_bucket.read(key)
    # Cut exactly after the last complete record: every record but the torn one, once.
    assert stored == data[:last_member]
    assert responses(stored) == complete[:-1]
    # Idempotent: nothing is recovered or sent twice.
    again = upload_spool(s3_bucket.cfg, spool, client=s3_bucket.client)
    assert again.recovered == [] and again.uploaded == []
