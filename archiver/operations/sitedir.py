"""Per-site operations state in the spool: {spool}/_sites/{site}/ holds the site's lock, its
capture history, the resumable job of its current crawl with that crawl's journal, and the
log of its runs.

Sits beside the crawl directories (archiver.spool) but belongs to running crawls as a
service: storage and index never read it.  How resuming works is in docs/operations.md.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Self

from archiver.spool import SpoolError, format_iso, parse_iso, write_json_atomic

logger = logging.getLogger(__name__)

# Beside the crawl directories; its name cannot be a crawl id (those never start with "_").
SITES_DIR = "_sites"
HISTORY_FILE = "history.sqlite3"
JOB_FILE = "archiver-job.json"
JOURNAL_FILE = "journal.jsonl"
RUNS_FILE = "runs.jsonl"
# Scrapy's own job files: after an unclean stop they no longer match what was archived.
SCRAPY_JOB_STATE = ("requests.queue", "requests.seen", "spider.state")

JOB_RUNNING = "running"
JOB_STOPPED = "stopped"


@dataclass(frozen=True)
class SiteDir:
    """A site's state in the spool: {spool}/_sites/{site}/ (lock, history, job, run log)."""

    root: Path
    site: str

    @classmethod
    def of(cls, spool_root: Path, site: str) -> Self:
        """The directory of one site (not created)."""
        if not site or "/" in site or site.startswith("."):
            raise SpoolError(f"site name {site!r} cannot be a directory name")
        return cls(Path(spool_root) / SITES_DIR / site, site)

    @property
    def lock_path(self) -> Path:
        """The site's lock file (archiver.operations.locks)."""
        return self.root / "lock"

    @property
    def history_path(self) -> Path:
        """The site's capture history (archiver.operations.history)."""
        return self.root / HISTORY_FILE

    @property
    def job_dir(self) -> Path:
        """Scrapy's JOBDIR for the site's current crawl, with the crawl's journal."""
        return self.root / "job"

    @property
    def runs_path(self) -> Path:
        """One JSON line per finished run: what `archiver status` and `archiver crawl` read."""
        return self.root / RUNS_FILE

    @property
    def logs_dir(self) -> Path:
        """Logs of runs started by `archiver crawl`."""
        return self.root / "logs"

    def read_runs(self, last: int | None = None) -> list[dict[str, Any]]:
        """The recorded runs, oldest first (the last `last` ones)."""
        runs = read_json_lines(self.runs_path)
        return runs[-last:] if last else runs

    def append_run(self, run: dict[str, Any]) -> None:
        """Add one run's summary to the run log."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.runs_path, "a", encoding="utf-8") as out:
            out.write(json.dumps(run, sort_keys=True, default=str) + "\n")


def iter_site_dirs(spool_root: Path) -> Iterator[SiteDir]:
    """Every site with state in the spool, in name order."""
    root = Path(spool_root) / SITES_DIR
    if not root.is_dir():
        return
    for child in sorted(root.iterdir()):
        if child.is_dir() and not child.name.startswith("."):
            yield SiteDir(child, child.name)


def read_json_lines(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a file written line by line; a torn or garbled line is skipped."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return []
    out = []
    for line in data.split(b"\n"):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except ValueError:
            # The last line of a process killed while writing it; nothing after it counts.
            logger.warning("event=json_line_skipped path=%s bytes=%d", path, len(line))
            continue
        if isinstance(doc, dict):
            out.append(doc)
    return out


@dataclass
class JobState:
    """The crawl a site's job directory belongs to, and whether its last process ended cleanly."""

    crawl_id: str
    site: str
    state: str
    started: datetime
    updated: datetime
    runs: int = 1

    def to_json(self) -> dict[str, Any]:
        """The job file's document."""
        return {
            "crawl_id": self.crawl_id,
            "site": self.site,
            "state": self.state,
            "started": format_iso(self.started),
            "updated": format_iso(self.updated),
            "runs": self.runs,
        }

    @classmethod
    def from_json(cls, doc: Any) -> Self:
        """Parse a job file, raising SpoolError when it is malformed."""
        if not isinstance(doc, dict) or not isinstance(doc.get("crawl_id"), str):
            raise SpoolError("the job file must hold an object with a crawl_id")
        state = doc.get("state")
        if state not in (JOB_RUNNING, JOB_STOPPED):
            raise SpoolError(f"job state must be {JOB_RUNNING!r} or {JOB_STOPPED!r}, not {state!r}")
        return cls(
            crawl_id=doc["crawl_id"],
            site=str(doc.get("site", "")),
            state=state,
            started=parse_iso(doc.get("started"), "started"),
            updated=parse_iso(doc.get("updated"), "updated"),
            runs=int(doc.get("runs", 1)),
        )


def read_job(job_dir: Path) -> JobState | None:
    """The job directory's state, or None when there is no (readable) job."""
    path = Path(job_dir) / JOB_FILE
    try:
        return JobState.from_json(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        logger.warning("event=job_file_unreadable path=%s error=%s", path, exc)
        return None


@dataclass(frozen=True)
class JobPlan:
    """What a starting crawl of a site does: a new crawl, or one resumed, cleanly or not."""

    crawl_id: str
    resumed: bool
    # The previous process died without closing (killed, crashed, machine lost).
    unclean: bool
    runs: int


def start_job(site_dir: SiteDir, new_crawl_id: str, now: datetime) -> JobPlan:
    """Begin or resume the site's crawl in its job directory; call while holding its lock."""
    job_dir = site_dir.job_dir
    previous = read_job(job_dir)
    if previous is None:
        if job_dir.exists():
            # Leftovers without a job file cannot be matched to any crawl.
            shutil.rmtree(job_dir)
        job_dir.mkdir(parents=True)
        state = JobState(new_crawl_id, site_dir.site, JOB_RUNNING, now, now)
        plan = JobPlan(new_crawl_id, resumed=False, unclean=False, runs=1)
    else:
        unclean = previous.state == JOB_RUNNING
        if unclean:
            # Scrapy writes its queue state only when it closes, and its seen-requests file
            # through a buffer: after a kill they disagree with the archive. The crawl's own
            # journal and WARCs say what was done; the frontier is found again from them.
            for name in SCRAPY_JOB_STATE:
                path = job_dir / name
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink(missing_ok=True)
        state = JobState(
            previous.crawl_id,
            site_dir.site,
            JOB_RUNNING,
            previous.started,
            now,
            previous.runs + 1,
        )
        plan = JobPlan(previous.crawl_id, resumed=True, unclean=unclean, runs=state.runs)
    write_json_atomic(job_dir / JOB_FILE, state.to_json())
    return plan


def end_job(site_dir: SiteDir, *, finished: bool, now: datetime) -> None:
    """Close the job: gone once the crawl finished, else kept (stopped) for the next run."""
    job_dir = site_dir.job_dir
    if finished:
        shutil.rmtree(job_dir, ignore_errors=True)
        return
    state = read_job(job_dir)
    if state is not None:
        state.state = JOB_STOPPED
        state.updated = now
        write_json_atomic(job_dir / JOB_FILE, state.to_json())


class CrawlJournal:
    """The crawl's own account of what it archived, one JSON line per event (for resume).

    Lines are written by one write() each and handed to the kernel at once: a killed
    process loses at most the line it was writing, which readers skip.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._out: Any = None

    def append(self, doc: dict[str, Any]) -> None:
        """Add one event."""
        line = (json.dumps(doc, sort_keys=True, default=str) + "\n").encode("utf-8")
        with self._lock:
            if self._out is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._out = open(self.path, "ab", buffering=0)  # noqa: SIM115 - kept open
            self._out.write(line)

    def read(self) -> list[dict[str, Any]]:
        """Every complete event written so far."""
        return read_json_lines(self.path)

    def close(self) -> None:
        """Close the file (appending again reopens it)."""
        with self._lock:
            if self._out is not None:
                self._out.close()
                self._out = None


def truncate_torn_line(path: Path) -> int:
    """Cut a file written line by line after its last complete line; returns bytes cut."""
    try:
        with open(path, "r+b") as fh:
            data = fh.read()
            end = data.rfind(b"\n") + 1
            if end == len(data):
                return 0
            fh.truncate(end)
            return len(data) - end
    except FileNotFoundError:
        return 0
