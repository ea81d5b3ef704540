"""`archiver crawl --site NAME | --all | URL...`: run sites, with exit codes for cron.

With URLs instead of sites, each host given is crawled as an implicit site named after it
(archiver.operations.adhoc): no sites file and no project directory are needed, and a
second crawl of the host uses its capture history as a scheduled crawl does.

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

import click

from archiver.commands._base import (
    EXIT_FAILURE,
    EXIT_OK,
    ConfigurationError,
    Context,
    pass_context,
)
from archiver.operations import (
    PROGRESS_NAME,
    AdhocLimits,
    CrawlChildren,
    LiveLines,
    SiteConfig,
    SiteDir,
    SiteResult,
    SitesError,
    group_by_host,
    load_sites,
    run_site,
    write_adhoc_site,
)


@click.command("crawl")
@click.argument("urls", nargs=-1, metavar="[URL]...")
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
@click.option("--max-pages", type=click.IntRange(1), help="With URLs: at most N pages.")
@click.option(
    "--max-depth", type=click.IntRange(0), help="With URLs: link hops from the start URLs."
)
@click.option(
    "--since", metavar="DATE", help="With URLs: articles published from this date (YYYY-MM-DD)."
)
@click.option(
    "--allowed-domains",
    metavar="A,B",
    help="With URLs: domains to stay on (default: the hosts of the URLs).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON report on stdout.")
@pass_context
def command(
    ctx: Context,
    urls: tuple[str, ...],
    names: tuple[str, ...],
    all_sites: bool,
    parallel: int | None,
    wait: float,
    max_pages: int | None,
    max_depth: int | None,
    since: str | None,
    allowed_domains: str | None,
    as_json: bool,
) -> int:
    """Crawl URLs or sites of the sites file; exit 0 ok, 1 problems, 2 bad config.

    --site and --all take sites of the sites file (ARCHIVER_SITES_FILE).

    With URLs (one or more), each host is crawled as a site named after it, from any
    directory; --max-pages, --max-depth, --since and --allowed-domains are the spider's
    -a max_pages=, max_depth=, since= and allowed_domains=.
    """
    if sum((bool(urls), bool(names), all_sites)) != 1:
        raise click.UsageError("give --site NAME (one or more), --all, or the URLs to crawl")
    limits = AdhocLimits(
        max_pages=max_pages,
        max_depth=max_depth,
        since=since,
        allowed_domains=tuple(
            d.strip().lower() for d in (allowed_domains or "").split(",") if d.strip()
        ),
    )
    if not urls and limits != AdhocLimits():
        raise click.UsageError(
            "--max-pages, --max-depth, --since and --allowed-domains go with URLs; "
            "a site's limits are in the sites file"
        )
    settings = ctx.settings
    spool_dir = str(settings.get("ARCHIVER_WARC_DIR") or "").strip()
    if not spool_dir:
        raise ConfigurationError("ARCHIVER_WARC_DIR is empty: no spool to crawl into")
    spool_root = Path(spool_dir).resolve()
    # (site, its sites file); ad-hoc sites files are removed after the run.
    selected: list[tuple[SiteConfig, Path]] = []
    written: list[Path] = []
    try:
        if urls:
            for name, site_urls in group_by_host(urls).items():
                site, path = write_adhoc_site(spool_root, name, site_urls, limits)
                written.append(path)
                selected.append((site, path))
        else:
            sites_file = Path(str(settings.get("ARCHIVER_SITES_FILE"))).resolve()
            sites = load_sites(sites_file)
            chosen = [sites.get(n) for n in dict.fromkeys(names)] if names else sites.enabled()
            if not chosen:
                raise ConfigurationError(f"{sites_file}: no enabled site to crawl")
            selected = [(site, sites_file) for site in chosen]
    except SitesError as exc:
        for path in written:
            path.unlink(missing_ok=True)
        raise (click.UsageError if urls else ConfigurationError)(str(exc)) from None
    try:
        return _crawl(ctx, selected, spool_root, parallel, wait, as_json)
    finally:
        for path in written:
            path.unlink(missing_ok=True)


def _crawl(
    ctx: Context,
    selected: list[tuple[SiteConfig, Path]],
    spool_root: Path,
    parallel: int | None,
    wait: float,
    as_json: bool,
) -> int:
    settings = ctx.settings
    try:
        workers = parallel or max(1, settings.getint("ARCHIVER_CRAWL_PARALLEL", 1))
    except (TypeError, ValueError):
        raise ConfigurationError("ARCHIVER_CRAWL_PARALLEL must be a whole number") from None

    children = CrawlChildren()
    previous_handlers = {
        signum: signal.signal(signum, lambda s, _f: children.stop(s))
        for signum in (signal.SIGTERM, signal.SIGINT)
    }
    live: LiveLines | None = None
    progress: dict[str, Path] = {}
    if not as_json and sys.stderr.isatty():
        for site, _file in selected:
            progress[site.name] = SiteDir.of(spool_root, site.name).root / PROGRESS_NAME
            progress[site.name].parent.mkdir(parents=True, exist_ok=True)
            progress[site.name].unlink(missing_ok=True)
        live = LiveLines(dict(progress))
        live.start()
    results: list[SiteResult] = []
    started = time.monotonic()
    try:
        with ThreadPoolExecutor(min(workers, len(selected)), thread_name_prefix="crawl") as pool:
            futures = [
                pool.submit(
                    run_site,
                    site,
                    spool_root=spool_root,
                    sites_file=sites_file,
                    overrides=_site_overrides(ctx.overrides, spool_root, progress.get(site.name)),
                    wait=wait,
                    children=children,
                )
                for site, sites_file in selected
            ]
            for future in futures:
                result = future.result()
                results.append(result)
                if live is not None:
                    live.site_done(result.site)
                if not as_json:
                    # Rich shows these above its live lines while those are on screen.
                    click.echo(result.line())
    finally:
        if live is not None:
            live.stop()
        for path in progress.values():
            path.unlink(missing_ok=True)
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)
    if children.stopping is not None:
        code = 128 + children.stopping
    elif any(r.failed for r in results):
        code = EXIT_FAILURE
    else:
        code = EXIT_OK
    if not as_json and not str(settings.get("ARCHIVER_S3_BUCKET") or "").strip():
        click.echo(
            f"upload was off (ARCHIVER_S3_BUCKET is empty): the WARC files stay in {spool_root}; "
            "set the bucket and run `archiver upload` to store them",
            err=True,
        )
    if as_json:
        doc = {
            "exit_code": code,
            "seconds": round(time.monotonic() - started, 3),
            "sites": [r.to_json() for r in results],
        }
        click.echo(json.dumps(doc, indent=2, sort_keys=True, default=str))
    return code


def _site_overrides(
    overrides: tuple[str, ...], spool_root: Path, progress: Path | None
) -> tuple[str, ...]:
    # The spool as resolved here, so the crawl writes where this command looks.
    extra: tuple[str, ...] = (f"ARCHIVER_WARC_DIR={spool_root}",)
    if progress is not None:
        extra += (f"ARCHIVER_PROGRESS_FILE={progress}",)
    return (*overrides, *extra)
