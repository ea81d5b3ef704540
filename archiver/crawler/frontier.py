"""The crawl frontier on disk: Scrapy's disk queues in the spool, for every crawl.

Site crawls keep their frontier in their JOBDIR, which also makes them resumable.  Other
crawls (`scrapy crawl news -a urls=...`) have no JOBDIR; with ARCHIVER_FRONTIER=disk (the
default) their queue goes to a private directory under {spool}/_frontier/ that lives as
long as the process: removed when the crawl closes, and by the next crawl if the process
died.  Such a crawl is not resumable (the next run is a new crawl with a new id), so
nothing of its queue is worth keeping.  Distributed crawls keep theirs in Redis.
docs/performance.md (memory) says why.  The add-on that picks this scheduler is
archiver.crawler.frontier_addon.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from scrapy.core.scheduler import Scheduler

if TYPE_CHECKING:
    from scrapy import Spider
    from twisted.internet.defer import Deferred

logger = logging.getLogger(__name__)

# Beside the crawl directories; its name cannot be a crawl id (those never start with "_").
FRONTIER_DIR = "_frontier"
LOCK_FILE = "lock"
# A frontier directory without its lock file is being created, or its process died in the
# microseconds between the two; past this age it is the latter.
UNLOCKED_GRACE_SECONDS = 3600.0


class PrivateFrontier:
    """A directory of one process's disk queue, flock'ed for as long as the process uses it."""

    def __init__(self, path: Path, lock_fd: int) -> None:
        self.path = path
        self._lock_fd: int | None = lock_fd

    @classmethod
    def create(cls, root: Path) -> PrivateFrontier:
        """A new locked directory under root."""
        root.mkdir(parents=True, exist_ok=True)
        path = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=root))
        # Locked under another name, then renamed: a sweeper never sees an unlocked "lock".
        staging = path / f".{LOCK_FILE}"
        fd = os.open(staging, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        staging.rename(path / LOCK_FILE)
        return cls(path, fd)

    def remove(self) -> None:
        """Delete the directory and release the lock."""
        shutil.rmtree(self.path, ignore_errors=True)
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def sweep(root: Path, now: float | None = None) -> list[Path]:
    """Remove the frontier directories under root whose process is gone; returns them."""
    removed: list[Path] = []
    try:
        children = sorted(root.iterdir())
    except FileNotFoundError:
        return removed
    now = time.time() if now is None else now
    for child in children:
        if not child.is_dir():
            continue
        try:
            fd = os.open(child / LOCK_FILE, os.O_RDWR)
        except FileNotFoundError:
            try:
                young = now - child.stat().st_mtime < UNLOCKED_GRACE_SECONDS
            except FileNotFoundError:
                continue
            if not young:
                shutil.rmtree(child, ignore_errors=True)
                removed.append(child)
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # its process is crawling
        else:
            shutil.rmtree(child, ignore_errors=True)
            removed.append(child)
        finally:
            os.close(fd)
    return removed


class SpoolScheduler(Scheduler):
    """Scrapy's scheduler with its disk queue in a private spool directory when there is no JOBDIR.

    With a JOBDIR it is Scrapy's scheduler unchanged (the resumable queue of a site crawl).
    Requests that cannot be pickled fall back to the memory queue, as in Scrapy
    (stat scheduler/unserializable).
    """

    frontier: PrivateFrontier | None = None

    def open(self, spider: Spider) -> Deferred[None] | None:
        """Create the private frontier (after removing those of dead processes), then open."""
        if self.dqdir is None and self.crawler is not None:
            root = Path(self.crawler.settings.get("ARCHIVER_WARC_DIR")) / FRONTIER_DIR
            for path in sweep(root):
                logger.info("event=frontier_removed dir=%s: its process is gone", path)
            self.frontier = PrivateFrontier.create(root)
            queue_dir = self.frontier.path / "requests.queue"
            queue_dir.mkdir()
            self.dqdir = str(queue_dir)
            logger.info("event=frontier_on_disk dir=%s", self.frontier.path)
        return super().open(spider)

    def close(self, reason: str) -> Deferred[None] | None:
        """Close the queues; a private frontier is deleted (the crawl cannot be resumed)."""
        try:
            return super().close(reason)
        finally:
            if self.frontier is not None:
                self.frontier.remove()
                self.frontier = None
