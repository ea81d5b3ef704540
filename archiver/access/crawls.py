"""Crawls in storage: each crawl directory with its manifest, filtered by id, site and date.

`archiver ls`, `fetch`, `verify` and `reindex` choose the crawls they work on here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from archiver.index import ArchiveIndex, storage_key, timestamp_bound


@dataclass
class StoredCrawl:
    """A crawl directory in storage, with its manifest when the crawl is complete there."""

    date: str
    crawl_id: str
    manifest: dict[str, Any] | None
    keys: list[str] = field(default_factory=list)
    # Names of the WARCs a slice needs; None for the whole crawl.
    only: set[str] | None = None

    @property
    def start_urls(self) -> list[str]:
        """The crawl's start URLs, from its manifest."""
        return [str(u) for u in (self.manifest or {}).get("start_urls", [])]

    @property
    def files(self) -> list[dict[str, Any]]:
        """The manifest's file entries (WARCs), only those a slice needs when it names them."""
        return [
            f
            for f in (self.manifest or {}).get("files", [])
            if isinstance(f, dict) and (self.only is None or f.get("name") in self.only)
        ]

    def matches_site(self, site: str) -> bool:
        """True when a start URL's host is the site or one of its subdomains (www. ignored)."""
        wanted = _host(site)
        for url in self.start_urls:
            host = _host(url)
            if host == wanted or host.endswith("." + wanted):
                return True
        return False

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary for `archiver ls --json`."""
        manifest = self.manifest or {}
        return {
            "date": self.date,
            "crawl_id": self.crawl_id,
            "complete": self.manifest is not None,
            "spider": manifest.get("spider"),
            "start_urls": self.start_urls,
            "started": manifest.get("started"),
            "finished": manifest.get("finished"),
            "files": [
                {
                    "name": f.get("name"),
                    "key": f.get("key"),
                    "size": f.get("size"),
                    "sha256": f.get("sha256"),
                    "records": f.get("records"),
                    "sidecars": f.get("sidecars", []),
                    "first_date": f.get("first_date"),
                    "last_date": f.get("last_date"),
                }
                for f in self.files
            ],
            "keys": self.keys,
        }


def _host(value: str) -> str:
    host = urlsplit(value if "://" in value else "http://" + value).hostname or ""
    return host.lower().removeprefix("www.")


def list_stored_crawls(
    index: ArchiveIndex,
    *,
    crawl_id: str | None = None,
    site: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> list[StoredCrawl]:
    """Crawls in storage, filtered by id, site (start URL host) and crawl date."""
    low = timestamp_bound(since, upper=False)[:8] if since else None
    high = timestamp_bound(until, upper=True)[:8] if until else None
    found = []
    for date, cid in index.list_crawls():
        day = date.replace("-", "")
        if (low and day < low) or (high and day > high):
            continue
        if crawl_id is not None and cid != crawl_id:
            continue
        crawl = StoredCrawl(date, cid, index.read_manifest(date, cid))
        if site is not None and not crawl.matches_site(site):
            continue
        crawl.keys = sorted(index.list_keys(storage_key(index.prefix, f"{date}/{cid}/")))
        found.append(crawl)
    return found


def other_prefixes(index: ArchiveIndex, limit: int = 10) -> list[str]:
    """Top-level prefixes of the bucket other than the index's own (where else crawls may be).

    A crawl stored under another ARCHIVER_S3_PREFIX (the demo's `demo`, say) is invisible to
    `archiver ls`; an empty listing names these so the user can tell a wrong prefix from an
    empty bucket.
    """
    own = index.prefix.strip("/").split("/")[0] if index.prefix.strip("/") else ""
    answer = index.client.list_objects_v2(Bucket=index.bucket, Delimiter="/", MaxKeys=1000)
    names = [str(p.get("Prefix", "")).rstrip("/") for p in answer.get("CommonPrefixes", [])]
    return [n for n in names if n and n != own][:limit]
