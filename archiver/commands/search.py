"""`archiver search QUERY`: full-text search over the archive's article datasets."""

from __future__ import annotations

import html
import json
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any, Literal

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from archiver.commands._base import (
    EXIT_FAILURE,
    EXIT_OK,
    ConfigurationError,
    Context,
    pass_context,
    usage_errors,
)
from archiver.commands._errors import CommandError
from archiver.search import SearchIndex, SearchIndexBusy, SearchQuery
from archiver.search.query import check
from archiver.storage import S3Config, make_client

CACHE_SETTING = "ARCHIVER_SEARCH_CACHE_DIR"
_TAGS = ("<mark>", "</mark>")


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigurationError(f"{option} wants a date as YYYY-MM-DD, not {value!r}") from None


def _plain(snippet_html: str) -> str:
    """A snippet for the terminal: <mark> as [..], entities decoded."""
    return html.unescape(snippet_html.replace(_TAGS[0], "[").replace(_TAGS[1], "]"))


@click.command("search")
@click.argument("query")
@click.option("--site", metavar="SITE", help="Only this site (host without www.).")
@click.option("--from", "since", metavar="DATE", help="Published (else captured) on or after DATE.")
@click.option("--to", "until", metavar="DATE", help="Published (else captured) on or before DATE.")
@click.option("--lang", metavar="LANG", help="Only this language (en also finds en-GB).")
@click.option(
    "--author",
    metavar="NAME",
    help='Only articles by an author whose name holds these words (zola, "Emile Zola").',
)
@click.option(
    "--sort",
    type=click.Choice(["relevance", "date"]),
    default="relevance",
    show_default=True,
    help="Best matches first, or newest first.",
)
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True, help="Page.")
@click.option(
    "--per-page", type=click.IntRange(1, 200), default=20, show_default=True, help="Hits a page."
)
@click.option("--no-sync", is_flag=True, help="Search the local index without listing storage.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as one JSON object.")
@pass_context
def command(
    ctx: Context,
    query: str,
    site: str | None,
    since: str | None,
    until: str | None,
    lang: str | None,
    author: str | None,
    sort: Literal["relevance", "date"],
    page: int,
    per_page: int,
    no_sync: bool,
    as_json: bool,
) -> int:
    """Find archived articles by words and "quoted phrases"; exit 1 when nothing matches.

    The local index (ARCHIVER_SEARCH_CACHE_DIR) is first brought up to date from the
    datasets in storage, reading only new or changed ones, unless --no-sync.
    """
    wanted = SearchQuery(
        query,
        site=site,
        since=_date(since, "--from"),
        until=_date(until, "--to"),
        language=lang,
        author=author,
        sort=sort,
        page=page,
        per_page=per_page,
    )
    settings = ctx.settings
    cache = Path(str(settings.get(CACHE_SETTING) or "var/search")).expanduser().absolute()
    client: Any = None
    with usage_errors():
        check(wanted)
        if not no_sync:
            cfg = S3Config.from_settings(settings)
            if not cfg.enabled:
                raise ValueError(
                    "no bucket configured: set ARCHIVER_S3_BUCKET, or search the local "
                    "index with --no-sync"
                )
            client = make_client(cfg)
    with SearchIndex.open(cache) as index:
        if client is not None:
            try:
                index.sync(client, cfg.bucket, cfg.prefix)
            except SearchIndexBusy as exc:
                raise CommandError(str(exc)) from None
        with usage_errors():
            results = index.search(wanted)
    if as_json:
        out = {
            "total": results.total,
            "page": page,
            "hits": [asdict(hit) for hit in results.hits],
            "facets": {k: [list(kv) for kv in v] for k, v in results.facets.items()},
        }
        click.echo(json.dumps(out, ensure_ascii=False))
    elif results.hits:
        table = Table(show_edge=False, pad_edge=False, show_lines=True)
        for column in ("date", "site", "title / snippet", "url"):
            table.add_column(column, overflow="fold")
        for hit in results.hits:
            table.add_row(
                (hit.published or hit.captured)[:10],
                hit.site,
                f"[bold]{escape(hit.title or '(no title)')}[/bold]\n{escape(_plain(hit.snippet_html))}",
                hit.url,
            )
        Console(soft_wrap=False, width=200).print(table)
        shown = f"{(page - 1) * per_page + 1}-{(page - 1) * per_page + len(results.hits)}"
        click.echo(f"{shown} of {results.total} match(es)", err=True)
    if not results.hits:
        click.echo(
            f"no match for {query[:80]!r}" + (f" (page {page})" if page > 1 else ""), err=True
        )
        return EXIT_FAILURE
    return EXIT_OK
