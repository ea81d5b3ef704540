"""`archiver fetch`: download the WARC files of one crawl, or of a site between two dates.

A site slice is chosen through the archive-wide index: only the WARCs that hold a capture
of the site in the window (or its metadata record, or the original a revisit in it needs)
are downloaded, whole.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from archiver.access import (
    Progress,
    Slice,
    StoredCrawl,
    download,
    iter_progress_total,
    list_stored_crawls,
    open_archive,
    select_slice,
)
from archiver.commands._base import EXIT_FAILURE, EXIT_OK, Context, pass_context
from archiver.config import SettingError
from archiver.index import MANIFEST_NAME, ArchiveIndex, sidecar_name


def check_slice_options(
    crawl_id: str | None, site: str | None, since: str | None, until: str | None
) -> None:
    """--crawl ID, or --site S with --from and --to; a UsageError otherwise."""
    if crawl_id is None and site is None:
        raise click.UsageError("choose a slice: --crawl ID, or --site S --from DATE --to DATE")
    if crawl_id is None and not (since and until):
        raise click.UsageError("--site needs --from and --to")


def select_crawls(
    ctx: Context, crawl_id: str | None, site: str | None, since: str | None, until: str | None
) -> tuple[ArchiveIndex, list[StoredCrawl]]:
    """The index and the complete crawls of a slice (--crawl, or --site with --from/--to)."""
    check_slice_options(crawl_id, site, since, until)
    try:
        _cfg, _client, index = open_archive(ctx.settings)
        crawls = list_stored_crawls(index, crawl_id=crawl_id, site=site, since=since, until=until)
    except (SettingError, ValueError) as exc:
        raise click.UsageError(str(exc)) from None
    return index, [c for c in crawls if c.manifest is not None]


def select_site_slice(
    ctx: Context, site: str, since: str, until: str
) -> tuple[ArchiveIndex, Slice]:
    """The index and a site's captures between two dates, found in the archive-wide index."""
    try:
        _cfg, _client, index = open_archive(ctx.settings)
        return index, select_slice(index, site, since, until)
    except (SettingError, ValueError) as exc:
        raise click.UsageError(str(exc)) from None


def slice_crawls(index: ArchiveIndex, chosen: Slice) -> list[StoredCrawl]:
    """The crawls holding the slice's WARCs, each with only those WARCs in its file list."""
    wanted: dict[tuple[str, str], set[str]] = {}
    for path in chosen.files():
        date, crawl_id, name = path.split("/", 2)
        wanted.setdefault((date, crawl_id), set()).add(name)
    crawls = []
    for (date, crawl_id), names in sorted(wanted.items()):
        manifest = index.read_manifest(date, crawl_id)
        if manifest is None:
            raise click.ClickException(f"{crawl_id}: indexed, but has no manifest.json in storage")
        crawl = StoredCrawl(date, crawl_id, manifest, only=names)
        missing = names - {str(f.get("name")) for f in crawl.files}
        if missing:
            raise click.ClickException(
                f"{crawl_id}: the index names WARCs its manifest does not list: {sorted(missing)}"
            )
        crawls.append(crawl)
    return crawls


F = TypeVar("F", bound=Callable[..., Any])


def slice_options(command: F) -> F:
    """The options naming a slice of the archive, shared by fetch and export-wacz:
    --crawl ID, or --site HOST with --from/--to."""
    for option in reversed(
        (
            click.option("--crawl", "crawl_id", metavar="ID", help="One crawl."),
            click.option(
                "--site",
                metavar="HOST",
                help="Captures of this host or domain (subdomains too), via the index.",
            ),
            click.option(
                "--from",
                "since",
                metavar="DATE",
                help="First capture date or timestamp (with --site).",
            ),
            click.option(
                "--to",
                "until",
                metavar="DATE",
                help="Last capture date or timestamp (with --site).",
            ),
        )
    ):
        command = option(command)
    return command


@click.command("fetch")
@slice_options
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write {date}/{crawl id}/{file} into.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON report.")
@pass_context
def command(
    ctx: Context,
    crawl_id: str | None,
    site: str | None,
    since: str | None,
    until: str | None,
    output: Path,
    as_json: bool,
) -> int:
    """Download a slice's WARCs, their CDXJ and the manifests; exit 1 if a file differs.

    With --site, only the WARCs holding captures of the site between --from and --to
    (found through the archive-wide index) are downloaded, each whole.
    """
    check_slice_options(crawl_id, site, since, until)
    if crawl_id is None and site is not None and since and until:
        index, chosen = select_site_slice(ctx, site, since, until)
        if not chosen.captures:
            click.echo(f"no capture of {site} between {since} and {until} in the index", err=True)
            return EXIT_FAILURE
        crawls = slice_crawls(index, chosen)
    else:
        index, crawls = select_crawls(ctx, crawl_id, site, since, until)
    if not crawls:
        click.echo("no complete crawl matches", err=True)
        return EXIT_FAILURE
    bar = Progress(
        not as_json and sys.stderr.isatty(),
        iter_progress_total(crawls),
        "downloading",
        in_bytes=True,
    )
    files: list[dict[str, object]] = []
    problems: list[str] = []
    try:
        for crawl in crawls:
            target = output / crawl.date / crawl.crawl_id
            target.mkdir(parents=True, exist_ok=True)
            (target / MANIFEST_NAME).write_text(
                json.dumps(crawl.manifest, indent=2) + "\n", encoding="utf-8"
            )
            for entry in crawl.files:
                name = str(entry["name"])
                bar.describe(name)
                part = target / (name + ".part")
                with open(part, "wb") as fh:
                    size, sha256 = download(
                        index, index.crawl_key(crawl.date, crawl.crawl_id, name), fh, bar.advance
                    )
                ok = size == entry.get("size") and sha256 == entry.get("sha256")
                part.replace(target / name)
                if not ok:
                    problems.append(f"{crawl.crawl_id}/{name}: differs from its manifest entry")
                sidecar = index.get_optional(
                    index.crawl_key(crawl.date, crawl.crawl_id, sidecar_name(name))
                )
                if sidecar is not None:
                    (target / sidecar_name(name)).write_bytes(sidecar)
                files.append({"path": str(target / name), "size": size, "sha256": sha256, "ok": ok})
    finally:
        bar.stop()
    if as_json:
        click.echo(json.dumps({"files": files, "problems": problems}, indent=2))
    else:
        total = sum(int(str(f["size"])) for f in files)
        click.echo(f"fetched {len(files)} WARC file(s), {total} bytes, into {output}")
    for problem in problems:
        click.echo(f"MISMATCH {problem}", err=True)
    return EXIT_FAILURE if problems else EXIT_OK
