"""A crawl put into a bucket as `archiver crawl` leaves it (WARC, per-WARC CDXJ, manifest,
archive-wide index), with no crawl: for the retrieval, error and damage tests.

`damage` flips bytes of the WARC after its index and manifest were made from the good file,
as a disk or a copy would damage it in storage.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from archiver.index import ArchiveIndex, Capture, index_file
from tests.support.index_warcs import T0, write_warc
from tests.support.paths import ROOT
from tests.support.s3 import S3Bucket

CRAWL_ID = "news-20260301T120000Z-d4m4g3"
CRAWL_DATE = f"{T0:%Y-%m-%d}"


@dataclass
class StoredCrawl:
    """What was stored: the WARC as written, its captures, and where the damage is."""

    warc: Path
    stored: bytes
    captures: list[Capture]
    damaged_at: int | None = None

    def damaged_capture(self) -> Capture:
        """The capture whose response record holds the first damaged byte."""
        assert self.damaged_at is not None
        return next(c for c in self.captures if c.offset <= self.damaged_at < c.offset + c.length)

    def whole_captures(self) -> list[Capture]:
        """Captures whose records hold no damaged byte."""
        at = self.damaged_at
        return [c for c in self.captures if at is None or not c.offset <= at < c.offset + c.length]


def flip(data: bytes, at: int, count: int = 50) -> bytes:
    """data with `count` bytes from `at` on inverted."""
    damaged = bytearray(data)
    for i in range(at, at + count):
        damaged[i] ^= 0xFF
    return bytes(damaged)


def store_crawl(
    bucket: S3Bucket,
    tmp_path: Path,
    pages: int = 40,
    damage: Callable[[bytes], tuple[bytes, int]] | None = None,
) -> StoredCrawl:
    """Upload one crawl of `pages` pages, damaged by `damage(data) -> (data, offset)` if given,
    and add it to the archive-wide index."""
    directory = tmp_path / "warcs"
    directory.mkdir(exist_ok=True)
    path = write_warc(directory, pages)
    good = path.read_bytes()
    captures = index_file(path)
    stored, damaged_at = damage(good) if damage is not None else (good, None)
    base = f"{bucket.cfg.prefix}/{CRAWL_DATE}/{CRAWL_ID}"
    put = bucket.client.put_object
    put(Bucket=bucket.name, Key=f"{base}/{path.name}", Body=stored)
    put(
        Bucket=bucket.name,
        Key=f"{base}/{path.name}.cdxj",
        Body="".join(c.line for c in captures).encode(),
    )
    manifest = {
        "crawl_id": CRAWL_ID,
        "start_urls": ["http://example.com/"],
        "files": [
            {
                "name": path.name,
                "size": len(good),
                "sha256": hashlib.sha256(good).hexdigest(),
                "sidecars": [path.name + ".cdxj"],
            }
        ],
    }
    put(Bucket=bucket.name, Key=f"{base}/manifest.json", Body=json.dumps(manifest).encode())
    index = ArchiveIndex(bucket.client, bucket.name, bucket.cfg.prefix)
    assert index.publish_crawl(CRAWL_DATE, CRAWL_ID) is not None
    return StoredCrawl(path, stored, captures, damaged_at)


def archiver(
    *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`archiver ARGS` in a child process (its whole stderr, as a user sees it)."""
    return subprocess.run(
        [sys.executable, "-m", "archiver", *args],
        capture_output=True,
        text=True,
        env=os.environ.copy() if env is None else env,
        cwd=cwd,
        timeout=timeout,
    )


def bucket_settings(bucket: S3Bucket, name: str | None = None) -> list[str]:
    """`-s` options pointing a command at the bucket (or at another bucket name)."""
    return [
        "-s",
        f"ARCHIVER_S3_BUCKET={name or bucket.name}",
        "-s",
        f"ARCHIVER_S3_PREFIX={bucket.cfg.prefix}",
    ]
