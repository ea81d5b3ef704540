"""`scrapy crawl news` over the sample site into a bucket, as the end-to-end tests run it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from archiver.devserver.s3server import SeaweedServer
from archiver.devserver.samplesite.manifest import CDN_ADDRESS, CDN_HOST
from tests.support.paths import ROOT

PREFIX = "e2e"


def crawl_command(site_url: str, spool: Path, bucket: str, endpoint: str, *extra: str) -> list[str]:
    """`scrapy crawl news` against the sample site, with delays lowered for a local server."""
    return [
        sys.executable,
        "-m",
        "scrapy",
        "crawl",
        "news",
        "-a",
        f"urls={site_url}/",
        "-s",
        f"ARCHIVER_WARC_DIR={spool}",
        "-s",
        f"ARCHIVER_S3_BUCKET={bucket}",
        "-s",
        f"ARCHIVER_S3_PREFIX={PREFIX}",
        "-s",
        f"ARCHIVER_S3_ENDPOINT_URL={endpoint}",
        "-s",
        "DOWNLOAD_DELAY=0",
        "-s",
        "AUTOTHROTTLE_START_DELAY=0.01",
        "-s",
        "ARCHIVER_CLEAN_WORKERS=2",
        # The sample site is on loopback, which the address guard refuses unless allowed.
        "-s",
        "ARCHIVER_ALLOWED_NETWORKS=127.0.0.0/8",
        # The sample site's CDN host name, answered without DNS (on another loopback address).
        "-s",
        f'ARCHIVER_HOSTS={{"{CDN_HOST}": "{CDN_ADDRESS}"}}',
        *extra,
    ]


def run_crawl(
    command: list[str], server: SeaweedServer, log: Path
) -> subprocess.CompletedProcess[str]:
    """Run a crawl command in the repository root to its end, its output going to the log."""
    env = {**os.environ, **server.env()}
    with open(log, "w", encoding="utf-8") as out:
        return subprocess.run(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, text=True, timeout=600
        )
