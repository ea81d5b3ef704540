"""`archiver fetch`: download the WARC files of one crawl, or of a site between two dates.

A site slice is chosen through the archive-wide index: only the WARCs that hold a capture
of the site in the window (or its metadata record, or the original a revisit in it needs)
are downloaded, whole.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from archiver.access import (
    Progress,
    SelectionError,
    StoredCrawl,
    download,
    iter_progress_total,
    select_crawls,
    select_site_slice,
    slice_crawls,
)
from archiver.commands._base import (
    EXIT_FAILURE,
    EXIT_OK,
    Context,
    check_slice_options,
    pass_context,
    slice_options,
    usage_errors,
)
from archiver.index import MANIFEST_NAME, ArchiveIndex, sidecar_name


def _fetch_items(index: ArchiveIndex, crawl: StoredCrawl, target: Path) -> Path | None:
    """The crawl's items.jsonl (one JSON line per article), when its manifest names one."""
    name = (crawl.manifest or {}).get("items")
    if not name:
        return None
    data = index.get_optional(index.crawl_key(crawl.date, crawl.crawl_id, str(name)))
    if data is None:
        return None
    path = target / str(name)
    path.write_bytes(data)
    return path


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
    """Download a slice's WARCs, their CDXJ, items.jsonl and manifests; exit 1 if a file differs.

    With --site, only the WARCs holding captures of the site between --from and --to
    (found through the archive-wide index) are downloaded, each whole.
    """
    check_slice_options(crawl_id, site, since, until)
    if crawl_id is None and site is not None and since and until:
        with usage_errors():
            index, chosen = select_site_slice(ctx.settings, site, since, until)
        if not chosen.captures:
            click.echo(f"no capture of {site} between {since} and {until} in the index", err=True)
            return EXIT_FAILURE
        try:
            crawls = slice_crawls(index, chosen)
        except SelectionError as exc:
            raise click.ClickException(str(exc)) from None
    else:
        with usage_errors():
            index, crawls = select_crawls(ctx.settings, crawl_id, site, since, until)
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
    extras: list[str] = []
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
            items = _fetch_items(index, crawl, target)
            if items is not None:
                extras.append(str(items))
    finally:
        bar.stop()
    if as_json:
        click.echo(json.dumps({"files": files, "items": extras, "problems": problems}, indent=2))
    else:
        total = sum(int(str(f["size"])) for f in files)
        also = f" and {len(extras)} items.jsonl" if extras else ""
        click.echo(f"fetched {len(files)} WARC file(s), {total} bytes,{also} into {output}")
    for problem in problems:
        click.echo(f"MISMATCH {problem}", err=True)
    return EXIT_FAILURE if problems else EXIT_OK
