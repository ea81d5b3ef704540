"""A crawl killed with SIGKILL midway resumes on the next run: same crawl id, nothing lost, nothing twice."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from archiver.locks import read_holder
from archiver.s3server import SeaweedServer
from archiver.samplesite import SampleSite, site_manifest
from tests.test_incremental import PREFIX, SITE, read_records, write_sites

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.s3, pytest.mark.slow]


def archiver_crawl(
    spool: Path, sites: Path, bucket: str, endpoint: str, *settings: str
) -> list[str]:
    """`archiver crawl --site sample --json` with the test's settings."""
    command = [sys.executable, "-m", "archiver"]
    for setting in (
        f"ARCHIVER_SITES_FILE={sites}",
        f"ARCHIVER_WARC_DIR={spool}",
        f"ARCHIVER_S3_BUCKET={bucket}",
        f"ARCHIVER_S3_PREFIX={PREFIX}",
        f"ARCHIVER_S3_ENDPOINT_URL={endpoint}",
        "ARCHIVER_CLEAN_WORKERS=1",
        "ARCHIVER_ALLOWED_NETWORKS=127.0.0.0/8",
        *settings,
    ):
        command += ["-s", setting]
    return [*command, "crawl", "--site", SITE, "--json"]


def journal_captures(spool: Path) -> int:
    journal = spool / "_sites" / SITE / "job" / "journal.jsonl"
    try:
        return journal.read_bytes().count(b'"event": "capture"')
    except FileNotFoundError:
        return 0


def test_a_crawl_killed_midway_resumes_with_nothing_lost_and_nothing_twice(
    s3_server: SeaweedServer, tmp_path: Path
) -> None:
    bucket = "resume-" + secrets.token_hex(4)
    s3_server.create_bucket(bucket)
    spool = tmp_path / "spool"
    env = {**os.environ, **s3_server.env()}
    with SampleSite() as site:
        sites = write_sites(tmp_path / "sites.toml", site.url)
        common = (
            # Small files: the killed run has closed and uploaded some before it dies.
            "ARCHIVER_WARC_MAX_SIZE=60000",
        )
        slow = subprocess.Popen(
            archiver_crawl(
                spool,
                sites,
                bucket,
                s3_server.endpoint_url,
                *common,
                "DOWNLOAD_DELAY=0.15",
                "AUTOTHROTTLE_ENABLED=false",
                "CONCURRENT_REQUESTS_PER_DOMAIN=1",
            ),
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 120
            while journal_captures(spool) < 25:
                assert slow.poll() is None, "the crawl ended before it could be killed"
                assert time.monotonic() < deadline, "the crawl archived nothing for too long"
                time.sleep(0.05)
            holder = read_holder(spool / "_sites" / SITE / "lock")
            assert holder is not None and holder.child_pid is not None
            # The machine "crashes": both processes die at once, nothing is closed.
            os.kill(slow.pid, signal.SIGKILL)
            os.kill(holder.child_pid, signal.SIGKILL)
        finally:
            slow.kill()
            slow.wait()
        deadline = time.monotonic() + 30
        while holder.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        (killed_dir,) = [p for p in spool.iterdir() if p.is_dir() and not p.name.startswith("_")]
        assert list(killed_dir.glob("*.warc.gz.open")), "the kill left no open WARC"
        killed_captures = journal_captures(spool)
        sent_before = len(site.sent)

        resumed = subprocess.run(
            archiver_crawl(
                spool,
                sites,
                bucket,
                s3_server.endpoint_url,
                *common,
                "DOWNLOAD_DELAY=0",
                "AUTOTHROTTLE_START_DELAY=0.01",
            ),
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        sent_after = site.sent[sent_before:]
        pages = site_manifest(site.url)
        base = site.url

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    (result,) = json.loads(resumed.stdout)["sites"]
    assert result["status"] == "ok", result
    assert result["detail"] == f"took over the lock of dead pid {holder.pid}"
    # The same crawl, continued.
    assert result["crawl_id"] == killed_dir.name
    run: dict[str, Any] = result["run"]
    assert run["resumed"] is True and run["unclean_resume"] is True
    assert run["pages"]["replayed"] >= killed_captures - 2
    assert not list(spool.rglob("*.open"))

    client = s3_server.client()
    prefix = f"{PREFIX}/{run['started'][:10]}/{killed_dir.name}/"
    manifest = json.loads(
        client.get_object(Bucket=bucket, Key=prefix + "manifest.json")["Body"].read()
    )
    assert manifest["uploads_waiting"] == []
    names = [f["name"] for f in manifest["files"]]
    # Files of both processes: the killed one's (its pid in the name), the recovered one among them.
    assert any(f"-{holder.child_pid}.warc.gz" in n for n in names), names
    assert any(f"-{holder.child_pid}.warc.gz" not in n for n in names), names
    records = []
    for entry in manifest["files"]:
        assert entry["uploaded"] is True
        data = client.get_object(Bucket=bucket, Key=entry["key"])["Body"].read()
        assert len(data) == entry["size"] or entry["size"] == 0
        records += read_records(data, entry["name"])

    http = [r for r in records if r["type"] in ("response", "revisit")]
    # Nothing lost: every URL the site serves (robots.txt permitting) is archived.
    archived = {r["uri"] for r in http}
    expected = {p.url for p in pages if p.kind != "private"}
    assert expected <= archived, sorted(expected - archived)
    # Nothing twice: one record per URL (a 5xx page is retried, so it may have several).
    counts = Counter(r["uri"] for r in http if r["status"] is not None and r["status"] < 500)
    assert [u for u, n in counts.items() if n > 1] == []
    articles = {p.url for p in pages if p.kind == "article"}
    metadata = Counter(r["uri"] for r in records if r["type"] == "metadata")
    assert set(metadata) == articles and set(metadata.values()) == {1}
    items_key = prefix + "items.jsonl"
    items = client.get_object(Bucket=bucket, Key=items_key)["Body"].read().decode().splitlines()
    assert Counter(json.loads(line)["url"] for line in items) == Counter(
        {url: 1 for url in articles}
    )
    # What the killed run had fetched was replayed from its records, not fetched again.
    refetched = Counter(base + s.path for s in sent_after if s.status < 500)
    assert [u for u, n in refetched.items() if n > 1] == []
