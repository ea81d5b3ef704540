"""`archiver export-wacz`: one crawl, or a site between two dates, as a WACZ 1.1.1 file."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from archiver.cli import EXIT_FAILURE, EXIT_OK, Context, pass_context
from archiver.commands.fetch import select_crawls
from archiver.retrieve import Progress, iter_progress_total
from archiver.wacz import export_wacz


@click.command("export-wacz")
@click.option("--crawl", "crawl_id", metavar="ID", help="One crawl.")
@click.option("--site", metavar="HOST", help="Crawls with a start URL on this host or domain.")
@click.option("--from", "since", metavar="DATE", help="First crawl date (with --site).")
@click.option("--to", "until", metavar="DATE", help="Last crawl date (with --site).")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The .wacz file to write.",
)
@click.option("--title", default="", help="Title in datapackage.json (default: the crawl ids).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON report.")
@pass_context
def command(
    ctx: Context,
    crawl_id: str | None,
    site: str | None,
    since: str | None,
    until: str | None,
    output: Path,
    title: str,
    as_json: bool,
) -> int:
    """Package a slice's WARCs with a CDXJ index and pages.jsonl (titles and text) as WACZ."""
    if output.suffix != ".wacz":
        raise click.UsageError(f"{output}: the output file name must end in .wacz")
    index, crawls = select_crawls(ctx, crawl_id, site, since, until)
    if not crawls:
        click.echo("no complete crawl matches", err=True)
        return EXIT_FAILURE
    bar = Progress(
        not as_json and sys.stderr.isatty(), iter_progress_total(crawls), "packing", in_bytes=True
    )
    try:
        report = export_wacz(index, crawls, output, title=title, advance=bar.advance)
    except ValueError as exc:
        click.echo(f"Error: {exc}", err=True)
        return EXIT_FAILURE
    finally:
        bar.stop()
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        click.echo(
            f"wrote {output}: {len(report.warcs)} WARC(s), {report.captures} capture(s), "
            f"{report.pages} page(s), {report.size} bytes, sha256 {report.sha256}"
        )
    return EXIT_OK
