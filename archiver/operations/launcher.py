"""Running one site's crawl for `archiver crawl`: take the site's lock, run `scrapy crawl news
-a site=NAME` as a child process that inherits the lock, and read the crawl's own verdict.

`scrapy crawl` itself always exits 0 once a crawl ran, so the verdict comes from the run
record the crawl appends to the site's runs.jsonl (problems such as uploads left waiting or
too many failed requests) and from how the process ended.  Scrapy runs only in the child:
this module never imports it.  docs/operations.md has the details.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archiver.operations.locks import LOCK_FD_ENV, AlreadyRunning, SiteLock
from archiver.operations.sitedir import SiteDir, read_json_lines
from archiver.operations.sites import SiteConfig

# Logs of the last runs of each site kept in {spool}/_sites/{site}/logs/.
LOGS_KEPT = 50


@dataclass
class SiteResult:
    """How one site's run went."""

    site: str
    status: str
    detail: str = ""
    crawl_id: str | None = None
    returncode: int | None = None
    problems: list[str] = field(default_factory=list)
    log: str | None = None
    run: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        """Whether this result should make the command exit non-zero."""
        return self.status not in ("ok", "already_running")

    def to_json(self) -> dict[str, Any]:
        """The --json form."""
        return {
            "site": self.site,
            "status": self.status,
            "detail": self.detail,
            "crawl_id": self.crawl_id,
            "returncode": self.returncode,
            "problems": self.problems,
            "log": self.log,
            "run": self.run,
        }

    def line(self) -> str:
        """One line for people (and cron mail)."""
        if self.status == "already_running":
            return f"{self.site}: already running: {self.detail}"
        run = self.run
        pages = run.get("pages") or {}
        articles = run.get("articles") or {}
        parts = [f"{self.site}: {self.status.upper() if self.failed else self.status}"]
        if self.problems:
            parts.append("problems=" + ",".join(self.problems))
        if self.detail:
            parts.append(self.detail)
        if self.crawl_id:
            parts.append(f"crawl={self.crawl_id}")
        if run:
            parts += [
                f"pages={pages.get('archived', 0)}",
                f"revisits={pages.get('revisits', 0)}",
                f"not_modified={pages.get('not_modified', 0)}",
                f"articles={articles.get('seen', 0)}"
                f"(new={articles.get('captured', 0)},skipped={articles.get('skipped_recent', 0)})",
                f"bytes={(run.get('bytes') or {}).get('warc', 0)}",
                f"error_rate={run.get('error_rate', 0)}",
                _uploads_part(run.get("uploads") or {}),
                f"seconds={(run.get('durations') or {}).get('run_seconds')}",
            ]
        if self.failed and self.log:
            parts.append(f"log={self.log}")
        return " ".join(parts)


def _uploads_part(uploads: dict[str, Any]) -> str:
    if uploads.get("enabled") is False:
        return "upload=off(no_bucket:files_stay_in_spool)"
    return f"uploads_waiting={len(uploads.get('waiting') or [])}"


class CrawlChildren:
    """The crawl processes running now, so a stop request reaches each of them once.

    stop() runs in a signal handler, in the main thread, between any two bytecodes, even
    inside another stop() (a second Ctrl-C): it takes no lock, which could be held by the
    very code it interrupted (Python's signal docs warn of that deadlock). Each process
    gets its SIGTERM through one atomic dict.setdefault, so never twice.
    """

    def __init__(self) -> None:
        self._procs: dict[int, subprocess.Popen[bytes]] = {}
        self._signalled: dict[int, object] = {}
        self.stopping: int | None = None

    def _terminate_once(self, proc: subprocess.Popen[bytes]) -> None:
        # Scrapy stops gracefully on the first SIGTERM (a second one forces it): send one.
        token = object()
        if self._signalled.setdefault(proc.pid, token) is token:
            proc.send_signal(signal.SIGTERM)

    def add(self, proc: subprocess.Popen[bytes]) -> None:
        """Track a started crawl; one started after a stop request is stopped at once."""
        self._procs[proc.pid] = proc
        if self.stopping is not None:
            self._terminate_once(proc)

    def remove(self, proc: subprocess.Popen[bytes]) -> None:
        """Forget a crawl that has ended."""
        self._procs.pop(proc.pid, None)

    def stop(self, signum: int) -> None:
        """Pass a stop request (the signal this command got) on to every crawl, once."""
        if self.stopping is None:
            self.stopping = signum
        for proc in list(self._procs.values()):
            self._terminate_once(proc)


def _prune_logs(logs: Path) -> None:
    old = sorted(logs.glob("*.log"))[:-LOGS_KEPT]
    for path in old:
        path.unlink(missing_ok=True)


def _crawl_command(site: str, sites_file: Path, overrides: tuple[str, ...]) -> list[str]:
    command = [sys.executable, "-m", "scrapy", "crawl", "news", "-a", f"site={site}"]
    for pair in overrides:
        command += ["-s", pair]
    # Absolute, so the crawl reads the same file whatever its working directory.
    command += ["-s", f"ARCHIVER_SITES_FILE={sites_file}"]
    return command


def run_site(
    site: SiteConfig,
    *,
    spool_root: Path,
    sites_file: Path,
    overrides: tuple[str, ...],
    wait: float,
    children: CrawlChildren,
) -> SiteResult:
    """Take the site's lock, run its crawl as a child process, and read its verdict."""
    site_dir = SiteDir.of(spool_root, site.name)
    lock = SiteLock(site_dir.lock_path, site.name)
    try:
        previous = lock.acquire(wait=wait, command=f"archiver crawl --site {site.name}")
    except AlreadyRunning as exc:
        holder = exc.holder.describe() if exc.holder else "a run that has not recorded itself yet"
        return SiteResult(site.name, "already_running", holder)
    try:
        if children.stopping is not None:
            return SiteResult(site.name, "stopped", "not started: stop requested")
        took_over = f"took over the lock of dead pid {previous.pid}" if previous else ""
        runs_before = len(read_json_lines(site_dir.runs_path))
        site_dir.logs_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        log_path = site_dir.logs_dir / f"{stamp}-{os.getpid()}.log"
        env = {**os.environ, LOCK_FD_ENV: str(lock.fd)}
        env.setdefault("SCRAPY_SETTINGS_MODULE", "archiver.settings")
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                _crawl_command(site.name, sites_file, overrides),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                pass_fds=(lock.fd,),
                # Its own session: a terminal's Ctrl-C reaches this command only, which
                # passes one SIGTERM on (a second one would force an unclean stop).
                start_new_session=True,
            )
        lock.record_child(proc.pid)
        children.add(proc)
        try:
            returncode = proc.wait()
        finally:
            children.remove(proc)
        _prune_logs(site_dir.logs_dir)
        new_runs = read_json_lines(site_dir.runs_path)[runs_before:]
        run = new_runs[-1] if new_runs else {}
        result = SiteResult(
            site.name,
            "ok",
            took_over,
            crawl_id=run.get("crawl_id"),
            returncode=returncode,
            problems=list(run.get("problems") or []),
            log=str(log_path),
            run=run,
        )
        if returncode < 0:
            result.status = "failed"
            result.problems.append(f"crawl_killed:{signal.Signals(-returncode).name}")
        elif returncode != 0:
            result.status = "failed"
            result.problems.append(f"crawl_exit:{returncode}")
        elif not run:
            result.status = "failed"
            result.problems.append("no_run_record")
        elif run.get("finish_reason") == "shutdown" and children.stopping is not None:
            result.status = "stopped"
            result.detail = "stopped on request; the next run resumes it"
        elif result.problems:
            result.status = "problem"
        return result
    finally:
        lock.release()
