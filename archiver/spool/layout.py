"""The local spool: one directory per crawl holding its WARCs and sidecar files until upload."""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

logger = logging.getLogger(__name__)

CRAWL_FILE = "crawl.json"
OPEN_SUFFIX = ".open"
WARC_SUFFIX = ".warc.gz"
# Uploaded after everything else: their presence in the bucket means the crawl is complete.
FINAL_FILES = ("manifest.json", "stats.json")
# Writers create files under these names and rename them when done; they are never uploaded.
_IN_PROGRESS_SUFFIXES = (OPEN_SUFFIX, ".tmp", ".part")

_SPIDER_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
# Spider names are short identifiers; the bound keeps crawl ids well inside path and key limits.
_MAX_SPIDER_LEN = 64


class SpoolError(ValueError):
    """A crawl directory that cannot be read (missing or malformed crawl.json)."""


def _utc(when: datetime) -> datetime:
    """The same instant in UTC; a naive datetime is taken to be UTC already."""
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def _iso(when: datetime) -> str:
    return _utc(when).isoformat().replace("+00:00", "Z")


def _parse_iso(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise SpoolError(f"{name} must be an ISO 8601 string, got {value!r}")
    try:
        return _utc(datetime.fromisoformat(value))
    except ValueError:
        raise SpoolError(f"{name} is not an ISO 8601 date: {value!r}") from None


@dataclass
class CrawlInfo:
    """What crawl.json records about one crawl."""

    crawl_id: str
    spider: str
    started: datetime
    finished: datetime | None = None
    start_urls: list[str] = field(default_factory=list)
    # The sites-file site this crawl is of (None for a crawl of URLs given by hand).
    site: str | None = None

    @property
    def crawl_date(self) -> str:
        """UTC date the crawl started, as YYYY-MM-DD (the date part of storage keys)."""
        return _utc(self.started).strftime("%Y-%m-%d")

    def to_json(self) -> dict[str, Any]:
        """The crawl.json document."""
        doc: dict[str, Any] = {
            "crawl_id": self.crawl_id,
            "spider": self.spider,
            "started": _iso(self.started),
            "finished": _iso(self.finished) if self.finished is not None else None,
            "start_urls": list(self.start_urls),
        }
        if self.site is not None:
            doc["site"] = self.site
        return doc

    @classmethod
    def from_json(cls, doc: Any) -> Self:
        """Parse a crawl.json document, raising SpoolError when it is malformed."""
        if not isinstance(doc, dict):
            raise SpoolError("crawl.json must hold a JSON object")
        crawl_id = doc.get("crawl_id")
        spider = doc.get("spider")
        if not isinstance(crawl_id, str) or not crawl_id:
            raise SpoolError(f"crawl_id must be a non-empty string, got {crawl_id!r}")
        if not isinstance(spider, str):
            raise SpoolError(f"spider must be a string, got {spider!r}")
        finished_raw = doc.get("finished")
        start_urls = doc.get("start_urls", [])
        if not isinstance(start_urls, list) or not all(isinstance(u, str) for u in start_urls):
            raise SpoolError("start_urls must be a list of strings")
        site = doc.get("site")
        if site is not None and not isinstance(site, str):
            raise SpoolError(f"site must be a string, got {site!r}")
        return cls(
            crawl_id=crawl_id,
            spider=spider,
            started=_parse_iso(doc.get("started"), "started"),
            finished=None if finished_raw is None else _parse_iso(finished_raw, "finished"),
            start_urls=start_urls,
            site=site,
        )


def new_crawl_id(spider: str, now: datetime) -> str:
    """A fresh crawl id, "{spider}-{YYYYMMDDTHHMMSSZ}-{6 hex}", safe as a path and key part."""
    name = _SPIDER_UNSAFE.sub("-", spider).strip("-.")[:_MAX_SPIDER_LEN] or "crawl"
    return f"{name}-{_utc(now).strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


def _write_json_atomic(path: Path, doc: dict[str, Any]) -> None:
    """Write JSON so that readers see either the old file or the whole new one."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(doc, out, indent=2, ensure_ascii=False)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _is_in_progress(name: str) -> bool:
    return name.startswith(".") or name.endswith(_IN_PROGRESS_SUFFIXES)


def _upload_rank(name: str) -> int:
    if name.endswith(WARC_SUFFIX):
        return 0
    if name in FINAL_FILES:
        return 2
    return 1


class CrawlDir:
    """One crawl's spool directory: crawl.json, WARCs being written, closed WARCs, sidecars."""

    def __init__(self, root: Path, info: CrawlInfo) -> None:
        self.root = root
        self.info = info

    def __repr__(self) -> str:
        return f"CrawlDir({str(self.root)!r})"

    @classmethod
    def create(cls, spool_root: Path, info: CrawlInfo) -> Self:
        """Make the directory for a new crawl and write its crawl.json."""
        if not info.crawl_id or info.crawl_id in {".", ".."} or "/" in info.crawl_id:
            raise SpoolError(f"crawl id {info.crawl_id!r} cannot be a directory name")
        root = Path(spool_root) / info.crawl_id
        root.mkdir(parents=True, exist_ok=False)
        _write_json_atomic(root / CRAWL_FILE, info.to_json())
        return cls(root, info)

    @classmethod
    def load(cls, path: Path) -> Self:
        """Read an existing crawl directory, raising SpoolError when crawl.json is unusable."""
        root = Path(path)
        try:
            doc = json.loads((root / CRAWL_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SpoolError(f"{root} has no {CRAWL_FILE}") from None
        except (OSError, ValueError) as exc:
            raise SpoolError(f"cannot read {root / CRAWL_FILE}: {exc}") from None
        return cls(root, CrawlInfo.from_json(doc))

    @property
    def warc_dir(self) -> Path:
        """Where the crawl's WARC files are written (the crawl directory itself)."""
        return self.root

    def mark_finished(self, when: datetime) -> None:
        """Record the end of the crawl in crawl.json."""
        self.info.finished = _utc(when)
        _write_json_atomic(self.root / CRAWL_FILE, self.info.to_json())

    def _files(self) -> list[Path]:
        try:
            return [p for p in self.root.iterdir() if p.is_file()]
        except FileNotFoundError:
            return []

    def pending_uploads(self) -> list[Path]:
        """Files ready to upload: closed WARCs, then sidecars, then manifest.json/stats.json."""
        ready = [p for p in self._files() if p.name != CRAWL_FILE and not _is_in_progress(p.name)]
        return sorted(ready, key=lambda p: (_upload_rank(p.name), p.name))

    def open_files(self) -> list[Path]:
        """Files still being written (*.open): not uploadable until their writer closes them."""
        return sorted(p for p in self._files() if p.name.endswith(OPEN_SUFFIX))

    def remove_if_drained(self) -> bool:
        """Delete the directory of a finished crawl once only crawl.json is left in it."""
        if self.info.finished is None:
            return False
        try:
            leftovers = [p.name for p in self.root.iterdir() if p.name != CRAWL_FILE]
        except FileNotFoundError:
            return False
        if leftovers:
            return False
        (self.root / CRAWL_FILE).unlink(missing_ok=True)
        try:
            self.root.rmdir()
        except OSError:
            # A writer put something here after the check; keep the directory and its file.
            logger.warning("crawl directory %s is no longer empty; keeping it", self.root)
            if not (self.root / CRAWL_FILE).exists():
                _write_json_atomic(self.root / CRAWL_FILE, self.info.to_json())
            return False
        logger.info("removed drained crawl directory %s", self.root)
        return True


def iter_crawl_dirs(spool_root: Path) -> Iterator[CrawlDir]:
    """Every crawl directory in the spool, in name order; unreadable ones are logged and skipped."""
    root = Path(spool_root)
    if not root.is_dir():
        return
    for child in sorted(root.iterdir()):
        if not child.is_dir() or not (child / CRAWL_FILE).exists():
            continue
        try:
            yield CrawlDir.load(child)
        except SpoolError as exc:
            logger.warning("skipping crawl directory %s: %s", child, exc)


def spool_size(spool_root: Path) -> int:
    """Total size in bytes of the regular files under the spool root."""
    total = 0
    root = Path(spool_root)
    if not root.is_dir():
        return 0
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except FileNotFoundError:
                continue
    return total


# --- sites: lock, capture history, resumable job, run log ----------------------------------

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
            "started": _iso(self.started),
            "updated": _iso(self.updated),
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
            started=_parse_iso(doc.get("started"), "started"),
            updated=_parse_iso(doc.get("updated"), "updated"),
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
    _write_json_atomic(job_dir / JOB_FILE, state.to_json())
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
        _write_json_atomic(job_dir / JOB_FILE, state.to_json())


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
