"""Two `scrapy crawl` workers sharing one frontier in a real Redis over the sample site."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from archiver.devserver.localredis import LocalRedis
from archiver.devserver.s3server import SeaweedServer
from archiver.devserver.samplesite import SampleSite, site_manifest
from tests.support.crawl import PREFIX, crawl_command
from tests.support.paths import ROOT

pytestmark = [pytest.mark.s3, pytest.mark.slow]


def test_two_workers_share_the_frontier_fetch_each_page_once_and_merge_their_manifests(
    s3_server: SeaweedServer, redis_server: LocalRedis, tmp_path: Path
) -> None:
    bucket = "dist-" + secrets.token_hex(4)
    s3_server.create_bucket(bucket)
    crawl_id = "dist-" + secrets.token_hex(4)
    env = {**os.environ, **s3_server.env()}
    with SampleSite() as site:
        procs = []
        for n in range(2):
            command = crawl_command(
                site.url,
                tmp_path / f"spool-{n}",
                bucket,
                s3_server.endpoint_url,
                "-s",
                f"ARCHIVER_REDIS_URL={redis_server.url}",
                "-s",
                f"ARCHIVER_CRAWL_ID={crawl_id}",
                "-s",
                "ARCHIVER_REDIS_IDLE_TIMEOUT=3",
                # Slow enough that both workers are up while there is still work to share,
                # and each worker takes only a couple of requests from the queue at a time
                # (an idle worker looks at the queue on Scrapy's 5-second heartbeat).
                "-s",
                "DOWNLOAD_DELAY=0.25",
                "-s",
                "CONCURRENT_REQUESTS=2",
                "-s",
                "CONCURRENT_REQUESTS_PER_DOMAIN=1",
                "-s",
                "ARCHIVER_CLEAN_WORKERS=1",
            )
            log = open(tmp_path / f"worker-{n}.log", "w", encoding="utf-8")  # noqa: SIM115
            procs.append(
                (subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log), log)
            )
        for proc, log in procs:
            assert proc.wait(timeout=600) == 0, (tmp_path / "worker-0.log").read_text()[-3000:]
            log.close()
        # The site's own host (requisites on its CDN host are fetched once each as well).
        served = Counter(s.path for s in site.sent if s.host == "site")
        pages = site_manifest(site.url)

    # Every page once in total; robots.txt once per worker (each obeys it on its own), and
    # the 5xx page as often as Scrapy retries one request (RETRY_TIMES=2: 3 attempts).
    assert served["/robots.txt"] <= 2
    errors = {p.path for p in pages if p.kind == "error"}
    assert all(served[path] == 3 for path in errors)
    twice = {
        path: n
        for path, n in served.items()
        if n > 1 and path != "/robots.txt" and path not in errors
    }
    assert not twice, f"fetched more than once: {twice}"
    expected = {p.path for p in pages if p.kind != "private" and p.host == "site"}
    assert expected <= set(served)

    client = s3_server.client()
    keys = [
        o["Key"]
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for o in page.get("Contents", [])
    ]
    worker_manifests = [k for k in keys if k.endswith("/manifest.json") and f"/{crawl_id}." in k]
    assert len(worker_manifests) == 2
    worker_docs = [
        json.loads(client.get_object(Bucket=bucket, Key=k)["Body"].read()) for k in worker_manifests
    ]
    # Both workers did work: each fetched pages beyond its robots.txt.
    for doc in worker_docs:
        assert doc["stats"]["archiver/warc/responses"] > 1, doc["crawl_id"]
    merged_key = next(k for k in keys if k.endswith(f"/{crawl_id}/manifest.json"))
    merged = json.loads(client.get_object(Bucket=bucket, Key=merged_key)["Body"].read())
    assert merged["crawl_id"] == crawl_id
    assert len(merged["workers"]) == 2
    assert sorted(f["name"] for f in merged["files"]) == sorted(
        f["name"] for doc in worker_docs for f in doc["files"]
    )
    assert merged["stats"]["archiver/warc/responses"] == sum(
        doc["stats"]["archiver/warc/responses"] for doc in worker_docs
    )
    # The union of the workers' WARCs covers the site.
    assert all(k.startswith(f"{PREFIX}/") for k in keys)
    assert merged["stats"]["archiver/warc/responses"] >= len(expected)


def test_distributed_mode_without_a_crawl_id_is_refused_clearly(
    redis_server: LocalRedis, tmp_path: Path
) -> None:
    with SampleSite() as site:
        command = [
            sys.executable,
            "-m",
            "scrapy",
            "crawl",
            "news",
            "-a",
            f"urls={site.url}/",
            "-s",
            f"ARCHIVER_WARC_DIR={tmp_path}",
            "-s",
            f"ARCHIVER_REDIS_URL={redis_server.url}",
            "-s",
            "ARCHIVER_CRAWL_ID=",
        ]
        proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "ARCHIVER_REDIS_URL needs ARCHIVER_CRAWL_ID" in proc.stderr
