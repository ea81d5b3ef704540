"""`archiver clean FILE.html`: print the clean article text (or JSON) of one saved page."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from archiver.cleaning import clean_html
from archiver.commands._base import (
    EXIT_FAILURE,
    EXIT_OK,
    Context,
    load_rules_option,
    pass_context,
)


@click.command("clean")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option("--url", help="URL the page was fetched from (relative links, site rules, dates).")
@click.option(
    "--content-type",
    help='HTTP Content-Type of the page, for its charset (e.g. "text/html; charset=windows-1250").',
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with every field.")
@click.option(
    "--rules",
    "rules_dirs",
    multiple=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Directory of extra site rule files (site-*.toml), added to ARCHIVER_CLEAN_RULES_DIRS; "
    "repeatable.",
)
@pass_context
def command(
    ctx: Context,
    file: Path,
    url: str | None,
    content_type: str | None,
    as_json: bool,
    rules_dirs: tuple[Path, ...],
) -> int:
    """Clean one HTML page: title and body text, or all fields with --json.

    Exits 1 with a message when the file cannot be read or holds no article.
    """
    rules = load_rules_option(ctx, rules_dirs)
    try:
        data = sys.stdin.buffer.read() if str(file) == "-" else file.read_bytes()
    except OSError as exc:
        click.echo(f"archiver clean: cannot read {file}: {exc.strerror or exc}", err=True)
        return EXIT_FAILURE
    article = clean_html(data, url, content_type=content_type, rules=rules)
    if as_json:
        click.echo(json.dumps(article.to_dict(), ensure_ascii=False, indent=2))
    elif article.is_article:
        if article.title:
            click.echo(article.title + "\n")
        click.echo(article.body)
    if not article.is_article:
        click.echo(f"archiver clean: {file}: no article: {article.reason}", err=True)
        return EXIT_FAILURE
    return EXIT_OK
