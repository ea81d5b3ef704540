"""`archiver status`: the last run of each site, lock holders, resumable crawls, the spool."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from archiver.commands._base import (
    EXIT_FAILURE,
    EXIT_OK,
    ConfigurationError,
    Context,
    human_size,
    pass_context,
)
from archiver.operations import (
    SiteDir,
    SitesError,
    iter_site_dirs,
    load_sites,
    site_status,
    spool_status,
)


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
        f"spool {spool['root']}: {human_size(spool['bytes'])}; waiting for upload: "
        f"{spool['waiting_files']} file(s), {human_size(spool['waiting_bytes'])}"
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
