"""`archiver ls`: the crawls in storage and their files, by site and date."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from archiver.access import list_stored_crawls, open_archive, other_prefixes
from archiver.commands._base import EXIT_OK, Context, pass_context, usage_errors


@click.command("ls")
@click.option("--site", metavar="HOST", help="Only crawls with a start URL on this host or domain.")
@click.option("--from", "since", metavar="DATE", help="Crawls started on or after this date.")
@click.option("--to", "until", metavar="DATE", help="Crawls started on or before this date.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON document.")
@pass_context
def command(
    ctx: Context, site: str | None, since: str | None, until: str | None, as_json: bool
) -> int:
    """List crawls in ARCHIVER_S3_BUCKET with their WARC files, sizes and record counts."""
    with usage_errors():
        _cfg, _client, index = open_archive(ctx.settings)
        crawls = list_stored_crawls(index, site=site, since=since, until=until)
    if as_json:
        click.echo(json.dumps({"crawls": [c.to_json() for c in crawls]}, indent=2))
        return EXIT_OK
    console = Console(soft_wrap=False, width=200)
    for crawl in crawls:
        state = "" if crawl.manifest is not None else "  (incomplete: no manifest in storage)"
        console.print(
            f"[bold]{crawl.date} {crawl.crawl_id}[/bold]  {' '.join(crawl.start_urls)}{state}"
        )
        table = Table(show_edge=False, pad_edge=False, box=None)
        for column in ("file", "bytes", "records", "first", "last"):
            table.add_column(column)
        for entry in crawl.files:
            records = entry.get("records") or {}
            table.add_row(
                str(entry.get("name")),
                str(entry.get("size")),
                str(sum(int(v) for v in records.values())),
                str(entry.get("first_date") or ""),
                str(entry.get("last_date") or ""),
            )
        if crawl.manifest is None:
            for key in crawl.keys:
                table.add_row(key.rsplit("/", 1)[-1], "", "", "", "")
        console.print(table)
    click.echo(f"{len(crawls)} crawl(s)", err=True)
    if not crawls and not (site or since or until):
        with usage_errors():
            elsewhere = other_prefixes(index)
        where = f"s3://{index.bucket}/{index.prefix.strip('/')}/"
        if elsewhere:
            hint = ", ".join(f"ARCHIVER_S3_PREFIX={name}" for name in elsewhere)
            click.echo(
                f"nothing under {where}; the bucket has other prefixes: try {hint}", err=True
            )
        else:
            click.echo(f"nothing under {where}: the bucket holds no crawls yet", err=True)
    return EXIT_OK
