"""One-off crawls of URLs given by hand (`archiver crawl URL...`), run as implicit sites.

Each host (with its port, if any) becomes a site named after it, written to a small sites
file of its own in the site's directory of the spool, so the crawl takes the same path as
a scheduled one: the site's lock, its capture history (a second crawl of the host writes
revisit records and skips what the recrawl policy says is recent), its run log.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from archiver.operations.sitedir import SiteDir
from archiver.operations.sites import SiteConfig, SitesError, load_sites

ADHOC_PREFIX = "adhoc-"


@dataclass(frozen=True)
class AdhocLimits:
    """What `scrapy crawl news -a ...` takes besides the URLs; None: the spider's default."""

    max_pages: int | None = None
    max_depth: int | None = None
    since: str | None = None
    allowed_domains: tuple[str, ...] = ()


def host_site_name(url: str) -> str:
    """The implicit site of a URL: its host, lower-case, and ``_PORT`` when it has a port."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SitesError(f"not an http(s) URL: {url!r}")
    try:
        port = parts.port
    except ValueError:
        raise SitesError(f"not a valid port in {url!r}") from None
    name = parts.hostname.lower().strip("[]").replace(":", "-")
    return f"{name}_{port}" if port is not None else name


def group_by_host(urls: Sequence[str]) -> dict[str, list[str]]:
    """The URLs of each implicit site, in the order given."""
    sites: dict[str, list[str]] = {}
    for url in urls:
        sites.setdefault(host_site_name(url), []).append(url.strip())
    return sites


def _toml(value: object) -> str:
    # JSON's strings, integers and arrays of strings are valid TOML.
    return json.dumps(value)


def adhoc_sites_text(name: str, urls: Sequence[str], limits: AdhocLimits) -> str:
    """The sites file of one implicit site."""
    lines = [
        "# Written by `archiver crawl URL...` for this run; removed after it.",
        f"[sites.{_toml(name)}]",
        f"start_urls = {_toml(list(urls))}",
        # A one-off crawl that finds no article is not a failure.
        "min_articles = 0",
    ]
    if limits.allowed_domains:
        lines.append(f"allowed_domains = {_toml(list(limits.allowed_domains))}")
    if limits.max_pages is not None:
        lines.append(f"max_pages = {limits.max_pages}")
    if limits.max_depth is not None:
        lines.append(f"max_depth = {limits.max_depth}")
    if limits.since:
        lines.append(f"since = {_toml(limits.since)}")
    return "\n".join(lines) + "\n"


def write_adhoc_site(
    spool_root: Path, name: str, urls: Sequence[str], limits: AdhocLimits
) -> tuple[SiteConfig, Path]:
    """Write and check the implicit site's sites file; (its site, the file to remove after)."""
    site_dir = SiteDir.of(spool_root, name)
    site_dir.root.mkdir(parents=True, exist_ok=True)
    path = (site_dir.root / f"{ADHOC_PREFIX}{os.getpid()}.toml").resolve()
    path.write_text(adhoc_sites_text(name, urls, limits), encoding="utf-8")
    try:
        site = load_sites(path).get(name)
    except SitesError as exc:
        path.unlink(missing_ok=True)
        # The file is ours: name what the user gave instead.
        message = str(exc).replace(f"{path}: ", "").replace(f"site {name!r}: ", "")
        raise SitesError(f"crawl of {', '.join(urls)}: {message}") from None
    return site, path
