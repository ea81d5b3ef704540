"""Storage going down in the middle of a crawl loses nothing: what waited goes up later."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.devserver.samplesite.generated import GeneratedSite
from tests.support.flaky_storage import DOWN, FORWARD, archiver_upload
from tests.support.paths import ROOT
from tests.support.s3 import S3Bucket


def _warc_records(data: bytes) -> list[tuple[str, str, str]]:
    out = []
    for record in ArchiveIterator(io.BytesIO(data)):
        if record.rec_type == "response":
            out.append(
                (
                    record.rec_headers.get_header("WARC-Record-ID"),
                    record.rec_headers.get_header("WARC-Target-URI"),
                    record.rec_headers.get_header("WARC-Payload-Digest"),
                )
            )
    return out


@pytest.mark.s3
@pytest.mark.slow
def test_storage_going_down_mid_crawl_loses_nothing(
    tmp_path: Path, s3_bucket: S3Bucket, make_proxy: Any
) -> None:
    down = threading.Event()
    proxy = make_proxy(lambda n: DOWN if down.is_set() else FORWARD)
    spool = tmp_path / "spool"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")}
    pages = 300
    with GeneratedSite(pages, fanout=8) as site:
        command = [
            sys.executable,
            "-m",
            "scrapy",
            "crawl",
            "news",
            "-a",
            f"urls={site.url}/",
            "-s",
            f"ARCHIVER_WARC_DIR={spool}",
            "-s",
            f"ARCHIVER_S3_BUCKET={s3_bucket.name}",
            "-s",
            f"ARCHIVER_S3_ENDPOINT_URL={proxy.url}",
            "-s",
            "ARCHIVER_S3_MAX_ATTEMPTS=2",
            "-s",
            "ARCHIVER_ALLOWED_NETWORKS=127.0.0.0/8",
            "-s",
            "DOWNLOAD_DELAY=0",
            "-s",
            "AUTOTHROTTLE_ENABLED=false",
            "-s",
            "ARCHIVER_CLEAN_ENABLED=false",
            "-s",
            "ARCHIVER_WARC_MAX_SIZE=60000",
            "-s",
            "CONCURRENT_REQUESTS_PER_DOMAIN=4",
        ]
        crawl = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and crawl.poll() is None:
            if len([k for k in s3_bucket.list_keys() if k.endswith(".warc.gz")]) >= 2:
                break
            time.sleep(0.1)
        down.set()
        _, log = crawl.communicate(timeout=300)
    assert crawl.returncode == 0, log[-3000:]
    stored_before = {k for k in s3_bucket.list_keys() if k.endswith(".warc.gz")}
    assert len(stored_before) >= 2
    assert "event=upload_failed" in log and "event=uploads_waiting" in log
    (crawl_dir,) = [p for p in spool.iterdir() if p.is_dir() and not p.name.startswith("_")]
    manifest = json.loads((crawl_dir / "manifest.json").read_text(encoding="utf-8"))
    waiting = manifest["uploads_waiting"]
    assert waiting and manifest["stats"]["archiver/upload/failed"] >= 1
    local = {n: (crawl_dir / n).read_bytes() for n in waiting if n.endswith(".warc.gz")}
    assert local, "some WARCs should wait in the spool"

    # Storage is back: `archiver upload` sends everything, verified.
    down.clear()
    proc = archiver_upload(spool, s3_bucket.name, proxy.url, dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["failed"] == [] and report["waiting"] == []

    # Captures before equal captures after: every WARC of the manifest is stored with its
    # digest, each page's response exactly once.
    keys = s3_bucket.list_keys()
    stored = {Path(k).name: k for k in keys}
    records = []
    for entry in manifest["files"]:
        data = s3_bucket.read(stored[entry["name"]])
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        if entry["name"] in local:
            assert data == local[entry["name"]]
        records.extend(_warc_records(data))
    uris = [uri for _, uri, _ in records if "/p/" in uri]
    assert len(uris) == len(set(uris)) == pages
    assert len({rid for rid, _, _ in records}) == len(records)
    assert "manifest.json" in stored
