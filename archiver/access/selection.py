"""Choosing the stored crawls a command works on: one crawl by id, the complete crawls of a site
between two dates, or the crawls holding a slice's WARCs (each with only those WARCs listed).

`archiver fetch` and `archiver export-wacz` choose their crawls here; bad settings or dates
raise ValueError (SettingError is one), which the commands report as usage errors.
"""

from __future__ import annotations

from typing import Any

from archiver.access.crawls import StoredCrawl, list_stored_crawls
from archiver.access.lookup import open_archive
from archiver.access.slices import Slice, select_slice
from archiver.index import ArchiveIndex


class SelectionError(Exception):
    """The index names WARCs that storage does not hold as a complete crawl."""


def select_crawls(
    settings: Any, crawl_id: str | None, site: str | None, since: str | None, until: str | None
) -> tuple[ArchiveIndex, list[StoredCrawl]]:
    """The index and the complete crawls of a slice (a crawl id, or a site between two dates)."""
    _cfg, _client, index = open_archive(settings)
    crawls = list_stored_crawls(index, crawl_id=crawl_id, site=site, since=since, until=until)
    return index, [c for c in crawls if c.manifest is not None]


def select_site_slice(
    settings: Any, site: str, since: str, until: str
) -> tuple[ArchiveIndex, Slice]:
    """The index and a site's captures between two dates, found in the archive-wide index."""
    _cfg, _client, index = open_archive(settings)
    return index, select_slice(index, site, since, until)


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
            raise SelectionError(f"{crawl_id}: indexed, but has no manifest.json in storage")
        crawl = StoredCrawl(date, crawl_id, manifest, only=names)
        missing = names - {str(f.get("name")) for f in crawl.files}
        if missing:
            raise SelectionError(
                f"{crawl_id}: the index names WARCs its manifest does not list: {sorted(missing)}"
            )
        crawls.append(crawl)
    return crawls
