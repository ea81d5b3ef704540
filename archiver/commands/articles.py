"""`archiver articles`: the archived articles of a site and dates, from the stored datasets."""

from __future__ import annotations

import json
import os
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from archiver.access import open_archive
from archiver.commands._base import (
    EXIT_OK,
    ConfigurationError,
    Context,
    human_size,
    pass_context,
    usage_errors,
)
from archiver.dataset import (
    COLUMNS,
    DEFAULT_COLUMNS,
    ArticleFilter,
    RangeFile,
    iter_dataset_keys,
    read_articles,
)
from archiver.dataset.schema import writer_options

_SHOWN = ("captured", "site", "title", "word_count", "url")


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigurationError(f"{option} wants a date as YYYY-MM-DD, not {value!r}") from None


def _csv_ready(table: pa.Table) -> pa.Table:
    """The table with its list column joined ("; "), as CSV holds no lists."""
    if "authors" not in table.column_names:
        return table
    index = table.column_names.index("authors")
    joined = pc.binary_join(table["authors"], "; ")
    return table.set_column(index, "authors", joined)


def _write(table: pa.Table, path: Path) -> None:
    part = path.with_name(path.name + ".part")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            pq.write_table(table, part, row_group_size=4_000, **writer_options())
        else:
            pcsv.write_csv(_csv_ready(table), part)
        os.replace(part, path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value


def _print_table(table: pa.Table) -> None:
    console = Console(soft_wrap=False, width=200)
    shown = Table(show_edge=False, pad_edge=False, box=None)
    columns = [c for c in _SHOWN if c in table.column_names]
    for name in columns:
        shown.add_column(name, no_wrap=name != "title", overflow="fold")
    for row in table.select(columns).to_pylist():
        shown.add_row(
            *(
                row[c].strftime("%Y-%m-%d %H:%M") if c == "captured" else str(row[c] or "")
                for c in columns
            )
        )
    console.print(shown)


@click.command("articles")
@click.option("--site", metavar="HOST", help="Articles of this site (its host, www. ignored).")
@click.option("--from", "since", metavar="DATE", help="On or after this day (see --by).")
@click.option("--to", "until", metavar="DATE", help="On or before this day (see --by).")
@click.option(
    "--by",
    type=click.Choice(["captured", "published"]),
    default="captured",
    show_default=True,
    help="The day --from/--to judge: the capture's (UTC), or the publication's as the page "
    "states it (the capture's for an article without one).",
)
@click.option("--lang", "language", metavar="CODE", help="Articles in this language (en, de...).")
@click.option("--text", "with_text", is_flag=True, help="Also read the clean text column.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the selection to FILE.parquet or FILE.csv instead of printing it.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (the rows, or with -o a summary)."
)
@pass_context
def command(
    ctx: Context,
    site: str | None,
    since: str | None,
    until: str | None,
    by: str,
    language: str | None,
    with_text: bool,
    output: Path | None,
    as_json: bool,
) -> int:
    """Select archived articles from the crawls' article datasets (articles.parquet).

    Reads every dataset in ARCHIVER_S3_BUCKET by range: only the columns needed, and only
    the row groups whose site and dates can match. The text is read with --text.
    """
    flt = ArticleFilter(
        site=site,
        since=_day(since, "--from"),
        until=_day(until, "--to"),
        language=language,
        by="published" if by == "published" else "captured",
    )
    if flt.since and flt.until and flt.since > flt.until:
        raise ConfigurationError(f"--from {since} is after --to {until}")
    if output is not None and output.suffix.lower() not in (".parquet", ".csv"):
        raise ConfigurationError(f"-o wants a .parquet or .csv file name, not {output.name}")
    columns = list(COLUMNS if with_text else DEFAULT_COLUMNS)
    with usage_errors():
        cfg, client, _index = open_archive(ctx.settings)
        datasets = list(iter_dataset_keys(client, cfg.bucket, cfg.prefix))
        files: list[RangeFile] = []
        table = read_articles(client, cfg.bucket, cfg.prefix, flt, columns, datasets, counter=files)
    fetched = sum(f.bytes_read for f in files)
    stored = sum(d.size for d in datasets)
    summary = {
        "articles": table.num_rows,
        "datasets": len(datasets),
        "bytes_read": fetched,
        "bytes_stored": stored,
        "requests": sum(f.requests for f in files),
    }
    if output is not None:
        _write(table, output.absolute())
        summary["output"] = str(output.absolute())
    if as_json:
        if output is None:
            rows = [{k: _json_value(v) for k, v in r.items()} for r in table.to_pylist()]
            summary["rows"] = rows
        click.echo(json.dumps(summary, indent=2, ensure_ascii=False))
    elif output is None:
        _print_table(table)
    where = f" written to {output}" if output is not None else ""
    click.echo(
        f"{table.num_rows} article(s) from {len(datasets)} dataset(s){where}"
        f" (read {human_size(fetched)} of {human_size(stored)})",
        err=True,
    )
    if not datasets:
        click.echo(
            f"no article datasets under s3://{cfg.bucket}/{cfg.prefix.strip('/')}/:"
            " crawls store one as they end; `archiver reindex` builds them for older crawls",
            err=True,
        )
    return EXIT_OK
