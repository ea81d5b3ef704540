"""The archive the documentation's examples run against: the sample site crawled into a bucket.

One crawl per session, with the default prefix, while the sample site keeps serving (some
examples crawl it again). `DocArchive.env` is the environment of a deployment pointed at
it, plus the variables a doc-test variant may use (CONTRIBUTING.md lists them).
"""

from __future__ import annotations

import json
import os
import random
import secrets
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from archiver.devserver.s3server import SeaweedServer
from archiver.devserver.samplesite import EXPECTED_DIR, SampleSite
from tests.support.crawl import crawl_command, run_crawl

# The default of ARCHIVER_S3_PREFIX, which the documents' examples assume.
PREFIX = "news-archiver"


@dataclass
class DocArchive:
    """A complete crawl of the live sample site in a bucket of the session's SeaweedFS."""

    server: SeaweedServer
    bucket: str
    crawl_id: str
    day: str  # the crawl's date, YYYY-MM-DD
    site_url: str
    article_url: str
    spool: Path
    work: Path  # the cache, data and config directories live here

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """os.environ with the deployment's settings and the variants' variables."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")}
        env.update(self.server.env())
        env.update(
            {
                # `archiver` and `scrapy` as an activated virtualenv finds them.
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
                "ARCHIVER_S3_BUCKET": self.bucket,
                "ARCHIVER_S3_ENDPOINT_URL": self.server.endpoint_url,
                "ARCHIVER_ALLOWED_NETWORKS": "127.0.0.0/8",
                # Crawls run in the checkout keep their WARCs out of its var/spool.
                "ARCHIVER_WARC_DIR": str(self.spool),
                "XDG_CACHE_HOME": str(self.work / "cache"),
                "XDG_DATA_HOME": str(self.work / "data"),
                "XDG_CONFIG_HOME": str(self.work / "config"),
                "SITE": self.site_url,
                "SITE_HOST": self.site_url.split("://", 1)[1].split(":", 1)[0],
                "ARTICLE": self.article_url,
                "BUCKET": self.bucket,
                "CRAWL_ID": self.crawl_id,
                "DAY": self.day,
                "MONTH": self.day[:7],
            }
        )
        env.update(extra or {})
        return env


def build_doc_archive(server: SeaweedServer, site: SampleSite, work: Path) -> DocArchive:
    """Crawl the running sample site into a new bucket with the default prefix."""
    bucket = "docs-" + secrets.token_hex(4)
    server.create_bucket(bucket)
    command = crawl_command(
        site.url,
        work / "crawl-spool",
        bucket,
        server.endpoint_url,
        "-s",
        f"ARCHIVER_S3_PREFIX={PREFIX}",
    )
    log = work / "crawl.log"
    proc = run_crawl(command, server, log)
    if proc.returncode != 0:
        raise RuntimeError(f"the crawl for the doc examples failed:\n{log.read_text()[-4000:]}")
    client = server.client()
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=PREFIX + "/")
    manifests = [
        o["Key"]
        for page in pages
        for o in page.get("Contents", [])
        if o["Key"].endswith("/manifest.json")
    ]
    if len(manifests) != 1:
        raise RuntimeError(f"expected one manifest.json under {PREFIX}/, found {manifests}")
    manifest = json.loads(client.get_object(Bucket=bucket, Key=manifests[0])["Body"].read())
    seed = json.loads((EXPECTED_DIR / "seed-article.json").read_text(encoding="utf-8"))
    (work / "spool").mkdir()
    return DocArchive(
        server=server,
        bucket=bucket,
        crawl_id=str(manifest["crawl_id"]),
        day=manifests[0].split("/")[1],
        site_url=site.url,
        article_url=site.url + str(seed["url_path"]),
        spool=work / "spool",
        work=work,
    )


def server_port() -> int:
    """A free port on 127.0.0.1 whose PORT+10000 is free too (SeaweedFS's gRPC twin of its S3 port)."""
    for _ in range(200):
        port = random.randrange(20_000, 55_000)
        if _free(port) and _free(port + 10_000):
            return port
    raise RuntimeError("no free pair of ports PORT, PORT+10000 on 127.0.0.1")


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
