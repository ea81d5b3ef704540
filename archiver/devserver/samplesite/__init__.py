"""The bundled sample news site and its local server (see docs/sample-site.md)."""

from __future__ import annotations

from archiver.devserver.samplesite.manifest import (
    EXPECTED_DIR,
    SITE_ROOT,
    ManifestError,
    PageInfo,
    file_for_path,
    load_manifest,
    site_manifest,
)
from archiver.devserver.samplesite.server import SampleSite, SentResponse

__all__ = [
    "EXPECTED_DIR",
    "SITE_ROOT",
    "ManifestError",
    "PageInfo",
    "SampleSite",
    "SentResponse",
    "file_for_path",
    "load_manifest",
    "site_manifest",
]
