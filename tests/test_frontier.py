"""The frontier on disk: which scheduler a crawl gets, the private queue directory, a real crawl."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from scrapy.settings import Settings

from archiver.config import SettingError
from archiver.crawler.distributed import RedisFrontierAddon
from archiver.crawler.frontier import (
    FRONTIER_DIR,
    LOCK_FILE,
    UNLOCKED_GRACE_SECONDS,
    FrontierAddon,
    PrivateFrontier,
    sweep,
)
from archiver.devserver.samplesite import SampleSite

ROOT = Path(__file__).resolve().parent.parent
SCRAPY_SCHEDULER = "scrapy.core.scheduler.Scheduler"


def _scheduler(values: dict[str, str]) -> str:
    """SCHEDULER after both add-ons ran over the project's settings and `values`."""
    settings = Settings()
    settings.setmodule("archiver.settings", priority="project")
    settings.setdict(values, priority="cmdline")
    RedisFrontierAddon().update_settings(settings)
    FrontierAddon().update_settings(settings)
    return str(settings.get("SCHEDULER"))


def test_crawls_get_the_disk_frontier_unless_memory_or_redis_is_asked_for() -> None:
    assert _scheduler({}) == "archiver.crawler.frontier.SpoolScheduler"
    assert _scheduler({"ARCHIVER_FRONTIER": "memory"}) == SCRAPY_SCHEDULER
    redis = {"ARCHIVER_REDIS_URL": "redis://127.0.0.1:1/0", "ARCHIVER_CRAWL_ID": "shared-1"}
    assert _scheduler(redis) == "scrapy_redis.scheduler.Scheduler"
    # A scheduler the user names is theirs.
    assert _scheduler({"SCHEDULER": "my.Scheduler"}) == "my.Scheduler"
    with pytest.raises(SettingError, match="ARCHIVER_FRONTIER"):
        _scheduler({"ARCHIVER_FRONTIER": "ram"})


def test_sweep_removes_frontiers_of_dead_processes_only(tmp_path: Path) -> None:
    root = tmp_path / FRONTIER_DIR
    live = PrivateFrontier.create(root)
    # A frontier whose process died: its lock file is there, nobody holds it.
    dead = root / "12345-dead"
    (dead / "requests.queue").mkdir(parents=True)
    (dead / "requests.queue" / "q00000").write_bytes(b"x" * 100)
    (dead / LOCK_FILE).touch()
    # Being created (no lock file yet), and one left so by a crash long ago.
    young = root / "young"
    young.mkdir()
    old = root / "old"
    old.mkdir()
    os.utime(old, (0, 0))
    removed = sweep(root, now=UNLOCKED_GRACE_SECONDS + 10)
    assert sorted(removed) == sorted([dead, old])
    assert live.path.is_dir() and young.is_dir()
    assert not dead.exists() and not old.exists()
    # The live one's lock is held until it removes itself.
    fd = os.open(live.path / LOCK_FILE, os.O_RDWR)
    try:
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)
    live.remove()
    assert not live.path.exists()


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
