"""Disk faults: a spool that cannot be written, or fills up in the middle of a crawl.

A real full disk is a small tmpfs mounted for the test (root only, which CI is); a spool
that cannot be written is a read-only tmpfs as root, a directory without write
permission otherwise.  What must hold: a clear error, and no WARC record corrupted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.devserver.samplesite.generated import GeneratedSite
from archiver.spool import CrawlDir, recover_open_files
from tests.support.paths import ROOT

IS_ROOT = os.geteuid() == 0

pytestmark = pytest.mark.slow


def _crawl(url: str, spool: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "scrapy",
        "crawl",
        "news",
        "-a",
        f"urls={url}/",
        "-s",
        f"ARCHIVER_WARC_DIR={spool}",
        "-s",
        "ARCHIVER_S3_BUCKET=",
        "-s",
        "ARCHIVER_ALLOWED_NETWORKS=127.0.0.0/8",
        "-s",
        "DOWNLOAD_DELAY=0",
        "-s",
        "AUTOTHROTTLE_ENABLED=false",
        "-s",
        "ARCHIVER_CLEAN_WORKERS=1",
        "-s",
        "CONCURRENT_REQUESTS_PER_DOMAIN=8",
        *extra,
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def _mount_tmpfs(path: Path, options: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], check=True)


def _umount(path: Path) -> None:
    subprocess.run(["umount", str(path)], check=False)


def test_a_spool_that_cannot_be_written_stops_the_crawl_with_the_reason(tmp_path: Path) -> None:
    spool = tmp_path / "ro"
    if IS_ROOT:
        _mount_tmpfs(spool, "size=1m,ro")
        reason = "Read-only file system"
    else:
        spool.mkdir()
        spool.chmod(0o500)
        reason = "Permission denied"
    try:
        with GeneratedSite(50) as site:
            proc = _crawl(site.url, spool, "-a", "max_pages=5")
            fetched = sum(site.served_pages().values())
        assert proc.returncode != 0
        assert reason in proc.stderr and str(spool) in proc.stderr
        assert fetched == 0, "nothing should be crawled when nothing can be archived"
        assert list(spool.iterdir()) == []
    finally:
        if IS_ROOT:
            _umount(spool)
        else:
            spool.chmod(0o700)


@dataclass
class FullDisk:
    """A crawl whose spool (a 256 KiB tmpfs) filled up part way."""

    crawl_dir: CrawlDir
    log: str
    returncode: int


@pytest.fixture(scope="module")
def full_disk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FullDisk]:
    if not IS_ROOT:
        pytest.skip("a full disk is a small tmpfs, which only root can mount")
    spool = tmp_path_factory.mktemp("full") / "spool"
    _mount_tmpfs(spool, "size=256k")
    try:
        with GeneratedSite(2000) as site:
            proc = _crawl(site.url, spool, "-a", "max_pages=400")
        (root,) = [p for p in spool.iterdir() if p.is_dir() and not p.name.startswith("_")]
        yield FullDisk(CrawlDir.load(root), proc.stderr, proc.returncode)
    finally:
        _umount(spool)


def test_a_full_spool_is_reported_and_the_crawl_ends(full_disk: FullDisk) -> None:
    assert full_disk.returncode == 0, full_disk.log[-3000:]
    assert "No space left on device" in full_disk.log
    assert "event=warc_write_failed" in full_disk.log


def test_no_warc_record_is_corrupted_by_a_full_disk(full_disk: FullDisk) -> None:
    # The crawl could not close its file (closing writes too); recovery cuts the torn tail.
    result = recover_open_files(full_disk.crawl_dir)
    warcs = sorted(full_disk.crawl_dir.root.glob("*.warc.gz"))
    assert warcs, "the records written before the disk filled up must be kept"
    warcio = Path(sys.executable).with_name("warcio")
    responses = 0
    for path in warcs:
        check = subprocess.run([str(warcio), "check", str(path)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        with open(path, "rb") as fh:
            responses += sum(1 for r in ArchiveIterator(fh) if r.rec_type == "response")
    assert responses > 10
    assert set(result.recovered) <= set(warcs)


def test_items_jsonl_holds_only_whole_lines(full_disk: FullDisk) -> None:
    path = full_disk.crawl_dir.root / "items.jsonl"
    for line in path.read_bytes().splitlines():
        json.loads(line)


def test_a_full_disk_leaves_no_empty_files_behind(full_disk: FullDisk) -> None:
    empty = [p.name for p in full_disk.crawl_dir.root.iterdir() if p.stat().st_size == 0]
    assert empty == []
