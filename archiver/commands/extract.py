"""`archiver extract WARC...`: re-run the cleaner over archived responses, on every core."""

from __future__ import annotations

import json
import os
import sys
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import click
from botocore.exceptions import BotoCoreError, ClientError
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from archiver.access import (
    CleaningPool,
    CountingReader,
    SourceError,
    WarcDamage,
    iter_html_captures,
    local_warc_path,
)
from archiver.commands._base import (
    EXIT_FAILURE,
    EXIT_OK,
    Context,
    load_rules_option,
    pass_context,
)
from archiver.commands._errors import StorageError, missing_object, one_line


@click.command("extract")
@click.argument("sources", nargs=-1, required=True, metavar="WARC...")
@click.option(
    "-o",
    "--output",
    default="-",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="JSON lines file to write (default: standard output).",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=0),
    default=None,
    help="Worker processes; 0 = one per core (default: ARCHIVER_CLEAN_WORKERS).",
)
@click.option(
    "--rules",
    "rules_dirs",
    multiple=True,
    type=click.Path(file_okay=False, exists=True),
    help="Directory of extra site rule files (site-*.toml), added to ARCHIVER_CLEAN_RULES_DIRS; "
    "repeatable.",
)
@pass_context
def command(
    ctx: Context,
    sources: tuple[str, ...],
    output: Path,
    jobs: int | None,
    rules_dirs: tuple[str, ...],
) -> int:
    """Clean the HTML responses of WARC files (local paths or s3:// URLs) into JSON lines.

    One line per article: the WARC file, WARC-Record-ID, target URI, WARC-Date and every
    field of the cleaner's Article. Exits 1 when a WARC could not be read to the end
    (missing, truncated or damaged): it is named on stderr and the other WARCs go on.
    """
    workers = ctx.settings.getint("ARCHIVER_CLEAN_WORKERS") if jobs is None else jobs
    workers = workers or os.cpu_count() or 1
    # Read and checked once here; the pool's workers get the parsed rules, not the files.
    rules = load_rules_option(ctx, rules_dirs)
    counts = {"responses": 0, "articles": 0}
    failed: list[str] = []
    with ExitStack() as stack:
        out: IO[str] = (
            sys.stdout
            if str(output) == "-"
            else stack.enter_context(output.open("w", encoding="utf-8"))
        )
        pool = stack.enter_context(CleaningPool(workers, rules))

        def emit(line: dict[str, Any] | None) -> None:
            if line is not None:
                counts["articles"] += 1
                out.write(json.dumps(line, ensure_ascii=False) + "\n")

        progress = stack.enter_context(
            Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TimeRemainingColumn(),
                console=_stderr_console(),
                transient=True,
                # Off the terminal, rich would still end with an empty line on stderr.
                disable=not sys.stderr.isatty(),
            )
        )
        for source in sources:
            try:
                with ExitStack() as source_stack:
                    path = local_warc_path(source, source_stack, ctx.settings)
                    raw = source_stack.enter_context(path.open("rb"))
                    task = progress.add_task(path.name, total=path.stat().st_size)
                    counted = CountingReader(raw, partial(progress.advance, task))
                    for capture in iter_html_captures(counted, source):  # type: ignore[arg-type]
                        counts["responses"] += 1
                        for line in pool.submit(capture):
                            emit(line)
            except WarcDamage as exc:
                # The message names the source and the offset; the other sources go on.
                failed.append(source)
                click.echo(f"archiver extract: {one_line(exc)}", err=True)
            except (OSError, SourceError) as exc:
                failed.append(source)
                click.echo(f"archiver extract: {source}: {one_line(exc)}", err=True)
            except (ClientError, BotoCoreError) as exc:
                bucket = urlsplit(source).netloc
                if missing_object(exc, ctx, bucket):
                    failed.append(source)
                    click.echo(f"archiver extract: {source}: no such object in storage", err=True)
                    continue
                # Storage that fails one s3:// source fails the next: one line, and stop.
                raise StorageError(exc, bucket, source) from exc
        for line in pool.drain():
            emit(line)
    click.echo(
        f"{counts['responses']} HTML responses, {counts['articles']} articles"
        + (f", {len(failed)} unreadable, truncated or damaged WARC(s)" if failed else ""),
        err=True,
    )
    return EXIT_FAILURE if failed else EXIT_OK


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)
