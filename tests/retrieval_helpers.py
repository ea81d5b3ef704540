"""Shared by the retrieval tests: one crawl of the sample site stored in SeaweedFS, pywb, chromium.

The crawl runs once per session (the first test that asks for it) and every retrieval test
reads what it left in the bucket, as a researcher would.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from archiver.access import ReplayError, ensure_pywb
from archiver.devserver.s3server import SeaweedServer
from archiver.devserver.samplesite import EXPECTED_DIR, PageInfo, SampleSite, site_manifest
from tests.test_crawl_e2e import PREFIX, crawl_command, run_crawl

ROOT = Path(__file__).resolve().parent.parent
PYWB_VENV = ROOT / "var" / "pywb-venv"
WACZ_VENV = ROOT / "var" / "wacz-venv"
CHROMIUM = Path("/usr/bin/chromium")
# Small files, so the crawl spans several WARCs and some metadata records land in the file
# after their response's.
WARC_MAX_SIZE = 40_000


def pywb_bin() -> Path:
    """pywb in its own virtualenv (it pins an old redis client), built once and reused."""
    try:
        return ensure_pywb(PYWB_VENV)
    except (ReplayError, subprocess.SubprocessError, OSError) as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"pywb cannot be installed here: {exc}")


def wacz_bin() -> Path:
    """The `wacz` validator in its own virtualenv (its pins differ from ours), built once."""
    wacz = WACZ_VENV / "bin" / "wacz"
    if wacz.exists():
        return wacz
    subprocess.run(["python3", "-m", "venv", str(WACZ_VENV)], check=True, timeout=300)
    install = subprocess.run(
        [str(WACZ_VENV / "bin" / "pip"), "install", "--quiet", "wacz>=0.5"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if install.returncode != 0 or not wacz.exists():
        if os.environ.get("CI") == "true":
            raise RuntimeError(f"wacz cannot be installed: {install.stderr[-500:]}")
        pytest.skip(f"wacz cannot be installed here: {install.stderr.strip()[-500:]}")
    return wacz


def chromium() -> Path:
    """Debian's chromium; a failure under CI (.ci/run installs it), a skip elsewhere."""
    if CHROMIUM.exists():
        return CHROMIUM
    if os.environ.get("CI") == "true":
        pytest.fail("chromium is missing: .ci/run installs Debian's chromium package")
    pytest.skip("chromium is not installed (apt-get install chromium); CI installs it")


def chromium_dump_dom(url: str, profile: Path, timeout: float = 90) -> str:
    """The DOM of a page after headless chromium ran its scripts, kept off every outside host."""
    proc = subprocess.run(
        [
            str(chromium()),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--disable-extensions",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=10000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ArchivedCrawl:
    """One crawl of the sample site, complete in a bucket of the session server."""

    server: SeaweedServer
    bucket: str
    prefix: str
    crawl_id: str
    date: str
    site_url: str
    manifest: dict[str, Any]
    pages: list[PageInfo]
    seed: dict[str, Any]
    log: str

    @property
    def seed_url(self) -> str:
        """The seed article's URL (its clean text is known exactly)."""
        return self.site_url + str(self.seed["url_path"])

    def settings(self) -> list[str]:
        """`-s` options that point an archiver command at this bucket."""
        return [
            "-s",
            f"ARCHIVER_S3_BUCKET={self.bucket}",
            "-s",
            f"ARCHIVER_S3_PREFIX={self.prefix}",
        ]

    def list_keys(self) -> list[str]:
        """Every key in the bucket."""
        client = self.server.client()
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))

    def articles(self) -> list[PageInfo]:
        """The sample site's article pages."""
        return [p for p in self.pages if p.kind == "article"]


_CRAWLS: dict[int, ArchivedCrawl] = {}


def archived_crawl(server: SeaweedServer, work: Path) -> ArchivedCrawl:
    """The session's crawl of the sample site, run on first use."""
    cached = _CRAWLS.get(id(server))
    if cached is not None:
        return cached
    bucket = "ret-" + secrets.token_hex(4)
    server.create_bucket(bucket)
    with SampleSite() as site:
        spool = work / "spool"
        log = work / "crawl.log"
        command = crawl_command(
            site.url,
            spool,
            bucket,
            server.endpoint_url,
            "-s",
            f"ARCHIVER_WARC_MAX_SIZE={WARC_MAX_SIZE}",
        )
        proc = run_crawl(command, server, log)
        text = log.read_text(encoding="utf-8")
        assert proc.returncode == 0, text[-4000:]
        client = server.client()
        manifest_key = next(
            o["Key"]
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            for o in page.get("Contents", [])
            if o["Key"].endswith("/manifest.json")
        )
        manifest = json.loads(client.get_object(Bucket=bucket, Key=manifest_key)["Body"].read())
        crawl = ArchivedCrawl(
            server=server,
            bucket=bucket,
            prefix=PREFIX,
            crawl_id=manifest["crawl_id"],
            date=manifest_key.split("/")[1],
            site_url=site.url,
            manifest=manifest,
            pages=site_manifest(site.url),
            seed=json.loads((EXPECTED_DIR / "seed-article.json").read_text(encoding="utf-8")),
            log=text,
        )
    _CRAWLS[id(server)] = crawl
    return crawl


def remove_tree(path: Path) -> None:
    """Remove a directory tree if it is there."""
    shutil.rmtree(path, ignore_errors=True)
