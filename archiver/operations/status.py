"""What `archiver status` reports: each site's last run, lock holder, resumable crawl and
capture history, read from its state in the spool, and the files the spool holds crawl by crawl.

The command prints the report and turns its problems into an exit code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from archiver.operations.history import CaptureHistory, HistoryError
from archiver.operations.locks import read_holder
from archiver.operations.sitedir import SiteDir, read_job
from archiver.spool import iter_crawl_dirs, spool_size


def site_status(site_dir: SiteDir, *, configured: bool, enabled: bool) -> dict[str, Any]:
    """What the spool knows of one site, and its problems."""
    problems: list[str] = []
    runs = site_dir.read_runs(1)
    last = runs[-1] if runs else None
    if last and last.get("problems"):
        problems += [f"last_run:{p}" for p in last["problems"]]
    holder = read_holder(site_dir.lock_path)
    lock: dict[str, Any] | None = None
    if holder is not None:
        alive = holder.alive()
        lock = {**holder.to_json(), "alive": alive, "describe": holder.describe()}
        if alive is False:
            problems.append("stale_lock")
    job = read_job(site_dir.job_dir)
    pending: dict[str, Any] | None = None
    if job is not None:
        pending = job.to_json()
        running_now = lock is not None and lock["alive"] is not False
        if not running_now:
            # A crawl stopped or killed midway: the next run resumes it.
            problems.append(f"interrupted_crawl:{job.crawl_id}")
    history: dict[str, Any] | None = None
    if site_dir.history_path.exists():
        try:
            history = CaptureHistory(site_dir.history_path).counts()
            history["bytes"] = site_dir.history_path.stat().st_size
        except HistoryError as exc:
            history = {"error": str(exc)}
            problems.append("history_unreadable")
    return {
        "site": site_dir.site,
        "configured": configured,
        "enabled": enabled,
        "last_run": last,
        "lock": lock,
        "pending_crawl": pending,
        "history": history,
        "problems": problems,
    }


def spool_status(spool_root: Path) -> dict[str, Any]:
    """Files waiting for upload and files still open, crawl by crawl, and the spool size."""
    crawls = []
    waiting_files = waiting_bytes = 0
    for crawl in iter_crawl_dirs(spool_root):
        pending = crawl.pending_uploads()
        open_files = crawl.open_files()
        if not pending and not open_files:
            continue
        size = 0
        for path in pending:
            try:
                size += path.stat().st_size
            except FileNotFoundError:
                continue
        waiting_files += len(pending)
        waiting_bytes += size
        crawls.append(
            {
                "crawl_id": crawl.info.crawl_id,
                "site": crawl.info.site,
                "finished": crawl.info.finished.isoformat() if crawl.info.finished else None,
                "waiting_files": [p.name for p in pending],
                "waiting_bytes": size,
                "open_files": [p.name for p in open_files],
            }
        )
    return {
        "root": str(spool_root),
        "bytes": spool_size(spool_root),
        "waiting_files": waiting_files,
        "waiting_bytes": waiting_bytes,
        "crawls": crawls,
    }
