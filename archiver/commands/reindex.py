"""`archiver reindex`: rebuild the archive-wide index from the crawls in storage."""

from __future__ import annotations

import json
import sys

import click

from archiver.access import Progress, list_stored_crawls, open_archive
from archiver.commands._base import EXIT_FAILURE, EXIT_OK, Context, pass_context, usage_errors
from archiver.dataset.backfill import backfill_datasets


@click.command("reindex")
@click.option(
    "--crawl", "crawl_id", metavar="ID", help="Only (re)add this crawl, keeping the rest."
)
@click.option(
    "--use-sidecars",
    is_flag=True,
    help="Trust the stored per-WARC .cdxj files instead of re-reading every WARC.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON report.")
@pass_context
def command(ctx: Context, crawl_id: str | None, use_sidecars: bool, as_json: bool) -> int:
    """Index the WARCs in ARCHIVER_S3_BUCKET again and replace the archive-wide index.

    Crawls without an article dataset (articles.parquet) get one, from their items.jsonl.
    """
    with usage_errors():
        _cfg, _client, index = open_archive(ctx.settings)
        if crawl_id is not None:
            found = list_stored_crawls(index, crawl_id=crawl_id)
            if not found or found[0].manifest is None:
                raise click.UsageError(f"no complete crawl {crawl_id} in storage")
            run = index.publish_crawl(found[0].date, crawl_id, force=True)
            total = 1
        else:
            total = len(index.list_crawls())
            bar = Progress(not as_json and sys.stderr.isatty(), total, "indexing", in_bytes=False)

            def step(name: str) -> None:
                bar.describe(name)
                bar.advance(1)

            try:
                run = index.rebuild(reindex_warcs=not use_sidecars, progress=step)
            finally:
                bar.stop()
        # Crawls stored before the article dataset existed get their articles.parquet.
        datasets = backfill_datasets(index, crawl_id=crawl_id)
    if run is None:
        click.echo("nothing was indexed", err=True)
        return EXIT_FAILURE
    result = {
        "run": run.run_id,
        "crawls": run.crawls,
        "lines": run.lines,
        "requests": index.requests,
        "datasets": datasets.to_json(),
    }
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo(
            f"index run {run.run_id}: {run.lines} capture(s) from {len(run.crawls)} crawl(s)"
            f" (of {total} in storage)"
        )
        if datasets.built:
            click.echo(
                f"article datasets built for {len(datasets.built)} crawl(s):"
                f" {sum(datasets.built.values())} article(s)"
            )
    return EXIT_OK
