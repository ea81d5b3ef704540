"""The frontier on disk: which scheduler a crawl gets, the private queue directory."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest
from scrapy.settings import Settings

from archiver.config import SettingError
from archiver.crawler.frontier import (
    FRONTIER_DIR,
    LOCK_FILE,
    UNLOCKED_GRACE_SECONDS,
    PrivateFrontier,
    sweep,
)
from archiver.crawler.frontier_addon import FrontierAddon
from archiver.crawler.redis_frontier import RedisFrontierAddon

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
