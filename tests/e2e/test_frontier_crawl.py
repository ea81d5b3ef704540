"""The frontier on disk in real crawls: every request queued there, no queue left behind."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archiver.crawler.frontier import FRONTIER_DIR
from archiver.devserver.samplesite import SampleSite
from tests.support.paths import ROOT


def _command(site_url: str, spool: Path, *extra: str) -> list[str]:
    """`scrapy crawl news` of the sample site, without storage."""
    return [
        sys.executable,
        "-m",
        "scrapy",
        "crawl",
        "news",
        "-a",
        f"urls={site_url}/",
        "-s",
        f"ARCHIVER_WARC_DIR={spool}",
        "-s",
        "ARCHIVER_S3_BUCKET=",
        "-s",
        "DOWNLOAD_DELAY=0",
        "-s",
        "AUTOTHROTTLE_START_DELAY=0.01",
        "-s",
        "ARCHIVER_CLEAN_WORKERS=1",
        "-s",
        "ARCHIVER_ALLOWED_NETWORKS=127.0.0.0/8",
        *extra,
    ]


def _crawl(site_url: str, spool: Path, log: Path, *extra: str) -> dict[str, int]:
    """A crawl run to its end; Scrapy's scheduler stats from its manifest."""
    command = _command(site_url, spool, *extra)
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.run(
            command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, text=True, timeout=300
        )
    assert proc.returncode == 0, log.read_text(encoding="utf-8")[-4000:]
    (manifest,) = spool.glob("*/manifest.json")
    scrapy_stats = json.loads(manifest.read_text(encoding="utf-8"))["stats"]
    return {k: int(v) for k, v in scrapy_stats.items() if k.startswith("scheduler/")}


@pytest.mark.slow
def test_a_crawl_of_urls_queues_every_request_on_disk_and_leaves_no_queue(tmp_path: Path) -> None:
    with SampleSite() as site:
        disk = _crawl(site.url, tmp_path / "disk", tmp_path / "disk.log")
        memory = _crawl(
            site.url, tmp_path / "memory", tmp_path / "memory.log", "-s", "ARCHIVER_FRONTIER=memory"
        )
    # Every URL of the sample site was queued, all of them on disk, none unpicklable.
    assert disk["scheduler/enqueued"] >= 52
    assert disk["scheduler/enqueued/disk"] == disk["scheduler/enqueued"]
    assert disk["scheduler/dequeued/disk"] == disk["scheduler/enqueued"]
    assert "scheduler/enqueued/memory" not in disk and "scheduler/unserializable" not in disk
    # The same crawl with the frontier in memory queues the same requests.
    assert memory["scheduler/enqueued/memory"] == disk["scheduler/enqueued"]
    assert "scheduler/enqueued/disk" not in memory
    # The private queue directory went with the crawl.
    assert list((tmp_path / "disk" / FRONTIER_DIR).iterdir()) == []
    assert "event=frontier_on_disk" in (tmp_path / "disk.log").read_text(encoding="utf-8")
    assert not (tmp_path / "memory" / FRONTIER_DIR).exists()


@pytest.mark.slow
def test_the_queue_of_a_killed_crawl_is_removed_by_the_next_crawl(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    with SampleSite() as site:
        slow = subprocess.Popen(
            _command(
                site.url,
                spool,
                "-s",
                "DOWNLOAD_DELAY=0.2",
                "-s",
                "AUTOTHROTTLE_ENABLED=false",
                "-s",
                "CONCURRENT_REQUESTS_PER_DOMAIN=1",
            ),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 120
            queued: list[Path] = []
            while not queued:
                assert slow.poll() is None, "the crawl ended before it could be killed"
                assert time.monotonic() < deadline
                queued = [p for p in spool.glob(f"{FRONTIER_DIR}/*/requests.queue/*") if p.is_dir()]
                time.sleep(0.05)
            (left,) = list((spool / FRONTIER_DIR).iterdir())
        finally:
            slow.kill()
            slow.wait()
        assert left.is_dir()
        _crawl(site.url, spool, tmp_path / "next.log")
    assert not left.exists()
    assert list((spool / FRONTIER_DIR).iterdir()) == []
    assert f"event=frontier_removed dir={left}" in (tmp_path / "next.log").read_text(
        encoding="utf-8"
    )
