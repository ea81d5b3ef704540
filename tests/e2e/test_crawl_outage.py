"""Storage down during a crawl: the WARCs wait in the spool, and `archiver upload` sends them."""

from __future__ import annotations

import io
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.devserver.s3server import SeaweedServer
from archiver.devserver.samplesite import SampleSite
from tests.support.crawl import PREFIX, crawl_command, run_crawl
from tests.support.paths import ROOT

pytestmark = [pytest.mark.s3, pytest.mark.slow]


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[SeaweedServer]:
    """A server of this test's own, since the test stops it (the session server stays up)."""
    server = SeaweedServer(
        tmp_path / "s3",
        access_key="AK" + secrets.token_hex(8).upper(),
        secret_key=secrets.token_urlsafe(24),
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _keys(server: SeaweedServer, bucket: str) -> list[str]:
    client = server.client()
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def test_warcs_wait_in_the_spool_while_storage_is_down_then_archiver_upload_sends_them(
    own_server: SeaweedServer, tmp_path: Path
) -> None:
    bucket = "outage-" + secrets.token_hex(4)
    own_server.create_bucket(bucket)
    spool = tmp_path / "spool"
    own_server.stop()

    with SampleSite() as site:
        # Small files, so the crawl rotates through several WARCs while storage is down.
        command = crawl_command(
            site.url,
            spool,
            bucket,
            own_server.endpoint_url,
            "-s",
            "ARCHIVER_S3_MAX_ATTEMPTS=1",
            "-s",
            "ARCHIVER_WARC_MAX_SIZE=60000",
        )
        proc = run_crawl(command, own_server, tmp_path / "crawl.log")
    log = (tmp_path / "crawl.log").read_text(encoding="utf-8")
    assert proc.returncode == 0, log[-3000:]
    assert "event=upload_failed" in log
    assert "event=uploads_waiting" in log

    (crawl_dir,) = [p for p in spool.iterdir() if p.is_dir() and not p.name.startswith("_")]
    waiting = sorted(p.name for p in crawl_dir.iterdir())
    warcs = [n for n in waiting if n.endswith(".warc.gz")]
    assert len(warcs) >= 3, waiting
    assert warcs == sorted(warcs, key=lambda n: n.split("-")[1:3])
    assert "manifest.json" in waiting and "items.jsonl" in waiting
    manifest = json.loads((crawl_dir / "manifest.json").read_text(encoding="utf-8"))
    indexes = [f"{n}.cdxj" for n in warcs]
    assert sorted(manifest["uploads_waiting"]) == sorted(
        [*warcs, *indexes, "items.jsonl", "articles.parquet"]
    )
    assert manifest["stats"]["archiver/upload/failed"] >= 1
    local_bytes = {n: (crawl_dir / n).read_bytes() for n in warcs}

    own_server.start()
    env = {**os.environ, **own_server.env()}
    upload = subprocess.run(
        [
            sys.executable,
            "-m",
            "archiver",
            "-s",
            f"ARCHIVER_WARC_DIR={spool}",
            "-s",
            f"ARCHIVER_S3_BUCKET={bucket}",
            "-s",
            f"ARCHIVER_S3_PREFIX={PREFIX}",
            "-s",
            f"ARCHIVER_S3_ENDPOINT_URL={own_server.endpoint_url}",
            "upload",
            "--json",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert upload.returncode == 0, upload.stderr
    report = json.loads(upload.stdout)
    assert report["failed"] == [] and report["waiting"] == []

    keys = _keys(own_server, bucket)
    names = {Path(k).name: k for k in keys}
    assert set(warcs) | {"manifest.json", "items.jsonl", "articles.parquet"} <= set(names)
    client = own_server.client()
    for name, data in local_bytes.items():
        stored = client.get_object(Bucket=bucket, Key=names[name])["Body"].read()
        assert stored == data
        # Every rotated file stands alone: it starts with its own warcinfo record.
        first = next(iter(ArchiveIterator(io.BytesIO(stored))))
        assert first.rec_type == "warcinfo"
        assert first.rec_headers.get_header("WARC-Filename") == name
    # Verified uploads release the local copies; nothing is left waiting.
    assert not [p for p in spool.rglob("*") if ".warc" in p.name or p.name == "manifest.json"]

    # Idempotent: a second run finds nothing to do and succeeds.
    again = subprocess.run(
        [
            sys.executable,
            "-m",
            "archiver",
            "-s",
            f"ARCHIVER_WARC_DIR={spool}",
            "-s",
            f"ARCHIVER_S3_BUCKET={bucket}",
            "upload",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr
    assert _keys(own_server, bucket) == keys


def test_no_bucket_means_warcs_stay_local_and_the_crawl_says_so_once(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    with SampleSite() as site:
        command = [
            sys.executable,
            "-m",
            "scrapy",
            "crawl",
            "news",
            "-a",
            f"urls={site.url}/",
            "-a",
            "max_pages=5",
            "-s",
            f"ARCHIVER_WARC_DIR={spool}",
            "-s",
            "DOWNLOAD_DELAY=0",
            "-s",
            "ARCHIVER_S3_BUCKET=",
            "-s",
            "ARCHIVER_ALLOWED_NETWORKS=127.0.0.0/8",
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")}
        proc = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.count("event=upload_off") == 1
    (crawl_dir,) = [p for p in spool.iterdir() if p.is_dir() and not p.name.startswith("_")]
    assert list(crawl_dir.glob("*.warc.gz"))
    assert not list(crawl_dir.glob("*.open"))
    assert json.loads((crawl_dir / "manifest.json").read_text(encoding="utf-8"))["files"]
