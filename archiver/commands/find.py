"""`archiver find URL`: captures of a URL, its prefix, host or domain, from the archive-wide index."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from archiver.access import citation, find, open_archive
from archiver.commands._base import EXIT_FAILURE, EXIT_OK, Context, pass_context, usage_errors
from archiver.index import MATCH_TYPES


@click.command("find")
@click.argument("url")
@click.option("--from", "since", metavar="DATE", help="Captures from this date or timestamp on.")
@click.option("--to", "until", metavar="DATE", help="Captures up to this date or timestamp.")
@click.option(
    "--match",
    type=click.Choice(MATCH_TYPES),
    default="exact",
    show_default=True,
    help="The URL itself, every URL starting with it, its host, or its domain and subdomains.",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most N captures.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines, one capture each.")
@pass_context
def command(
    ctx: Context,
    url: str,
    since: str | None,
    until: str | None,
    match: str,
    limit: int | None,
    as_json: bool,
) -> int:
    """List captures of URL, oldest first; exit 1 when there are none."""
    with usage_errors():
        _cfg, _client, index = open_archive(ctx.settings)
        captures = find(index, url, match=match, since=since, until=until, limit=limit)
    if as_json:
        for capture in captures:
            click.echo(json.dumps(citation(capture), ensure_ascii=False))
    elif captures:
        table = Table(show_edge=False, pad_edge=False)
        for column in ("timestamp", "status", "digest", "title", "url", "file", "offset", "length"):
            table.add_column(column, overflow="fold")
        for capture in captures:
            table.add_row(
                capture.timestamp,
                capture.get("status") or "-",
                capture.get("digest") or "-",
                capture.get("title") or "",
                capture.url,
                capture.filename,
                str(capture.offset),
                str(capture.length),
            )
        Console(soft_wrap=False, width=250).print(table)
    if not captures:
        click.echo(f"no captures of {url} ({match} match)", err=True)
        return EXIT_FAILURE
    return EXIT_OK
