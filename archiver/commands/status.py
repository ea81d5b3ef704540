"""`archiver status`: the last run of each site, lock holders, resumable crawls, the spool."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from archiver.commands._base import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, Context, pass_context
from archiver.operations import CaptureHistory, HistoryError, SitesError, load_sites, read_holder
from archiver.spool import SiteDir, iter_crawl_dirs, iter_site_dirs, read_job, spool_size


class ConfigurationError(click.ClickException):
    """A sites file that cannot be read (exit code 2)."""

    exit_code = EXIT_USAGE


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


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


def _site_cells(site: dict[str, Any]) -> dict[str, str]:
    last = site["last_run"] or {}
    pages = last.get("pages") or {}
    articles = last.get("articles") or {}
    lock = site["lock"]
    if lock is None:
        lock_text = "free"
    elif lock["alive"] is False:
        lock_text = f"STALE (dead pid {lock['pid']})"
    else:
        lock_text = f"held: {lock['describe']}"
    if site["pending_crawl"] and (lock is None or lock["alive"] is False):
        lock_text += f"; resumes {site['pending_crawl']['crawl_id']}"
    history = site["history"] or {}
    return {
        "site": site["site"] + ("" if site["enabled"] else " (off)"),
        "last run": f"{last.get('finished', '-')} {last.get('crawl_id', '')}".strip(),
        "result": ",".join(last.get("problems") or []) or ("ok" if last else "-"),
        "pages": f"{pages.get('archived', 0)} ({pages.get('revisits', 0)} revisits)"
        if last
        else "-",
        "articles": str(articles.get("seen", 0)) if last else "-",
        "lock": lock_text,
        "history": f"{history.get('urls', 0)} URLs" if "urls" in history else "-",
    }


def _print(report: dict[str, Any], table: bool) -> None:
    rows = [_site_cells(site) for site in report["sites"]]
    spool = report["spool"]
    lines = [
        f"spool {spool['root']}: {_human(spool['bytes'])}; waiting for upload: "
        f"{spool['waiting_files']} file(s), {_human(spool['waiting_bytes'])}"
    ]
    for crawl in spool["crawls"]:
        line = f"  {crawl['crawl_id']}: {len(crawl['waiting_files'])} waiting"
        if crawl["open_files"]:
            line += f", {len(crawl['open_files'])} open"
        lines.append(line)
    problems = report["problems"]
    lines.append("problems: " + (", ".join(problems) if problems else "none"))
    if not table:
        # Cron mail and log files: one line per site, nothing cut to a terminal width.
        for row in rows:
            click.echo("; ".join(f"{k}: {v}" for k, v in row.items()))
        for line in lines:
            click.echo(line)
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    view = Table(title="sites", title_justify="left")
    for column in rows[0] if rows else ("site",):
        view.add_column(column)
    for row in rows:
        view.add_row(*row.values())
    console.print(view)
    for line in lines:
        console.print(line, highlight=False)


@click.command("status")
@click.option("--site", "names", multiple=True, metavar="NAME", help="Only these sites.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON report on stdout.")
@pass_context
def command(ctx: Context, names: tuple[str, ...], as_json: bool) -> int:
    """Show each site's last run, lock and resumable crawl, and the spool; exit 1 on problems."""
    settings = ctx.settings
    spool_root = Path(str(settings.get("ARCHIVER_WARC_DIR") or "var/spool"))
    configured: dict[str, bool] = {}
    try:
        sites = load_sites(str(settings.get("ARCHIVER_SITES_FILE")))
        configured = {name: site.enabled for name, site in sites.sites.items()}
    except SitesError as exc:
        if "no such sites file" not in str(exc):
            raise ConfigurationError(str(exc)) from None
        click.echo(f"note: {exc}", err=True)
    known = {d.site: d for d in iter_site_dirs(spool_root)}
    for name in configured:
        known.setdefault(name, SiteDir.of(spool_root, name))
    if names:
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ConfigurationError(f"unknown site(s): {', '.join(unknown)}")
        known = {n: known[n] for n in names}
    report_sites = [
        site_status(known[name], configured=name in configured, enabled=configured.get(name, False))
        for name in sorted(known)
    ]
    spool = spool_status(spool_root)
    problems = [f"{s['site']}:{p}" for s in report_sites for p in s["problems"]]
    if spool["waiting_files"] and str(settings.get("ARCHIVER_S3_BUCKET") or "").strip():
        # Without a bucket the files stay in the spool by design; with one, they are late.
        problems.append(f"uploads_waiting:{spool['waiting_files']}")
    report = {"sites": report_sites, "spool": spool, "problems": problems}
    if as_json:
        click.echo(json.dumps(report, indent=2, sort_keys=True, default=str))
    else:
        _print(report, table=sys.stdout.isatty())
    return EXIT_FAILURE if problems else EXIT_OK
