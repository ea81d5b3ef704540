"""The sample site read from its files, offline: its pages by kind, and the bytes it serves."""

from __future__ import annotations

from pathlib import Path

from archiver.devserver.samplesite import PageInfo, file_for_path, site_manifest
from archiver.devserver.samplesite.manifest import cdn_url_for, substitute

# Manifest checks run against the files alone; this base only fills the placeholder.
OFFLINE_BASE = "http://127.0.0.1:9"
OFFLINE_PAGES = site_manifest(OFFLINE_BASE)
ARTICLES = [p for p in OFFLINE_PAGES if p.kind == "article"]
SECTIONS = [p for p in OFFLINE_PAGES if p.kind == "section"]
# What pages need to render (stylesheets, fonts, images, scripts, icons), on the site and its CDN.
REQUISITES = [p for p in OFFLINE_PAGES if p.kind == "requisite"]


def page_with(kind: str, **attrs: object) -> PageInfo:
    """The single manifest page of a kind with the given attribute values."""
    found = [
        p
        for p in OFFLINE_PAGES
        if p.kind == kind and all(getattr(p, k) == v for k, v in attrs.items())
    ]
    assert len(found) == 1, (kind, attrs, found)
    return found[0]


KURIER_ARTICLE = next(p for p in ARTICLES if p.charset == "windows-1250")


def served_bytes(root: Path, path: str, base: str) -> bytes:
    """What the server should send as the identity body of a file path (root: the site's or _cdn)."""
    file = file_for_path(root, path)
    assert file is not None
    return substitute(file.read_bytes(), base, cdn_url_for(base))
