"""`archiver crawl --site NAME | --all`: run sites of the sites file, with exit codes for cron.

Each site runs as its own `scrapy crawl news -a site=NAME` process, at most
ARCHIVER_CRAWL_PARALLEL (or --parallel) at once.  This command takes the site's lock
first and hands it to the crawl, so a run that finds the previous one still going says
so and exits 0.  `scrapy crawl` itself always exits 0 once a crawl ran; this command
reads the crawl's own verdict (stats.json, run log) and exits 1 when something needs a
look: uploads left waiting, a site that usually yields articles yielding none, too many
failed requests, a crawl that died.  docs/operations.md has the details.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from archiver.commands._base import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, Context, pass_context
from archiver.crawler.runtime import LOCK_FD_ENV
from archiver.operations import AlreadyRunning, SiteConfig, SiteLock, SitesError, load_sites
from archiver.spool import SiteDir, read_json_lines

# Logs of the last runs of each site kept in {spool}/_sites/{site}/logs/.
LOGS_KEPT = 50


class ConfigurationError(click.ClickException):
    """A sites file or setting that makes the run impossible (exit code 2)."""

    exit_code = EXIT_USAGE


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
                f"uploads_waiting={len((run.get('uploads') or {}).get('waiting') or [])}",
                f"seconds={(run.get('durations') or {}).get('run_seconds')}",
            ]
        if self.failed and self.log:
            parts.append(f"log={self.log}")
        return " ".join(parts)


class _Children:
    """The crawl processes running now, so a stop request reaches each of them once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._procs: dict[int, subprocess.Popen[bytes]] = {}
        self.stopping: int | None = None

    def add(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._procs[proc.pid] = proc
            if self.stopping is not None:
                proc.send_signal(signal.SIGTERM)

    def remove(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._procs.pop(proc.pid, None)

    def stop(self, signum: int) -> None:
        # Scrapy stops gracefully on the first SIGTERM (a second one forces it): send one.
        with self._lock:
            first = self.stopping is None
            self.stopping = signum
            procs = list(self._procs.values()) if first else []
        for proc in procs:
            proc.send_signal(signal.SIGTERM)


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
    children: _Children,
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


def _progress(enabled: bool, total: int) -> Any:
    if not enabled:
        return None
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    )
    bar.add_task("crawling", total=total)
    bar.start()
    return bar


@click.command("crawl")
@click.option(
    "--site", "names", multiple=True, metavar="NAME", help="A site of the sites file (repeatable)."
)
@click.option("--all", "all_sites", is_flag=True, help="Every enabled site of the sites file.")
@click.option(
    "--parallel",
    type=click.IntRange(1, 64),
    default=None,
    help="Sites crawled at once (default: ARCHIVER_CRAWL_PARALLEL).",
)
@click.option(
    "--wait",
    type=click.FloatRange(0),
    default=0.0,
    show_default=True,
    help="Seconds to wait for a site whose previous run is still going (0: report it and go on).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON report on stdout.")
@pass_context
def command(
    ctx: Context,
    names: tuple[str, ...],
    all_sites: bool,
    parallel: int | None,
    wait: float,
    as_json: bool,
) -> int:
    """Crawl sites of the sites file (ARCHIVER_SITES_FILE); exit 0 ok, 1 problems, 2 bad config."""
    if bool(names) == all_sites:
        raise click.UsageError("give --site NAME (one or more) or --all")
    settings = ctx.settings
    try:
        sites_file = Path(str(settings.get("ARCHIVER_SITES_FILE"))).resolve()
        sites = load_sites(sites_file)
        selected = [sites.get(n) for n in dict.fromkeys(names)] if names else sites.enabled()
    except SitesError as exc:
        raise ConfigurationError(str(exc)) from None
    if not selected:
        raise ConfigurationError(f"{sites_file}: no enabled site to crawl")
    spool_dir = str(settings.get("ARCHIVER_WARC_DIR") or "").strip()
    if not spool_dir:
        raise ConfigurationError("ARCHIVER_WARC_DIR is empty: no spool to crawl into")
    try:
        workers = parallel or max(1, settings.getint("ARCHIVER_CRAWL_PARALLEL", 1))
    except (TypeError, ValueError):
        raise ConfigurationError("ARCHIVER_CRAWL_PARALLEL must be a whole number") from None

    children = _Children()
    previous_handlers = {
        signum: signal.signal(signum, lambda s, _f: children.stop(s))
        for signum in (signal.SIGTERM, signal.SIGINT)
    }
    bar = _progress(not as_json and sys.stderr.isatty(), len(selected))
    results: list[SiteResult] = []
    started = time.monotonic()
    try:
        with ThreadPoolExecutor(min(workers, len(selected)), thread_name_prefix="crawl") as pool:
            futures = [
                pool.submit(
                    run_site,
                    site,
                    spool_root=Path(spool_dir),
                    sites_file=sites_file,
                    overrides=ctx.overrides,
                    wait=wait,
                    children=children,
                )
                for site in selected
            ]
            for future in futures:
                result = future.result()
                results.append(result)
                if bar is not None:
                    bar.advance(bar.task_ids[0])
                if not as_json:
                    # Rich shows these above its progress bar while that is on screen.
                    click.echo(result.line())
    finally:
        if bar is not None:
            bar.stop()
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)
    if children.stopping is not None:
        code = 128 + children.stopping
    elif any(r.failed for r in results):
        code = EXIT_FAILURE
    else:
        code = EXIT_OK
    if as_json:
        doc = {
            "exit_code": code,
            "seconds": round(time.monotonic() - started, 3),
            "sites": [r.to_json() for r in results],
        }
        click.echo(json.dumps(doc, indent=2, sort_keys=True, default=str))
    return code
