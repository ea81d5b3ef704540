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

# File signatures of common binary formats, named in the refusal.
_MAGIC = {
    b"\x7fELF": "an ELF executable",
    b"%PDF-": "a PDF document",
    b"\x1f\x8b": "gzip data",
    b"PK\x03\x04": "a ZIP archive",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
}
# Control bytes allowed in text: tab, line feed, form feed, carriage return, escape.
_TEXT_CONTROLS = frozenset(b"\t\n\f\r\x1b")
# Text in any 8-bit charset or UTF-8 has almost no other control bytes; random bytes have
# about one in eight. One percent keeps a stray control character in a real page harmless.
MAX_CONTROL_SHARE = 0.01
SNIFF_BYTES = 8192


def not_html(data: bytes) -> str | None:
    """Why data is no web page at all (binary: a known format, NUL or control bytes); None
    when it may be one. Empty input is the cleaner's to refuse ("empty document")."""
    for magic, kind in _MAGIC.items():
        if data.startswith(magic):
            return kind
    head = data[:SNIFF_BYTES]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 has NUL bytes by design
        return None
    if b"\x00" in head:
        return "binary data (NUL bytes)"
    controls = sum(1 for byte in head if byte < 0x20 and byte not in _TEXT_CONTROLS)
    if head and controls / len(head) > MAX_CONTROL_SHARE:
        return f"binary data ({controls} control bytes in the first {len(head)})"
    return None


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

    Exits 1 with a message when the file cannot be read, is not HTML (binary data) or holds
    no article (an empty file among them).
    """
    rules = load_rules_option(ctx, rules_dirs)
    try:
        data = sys.stdin.buffer.read() if str(file) == "-" else file.read_bytes()
    except OSError as exc:
        click.echo(f"archiver clean: cannot read {file}: {exc.strerror or exc}", err=True)
        return EXIT_FAILURE
    refused = not_html(data)
    if refused is not None:
        click.echo(f"archiver clean: {file}: not an HTML page: {refused}", err=True)
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
