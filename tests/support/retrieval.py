"""Shared by the retrieval tests: one crawl of the sample site stored in SeaweedFS.

The crawl runs once per session (the first test that asks for it) and every retrieval test
reads what it left in the bucket, as a researcher would.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from archiver.cli import main
from archiver.devserver.s3server import SeaweedServer
from archiver.devserver.samplesite import EXPECTED_DIR, PageInfo, SampleSite, site_manifest
from tests.support.crawl import PREFIX, crawl_command, run_crawl

# Small files, so the crawl spans several WARCs and some metadata records land in the file
# after their response's.
WARC_MAX_SIZE = 40_000


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


def run(
    capsys: pytest.CaptureFixture[str], crawl: ArchivedCrawl | None, *args: str
) -> tuple[int, str, str]:
    """`archiver ARGS` in this process, on the crawl's bucket if given: exit code, out, err."""
    capsys.readouterr()
    code = main([*(crawl.settings() if crawl else []), *args])
    out, err = capsys.readouterr()
    return code, out, err
