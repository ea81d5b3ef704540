"""One lock per site, so two scheduled runs of a site never crawl at once.

Mutual exclusion is the kernel's: an exclusive ``flock`` on the site's lock file, held
for the whole run and released by the kernel when the holding process dies, however it
dies.  The file also records who holds it (pid, host, process start time, command,
since when), so a run that finds the lock taken can say by whom, ``archiver status``
can show holders, and a run that finds a record left by a holder that died can say so
when it takes the lock over.  A released lock is an empty file; it is never unlinked,
because unlinking a flock'ed file lets two processes lock two different files.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archiver.spool import pid_exists, process_identity

logger = logging.getLogger(__name__)

# How often a waiting run tries the lock again.
POLL_SECONDS = 0.5
# How long a run that finds the lock held waits for its holder to write who it is (it does so
# right after taking the lock; a few ms on a quiet machine, seen past 100 ms under load).
RECORD_GRACE_SECONDS = 2.0
# `archiver crawl` holds the site lock and hands it to its `scrapy crawl` child as this fd.
LOCK_FD_ENV = "NEWS_ARCHIVER_LOCK_FD"


@dataclass(frozen=True)
class LockHolder:
    """Who holds, or last held, a site lock."""

    site: str
    pid: int
    host: str
    since: datetime
    identity: str | None = None
    command: str = ""
    child_pid: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The lock file's JSON document."""
        return {
            "site": self.site,
            "pid": self.pid,
            "host": self.host,
            "since": self.since.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "identity": self.identity,
            "command": self.command,
            "child_pid": self.child_pid,
        }

    @classmethod
    def from_json(cls, doc: Any) -> LockHolder | None:
        """Parse a lock file document; None when it is not one."""
        if not isinstance(doc, dict):
            return None
        try:
            since = datetime.fromisoformat(str(doc["since"]).replace("Z", "+00:00"))
            child = doc.get("child_pid")
            return cls(
                site=str(doc.get("site", "")),
                pid=int(doc["pid"]),
                host=str(doc["host"]),
                since=since if since.tzinfo else since.replace(tzinfo=UTC),
                identity=doc.get("identity") or None,
                command=str(doc.get("command") or ""),
                child_pid=int(child) if child is not None else None,
            )
        except (KeyError, TypeError, ValueError):
            return None

    def alive(self) -> bool | None:
        """True if a recorded process still runs, False if none does, None if on another host."""
        if self.host != socket.gethostname():
            return None
        for pid, identity in ((self.pid, self.identity), (self.child_pid, None)):
            if pid is None or not pid_exists(pid):
                continue
            if identity is None or process_identity(pid) in (None, identity):
                return True
        return False

    def describe(self) -> str:
        """One line naming the holder: pid, host, since when, and its command."""
        since = self.since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        text = f"pid {self.pid} on {self.host} since {since}"
        if self.child_pid:
            text += f", crawl pid {self.child_pid}"
        return text + (f" ({self.command})" if self.command else "")


class AlreadyRunning(RuntimeError):
    """The site's lock is held by a live run."""

    def __init__(self, site: str, holder: LockHolder | None) -> None:
        who = holder.describe() if holder else "a run that has not recorded itself yet"
        super().__init__(f"site {site} is already being crawled by {who}")
        self.site = site
        self.holder = holder


def read_holder(path: Path) -> LockHolder | None:
    """The holder recorded in a lock file (None when free, missing or unreadable)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError:
        return None
    if not text.strip():
        return None
    try:
        return LockHolder.from_json(json.loads(text))
    except ValueError:
        return None


def _recorded_holder(path: Path) -> LockHolder | None:
    """The holder of a lock found held, waiting briefly for it to record itself.

    A run takes the lock first and writes who it is just after; a loaded machine can stretch
    that moment, and "already running" without a pid tells the operator nothing.
    """
    deadline = time.monotonic() + RECORD_GRACE_SECONDS
    while (holder := read_holder(path)) is None and time.monotonic() < deadline:
        time.sleep(0.02)
    return holder


class SiteLock:
    """The exclusive lock of one site: acquire, or adopt from a parent; release once done."""

    def __init__(self, path: Path, site: str) -> None:
        self.path = Path(path)
        self.site = site
        self._fd: int | None = None
        self.holder: LockHolder | None = None

    @property
    def fd(self) -> int:
        """The locked file descriptor (to hand to a child process)."""
        if self._fd is None:
            raise RuntimeError(f"the lock of site {self.site} is not held")
        return self._fd

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def acquire(self, *, wait: float = 0.0, command: str = "") -> LockHolder | None:
        """Take the lock, waiting up to `wait` seconds; returns a dead holder it took over.

        Raises AlreadyRunning when a live run keeps it for longer than `wait`.
        """
        if self._fd is not None:
            raise RuntimeError(f"the lock of site {self.site} is already held here")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        deadline = time.monotonic() + max(0.0, wait)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise AlreadyRunning(self.site, _recorded_holder(self.path)) from None
                    time.sleep(min(POLL_SECONDS, max(0.01, deadline - time.monotonic())))
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        # A record left in a lock nobody holds is the trace of a run that died holding it.
        previous = read_holder(self.path)
        self._write(
            LockHolder(
                site=self.site,
                pid=os.getpid(),
                host=socket.gethostname(),
                since=datetime.now(UTC),
                identity=process_identity(os.getpid()),
                command=command,
            )
        )
        if previous is not None:
            logger.warning(
                "event=stale_lock_taken_over site=%s previous_pid=%d previous_host=%s previous_since=%s",
                self.site,
                previous.pid,
                previous.host,
                previous.since.isoformat(),
            )
        return previous

    def adopt(self, fd: int) -> None:
        """Use a lock a parent process took and passed down as `fd` (same file, still open)."""
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(self.path))
        except OSError as exc:
            raise RuntimeError(f"inherited lock fd {fd} of site {self.site}: {exc}") from None
        if not same:
            raise RuntimeError(f"inherited fd {fd} is not the lock file {self.path}")
        # Children of this process (cleaning workers) must not keep the lock alive.
        os.set_inheritable(fd, False)
        self._fd = fd
        self.holder = read_holder(self.path)

    def record_child(self, pid: int) -> None:
        """Add the pid of the process doing the crawl for this holder."""
        if self.holder is not None:
            self._write(
                LockHolder(
                    site=self.holder.site,
                    pid=self.holder.pid,
                    host=self.holder.host,
                    since=self.holder.since,
                    identity=self.holder.identity,
                    command=self.holder.command,
                    child_pid=pid,
                )
            )

    def _write(self, holder: LockHolder) -> None:
        assert self._fd is not None
        data = json.dumps(holder.to_json(), sort_keys=True).encode("utf-8") + b"\n"
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)
        self.holder = holder

    def release(self) -> None:
        """Empty the record and unlock (a no-op when not held)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)
        except OSError as exc:
            logger.warning("event=lock_clear_failed site=%s error=%s", self.site, exc)
        finally:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        self.holder = None

    def close(self) -> None:
        """Drop an adopted lock without clearing it (the parent clears it when it ends)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
