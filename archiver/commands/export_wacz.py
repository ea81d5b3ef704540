"""`archiver export-wacz`: one crawl, or a site between two dates, as a WACZ 1.1.1 file.

--crawl packs the crawl's WARCs whole; --site/--from/--to finds the site's captures in the
archive-wide index and cuts just those records out of the stored WARCs with Range reads.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from archiver.access import (
    ArchiveDamage,
    Progress,
    export_slice,
    export_wacz,
    iter_progress_total,
    select_crawls,
    select_site_slice,
)
from archiver.commands._base import (
    EXIT_FAILURE,
    EXIT_OK,
    Context,
    check_slice_options,
    pass_context,
    slice_options,
    usage_errors,
)
from archiver.commands._errors import one_line


@click.command("export-wacz")
@slice_options
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The .wacz file to write.",
)
@click.option(
    "--title", default="", help="Title in datapackage.json (default: the crawl ids or the slice)."
)
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
    """Package a crawl's WARCs, or a site's captures cut from them, as WACZ.

    --crawl takes the crawl's WARCs whole. --site with --from/--to takes the site's
    captures in the window (with their request and metadata records and each revisit's
    original), read with Range requests from the stored WARCs.
    """
    if output.suffix != ".wacz":
        raise click.UsageError(f"{output}: the output file name must end in .wacz")
    check_slice_options(crawl_id, site, since, until)
    try:
        if crawl_id is None and site is not None and since and until:
            with usage_errors():
                index, chosen = select_site_slice(ctx.settings, site, since, until)
            if not chosen.captures:
                click.echo(
                    f"no capture of {site} between {since} and {until} in the index", err=True
                )
                return EXIT_FAILURE
            total = sum(s.length for s in chosen.spans())
            bar = Progress(not as_json and sys.stderr.isatty(), total, "cutting", in_bytes=True)
            try:
                report = export_slice(index, chosen, output, title=title, advance=bar.advance)
            finally:
                bar.stop()
        else:
            with usage_errors():
                index, crawls = select_crawls(ctx.settings, crawl_id, site, since, until)
            if not crawls:
                click.echo("no complete crawl matches", err=True)
                return EXIT_FAILURE
            total = iter_progress_total(crawls)
            bar = Progress(not as_json and sys.stderr.isatty(), total, "packing", in_bytes=True)
            try:
                report = export_wacz(index, crawls, output, title=title, advance=bar.advance)
            finally:
                bar.stop()
    except (ArchiveDamage, json.JSONDecodeError, UnicodeDecodeError):
        raise  # damaged data in storage: the error layer words it
    except ValueError as exc:
        click.echo(f"Error: {one_line(exc)}", err=True)
        return EXIT_FAILURE
    for url in report.missing_originals:
        click.echo(f"warning: no original in the index for the revisit of {url}", err=True)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        click.echo(
            f"wrote {output}: {len(report.warcs)} WARC(s), {report.captures} capture(s), "
            f"{report.pages} page(s), {report.size} bytes, sha256 {report.sha256}"
        )
    return EXIT_OK
