"""Crashes: a crawl killed with SIGKILL mid-write loses nothing it had written.

Every record the writer finished is readable in the ``.open`` file it leaves; the next
run (a crawl's start, or `archiver upload`) cuts that file after its last complete
record, renames it and uploads it, and storage ends up with no duplicate and no corrupt
record.  A file whose writer still runs is never touched.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from archiver.devserver.samplesite.generated import GeneratedSite
from tests.support.open_warcs import responses
from tests.support.paths import ROOT
from tests.support.s3 import S3Bucket

# --- a real crawl, killed -------------------------------------------------------------------


def _crawl_command(url: str, spool: Path, bucket: str, endpoint: str, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "scrapy",
        "crawl",
        "news",
        "-a",
        f"urls={url}/",
        "-s",
        f"ARCHIVER_WARC_DIR={spool}",
        "-s",
        f"ARCHIVER_S3_BUCKET={bucket}",
        "-s",
        f"ARCHIVER_S3_ENDPOINT_URL={endpoint}",
        "-s",
        "ARCHIVER_S3_PREFIX=crash",
        "-s",
        "ARCHIVER_ALLOWED_NETWORKS=127.0.0.0/8",
        "-s",
        "DOWNLOAD_DELAY=0",
        "-s",
        "AUTOTHROTTLE_ENABLED=false",
        "-s",
        "CONCURRENT_REQUESTS_PER_DOMAIN=8",
        "-s",
        "ARCHIVER_CLEAN_ENABLED=false",
        "-s",
        "ARCHIVER_WARC_MAX_SIZE=100000",
        *extra,
    ]


def _wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.s3
@pytest.mark.slow
def test_sigkill_mid_crawl_then_the_next_crawl_recovers_and_uploads_everything(
    tmp_path: Path, s3_bucket: S3Bucket
) -> None:
    spool = tmp_path / "spool"
    endpoint = s3_bucket.cfg.endpoint_url or ""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")}
    with GeneratedSite(20_000, fanout=20) as site:
        log = open(tmp_path / "killed.log", "w", encoding="utf-8")  # noqa: SIM115
        crawl = subprocess.Popen(
            _crawl_command(site.url, spool, s3_bucket.name, endpoint),
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:

            def mid_write() -> bool:
                opened = list(spool.glob("*/*.warc.gz.open"))
                closed = len([k for k in s3_bucket.list_keys() if k.endswith(".warc.gz")])
                return closed >= 2 and any(p.stat().st_size > 30_000 for p in opened)

            _wait_for(mid_write, 120, "a crawl with uploaded WARCs and one half-written")
            os.killpg(crawl.pid, signal.SIGKILL)
            crawl.wait(timeout=30)
        finally:
            if crawl.poll() is None:
                os.killpg(crawl.pid, signal.SIGKILL)
                crawl.wait()
            log.close()
        assert crawl.returncode == -signal.SIGKILL

        (killed_dir,) = [p for p in spool.iterdir() if p.is_dir() and not p.name.startswith("_")]
        left_open = sorted(killed_dir.glob("*.warc.gz.open"))
        assert left_open, "the kill should leave the file being written"
        left_closed = sorted(killed_dir.glob("*.warc.gz"))
        in_open = [r for p in left_open for r in responses(p.read_bytes())]
        assert in_open, "records written before the kill must be readable"
        uploaded_before = set(s3_bucket.list_keys())

        # The next crawl of the same spool uploads leftovers first, recovering dead files.
        next_run = subprocess.run(
            [*_crawl_command(site.url, spool, s3_bucket.name, endpoint), "-a", "max_pages=1"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        served = site.served_pages()
    assert next_run.returncode == 0, next_run.stderr[-3000:]
    assert next_run.stderr.count("event=open_file_recovered") == len(left_open)
    assert f"'archiver/upload/leftover_recovered': {len(left_open)}" in next_run.stderr
    assert not list(killed_dir.glob("*.open"))

    keys = s3_bucket.list_keys()
    warc_keys = [k for k in keys if k.endswith(".warc.gz") and f"/{killed_dir.name}/" in k]
    names = {Path(k).name for k in warc_keys}
    assert {p.name.removesuffix(".open") for p in left_open} <= names
    assert {Path(k).name for k in uploaded_before if k.endswith(".warc.gz")} <= names
    stored: list[tuple[str, str]] = []
    warcio = Path(sys.executable).with_name("warcio")
    for key in warc_keys:
        data = s3_bucket.read(key)
        local = tmp_path / "check" / Path(key).name
        local.parent.mkdir(exist_ok=True)
        local.write_bytes(data)
        check = subprocess.run([str(warcio), "check", str(local)], capture_output=True, text=True)
        assert check.returncode == 0, f"{key}: {check.stdout}{check.stderr}"
        stored.extend(responses(data))
    ids = Counter(record_id for record_id, _ in stored)
    uris = Counter(uri for _, uri in stored)
    assert max(ids.values()) == 1, "a record is stored twice"
    assert max(uris.values()) == 1, "a page is stored twice"
    # Nothing that was on disk at the kill is missing from storage.
    assert set(in_open) <= set(stored)
    for path in left_closed:
        assert any(k.endswith("/" + path.name) for k in warc_keys), path.name
    # Every stored page was really fetched (once: the crawl never retried it).
    page_paths = {uri.split("/", 3)[3] for _, uri in stored if "/p/" in uri}
    assert all(served["/" + p] == 1 for p in page_paths)
