"""`archiver get URL`: one capture read with a single HTTP Range request, never the whole WARC."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from archiver.access import (
    capture_text,
    closest,
    find,
    open_archive,
    parse_response,
    read_capture,
    read_capture_records,
)
from archiver.commands._base import EXIT_FAILURE, EXIT_OK, Context, pass_context, usage_errors


@click.command("get")
@click.argument("url")
@click.option(
    "--at", metavar="TIMESTAMP", help="Date or timestamp to be nearest to (default: the latest)."
)
@click.option(
    "--html", "mode", flag_value="html", default=True, help="The payload, decoded (default)."
)
@click.option("--text", "mode", flag_value="text", help="The clean text: title, then body.")
@click.option(
    "--warc", "mode", flag_value="warc", help="The raw WARC records (request, response, metadata)."
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    default="-",
    help="File to write (default: standard output).",
)
@pass_context
def command(ctx: Context, url: str, at: str | None, mode: str, output: Path) -> int:
    """Print one capture of URL; its citation (record id, digest, time) goes to stderr."""
    with usage_errors():
        _cfg, _client, index = open_archive(ctx.settings)
        capture = closest(find(index, url), at)
    if capture is None:
        click.echo(f"no capture of {url} in the archive index", err=True)
        return EXIT_FAILURE
    if mode == "warc":
        data = read_capture_records(index, capture)
    elif mode == "text":
        data = capture_text(index, capture).encode("utf-8")
    else:
        data = parse_response(read_capture(index, capture)).body
    if str(output) == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        output.write_bytes(data)
    click.echo(
        f"{capture.url} {capture.timestamp} {capture.get('record_id')} "
        f"{capture.get('digest')} {capture.filename}@{capture.offset}",
        err=True,
    )
    return EXIT_OK
