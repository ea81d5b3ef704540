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
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import click

from archiver.commands._base import (
    EXIT_FAILURE,
    EXIT_OK,
    ConfigurationError,
    Context,
    pass_context,
)
from archiver.operations import CrawlChildren, SiteResult, SitesError, load_sites, run_site


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

    children = CrawlChildren()
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
