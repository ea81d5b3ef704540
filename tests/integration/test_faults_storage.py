"""Storage faults against the real SeaweedFS: errors, slowness, outages, bad credentials.

A small proxy on 127.0.0.1 sits between the uploader and SeaweedFS and misbehaves on
demand: it answers 503 or 500 for the first N requests, answers slowly, or refuses
everything (the server is down) until told otherwise.  Retries must get through
transient trouble, give up within the bound the settings promise, and never delete a
local file that is not verified in storage.  (Storage down in the middle of a crawl:
tests/e2e/test_faults_storage_crawl.py; keys: tests/unit/test_storage_key_properties.py.)
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from archiver.spool import CrawlDir, CrawlInfo
from archiver.storage import S3Config, make_client, object_key, upload_spool
from tests.support.flaky_storage import FORWARD, FlakyProxy, archiver_upload, slow, status
from tests.support.s3 import S3Bucket


def _spool_with_files(root: Path, sizes: list[int]) -> tuple[CrawlDir, dict[str, bytes]]:
    info = CrawlInfo("news-20261125T170259Z-" + secrets.token_hex(3), "news", _started())
    crawl = CrawlDir.create(root, info)
    files = {}
    for i, size in enumerate(sizes):
        name = f"news-2026112517030{i}000-00000-host-1.warc.gz"
        data = secrets.token_bytes(size)
        (crawl.root / name).write_bytes(data)
        files[name] = data
    return crawl, files


def _started() -> datetime:
    return datetime(2026, 11, 25, 17, 2, 59, tzinfo=UTC)


def _via(bucket: S3Bucket, proxy: FlakyProxy, **changes: Any) -> S3Config:
    return replace(bucket.cfg, endpoint_url=proxy.url, **changes)


# --- 500, 503 and slow answers --------------------------------------------------------------


@pytest.mark.s3
@pytest.mark.parametrize("code", [503, 500])
def test_transient_errors_are_retried_with_backoff_until_the_upload_succeeds(
    tmp_path: Path, s3_bucket: S3Bucket, make_proxy: Any, code: int
) -> None:
    proxy = make_proxy(lambda n: status(code) if n < 3 else FORWARD)
    crawl, files = _spool_with_files(tmp_path, [200_000])
    cfg = _via(s3_bucket, proxy, max_attempts=5)
    report = upload_spool(cfg, tmp_path, client=make_client(cfg))
    assert report.failed == [] and report.waiting == []
    (name,) = files
    stored = s3_bucket.read(object_key(cfg.prefix, "2026-11-25", crawl.info.crawl_id, name))
    assert stored == files[name]
    answered = [a for _, a in proxy.requests]
    assert answered[:3] == [status(code)] * 3 and FORWARD in answered


@pytest.mark.s3
@pytest.mark.parametrize("code", [503, 500])
def test_an_endpoint_that_keeps_failing_is_given_up_on_within_the_bound(
    tmp_path: Path, s3_bucket: S3Bucket, make_proxy: Any, code: int
) -> None:
    proxy = make_proxy(lambda n: status(code))
    crawl, files = _spool_with_files(tmp_path, [10_000, 20_000])
    cfg = _via(s3_bucket, proxy, max_attempts=3, connect_timeout=2, read_timeout=2)
    started = time.monotonic()
    report = upload_spool(cfg, tmp_path, client=make_client(cfg))
    elapsed = time.monotonic() - started
    # Two files, one failing call each (the first HEAD), each call bounded.
    assert elapsed < 2 * cfg.worst_case_seconds
    assert [p.name for p, _ in report.failed] == sorted(files)
    # The first call is a HEAD: its answer has no body, so the status is all botocore reports.
    assert all(f"(HTTP {code})" in error for _, error in report.failed)
    assert len(proxy.requests) == 2 * cfg.max_attempts
    # Nothing left the spool.
    assert {p.name: p.read_bytes() for p in crawl.root.glob("*.warc.gz")} == files


@pytest.mark.s3
def test_a_slow_endpoint_times_out_retries_and_gets_through(
    tmp_path: Path, s3_bucket: S3Bucket, make_proxy: Any
) -> None:
    proxy = make_proxy(lambda n: slow(3) if n < 2 else FORWARD)
    crawl, _ = _spool_with_files(tmp_path, [50_000])
    cfg = _via(s3_bucket, proxy, max_attempts=4, read_timeout=1)
    report = upload_spool(cfg, tmp_path, client=make_client(cfg))
    assert report.failed == [], report.failed
    assert [a for _, a in proxy.requests][:2] == [slow(3), slow(3)]
    assert list(crawl.root.glob("*.warc.gz")) == []


@pytest.mark.s3
def test_an_endpoint_that_never_answers_in_time_fails_within_the_bound(
    tmp_path: Path, s3_bucket: S3Bucket, make_proxy: Any
) -> None:
    proxy = make_proxy(lambda n: slow(30))
    crawl, files = _spool_with_files(tmp_path, [50_000])
    cfg = _via(s3_bucket, proxy, max_attempts=2, connect_timeout=1, read_timeout=1)
    started = time.monotonic()
    report = upload_spool(cfg, tmp_path, client=make_client(cfg))
    elapsed = time.monotonic() - started
    assert elapsed <= cfg.worst_case_seconds + 1
    assert len(report.failed) == 1 and "timeout" in report.failed[0][1].lower()
    assert {p.name: p.read_bytes() for p in crawl.root.glob("*.warc.gz")} == files


# --- wrong credentials, missing bucket -------------------------------------------------------


@pytest.mark.s3
def test_wrong_credentials_give_a_clear_error_and_delete_nothing(
    tmp_path: Path, s3_bucket: S3Bucket
) -> None:
    crawl, files = _spool_with_files(tmp_path, [1000, 2000])
    wrong_secret = "wrong-" + secrets.token_hex(16)
    env = {**os.environ, "AWS_SECRET_ACCESS_KEY": wrong_secret}
    proc = archiver_upload(tmp_path, s3_bucket.name, s3_bucket.cfg.endpoint_url or "", env)
    assert proc.returncode == 1
    assert "rejected the credentials" in proc.stderr
    assert "SignatureDoesNotMatch" in proc.stderr or "InvalidAccessKeyId" in proc.stderr
    assert wrong_secret not in proc.stdout + proc.stderr
    assert {p.name: p.read_bytes() for p in crawl.root.glob("*.warc.gz")} == files
    assert s3_bucket.list_keys() == []


@pytest.mark.s3
def test_a_missing_bucket_gives_a_clear_error_and_deletes_nothing(
    tmp_path: Path, s3_bucket: S3Bucket
) -> None:
    crawl, files = _spool_with_files(tmp_path, [1000])
    missing = "no-such-bucket-" + secrets.token_hex(4)
    proc = archiver_upload(tmp_path, missing, s3_bucket.cfg.endpoint_url or "", dict(os.environ))
    assert proc.returncode == 1
    assert "the bucket does not exist" in proc.stderr and missing in proc.stderr
    assert json.loads(proc.stdout)["error"]
    assert {p.name: p.read_bytes() for p in crawl.root.glob("*.warc.gz")} == files
