"""`archiver get URL`: one capture read with a single HTTP Range request, never the whole WARC."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from archiver.access import (
    capture_location,
    capture_text,
    citation,
    closest,
    find,
    open_archive,
    parse_response,
    read_capture,
    read_capture_records,
)
from archiver.commands._base import EXIT_FAILURE, EXIT_OK, Context, pass_context, usage_errors


def citation_line(cite: dict[str, Any]) -> str:
    """The citation for people, each part labelled: what, when, which record, where it is."""
    return (
        f"cite: url={cite['url']} captured={cite['timestamp']} "
        f"record={cite['warc_record_id']} digest={cite['payload_digest']} "
        f"warc={cite['filename']}@{cite['offset']}"
    )


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
    "--json",
    "as_json",
    is_flag=True,
    help="One JSON object on stdout: the citation, and the clean text (--text) or HTML.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    default="-",
    help="File to write (default: standard output).",
)
@pass_context
def command(ctx: Context, url: str, at: str | None, mode: str, as_json: bool, output: Path) -> int:
    """Print one capture of URL; its citation (record id, digest, time) goes to stderr."""
    if as_json and mode == "warc":
        raise click.UsageError("--json holds text or HTML: use it with --text or --html")
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
        data = parse_response(read_capture(index, capture), capture_location(capture)).body
    cite = citation(capture)
    if as_json:
        doc = {**cite, mode: data.decode("utf-8", errors="replace")}
        data = (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    if str(output) == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        output.write_bytes(data)
    if not as_json:
        click.echo(citation_line(cite), err=True)
    return EXIT_OK
