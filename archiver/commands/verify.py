"""`archiver verify`: re-read stored WARCs and check them against the indexes and manifests."""

from __future__ import annotations

import json
import sys

import click

from archiver.access import (
    Progress,
    VerifyReport,
    iter_progress_total,
    list_stored_crawls,
    open_archive,
    verify_crawl,
)
from archiver.commands._base import EXIT_FAILURE, EXIT_OK, Context, pass_context, usage_errors


@click.command("verify")
@click.option("--crawl", "crawl_id", metavar="ID", help="Only this crawl (default: all).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON report.")
@pass_context
def command(ctx: Context, crawl_id: str | None, as_json: bool) -> int:
    """Check every record's digests, the CDXJ indexes and manifest.json; exit 1 on any mismatch."""
    with usage_errors():
        _cfg, _client, index = open_archive(ctx.settings)
        crawls = list_stored_crawls(index, crawl_id=crawl_id)
        runs = index.runs()
    report = VerifyReport()
    if crawl_id is not None and not crawls:
        report.problems.append(f"no crawl {crawl_id} in storage")
    bar = Progress(
        not as_json and sys.stderr.isatty(), iter_progress_total(crawls), "verifying", in_bytes=True
    )
    try:
        for crawl in crawls:
            bar.describe(crawl.crawl_id)
            verify_crawl(index, crawl, report, runs=runs, advance=bar.advance)
    finally:
        bar.stop()
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        click.echo(
            f"verified {report.crawls} crawl(s), {report.files} file(s), {report.records} "
            f"record(s), {report.bytes_read} bytes: "
            + ("OK" if report.ok else f"{len(report.problems)} problem(s)")
        )
    for problem in report.problems:
        click.echo(f"MISMATCH {problem}", err=True)
    return EXIT_OK if report.ok else EXIT_FAILURE
