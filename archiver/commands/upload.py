"""`archiver upload`: send whatever waits in the spool to the bucket, verified and idempotently."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from archiver.commands._base import (
    EXIT_FAILURE,
    EXIT_OK,
    ConfigurationError,
    Context,
    human_size,
    pass_context,
)
from archiver.commands._errors import explain
from archiver.config import SettingError
from archiver.dataset.backfill import crawl_stored
from archiver.spool import CRAWL_FILE
from archiver.storage import (
    S3Config,
    SpoolReport,
    UploadError,
    bucket_check,
    make_client,
    upload_spool,
)


def _print_summary(report: SpoolReport) -> None:
    sent = [r for r in report.uploaded if not r.already_present]
    present = len(report.uploaded) - len(sent)
    click.echo(
        f"uploaded {len(sent)} file(s), {human_size(report.bytes_uploaded)}; "
        f"{present} already stored; {len(report.failed)} failed; {len(report.waiting)} waiting"
    )
    for path, error in report.failed:
        click.echo(f"FAILED  {path}: {error}", err=True)
    for path in report.waiting:
        click.echo(f"waiting {path}", err=True)


@click.command("upload")
@click.option("--crawl", "crawl_id", metavar="ID", help="Upload only this crawl's files.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON report on stdout.")
@pass_context
def command(ctx: Context, crawl_id: str | None, as_json: bool) -> int:
    """Upload the spool (ARCHIVER_WARC_DIR) to ARCHIVER_S3_BUCKET; exit 0 when nothing is left."""
    settings = ctx.settings
    try:
        cfg = S3Config.from_settings(settings)
    except SettingError as exc:
        raise ConfigurationError(str(exc)) from None
    if not cfg.enabled:
        raise ConfigurationError(
            "no bucket configured: set ARCHIVER_S3_BUCKET (or -s ARCHIVER_S3_BUCKET=NAME)"
        )
    spool_dir = str(settings.get("ARCHIVER_WARC_DIR") or "").strip()
    if not spool_dir:
        raise ConfigurationError("ARCHIVER_WARC_DIR is empty: no spool to upload from")
    spool_root = Path(spool_dir)
    if crawl_id is not None and not (spool_root / crawl_id / CRAWL_FILE).is_file():
        raise ConfigurationError(f"no crawl {crawl_id!r} in the spool {spool_root}")

    client = make_client(cfg)
    try:
        bucket_check(cfg, client)
    except UploadError as exc:
        if as_json:
            click.echo(json.dumps({"error": str(exc)}, indent=2))
        raise explain(exc) from exc

    report = upload_spool(
        cfg,
        spool_root,
        client=client,
        progress=not as_json and sys.stderr.isatty(),
        crawl_id=crawl_id,
        on_crawl_stored=crawl_stored,
    )
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        _print_summary(report)
    return EXIT_OK if report.ok else EXIT_FAILURE
