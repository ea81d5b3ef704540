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

from archiver.crawler.frontier import FRONTIER_DIR
from archiver.devserver.s3server import SeaweedServer
from archiver.devserver.samplesite import SampleSite, site_manifest
from archiver.devserver.samplesite.manifest import CDN_ADDRESS, CDN_HOST
from archiver.operations import read_holder
from tests.support.paths import ROOT
from tests.support.sitecrawl import PREFIX, SITE, read_records, write_sites


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
        # The sample site's CDN host (page requisites), answered without DNS.
        f'ARCHIVER_HOSTS={{"{CDN_HOST}": "{CDN_ADDRESS}"}}',
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


@pytest.mark.s3
@pytest.mark.slow
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
    run = result["run"]
    assert run["resumed"] is True and run["unclean_resume"] is True
    assert run["pages"]["replayed"] >= killed_captures - 2
    assert_one_complete_crawl(
        s3_server, bucket, spool, result, killed_dir.name, holder.child_pid, pages, sent_after, base
    )


def assert_one_complete_crawl(
    server: SeaweedServer,
    bucket: str,
    spool: Path,
    result: dict[str, Any],
    crawl_id: str,
    first_pid: int,
    pages: list[Any],
    sent_after: list[Any],
    base: str,
) -> None:
    """The crawl ended once, complete: every page archived once, items once, all uploaded."""
    # The same crawl, continued.
    assert result["crawl_id"] == crawl_id
    run: dict[str, Any] = result["run"]
    assert run["finish_reason"] == "finished" and run["problems"] == []
    assert not list(spool.rglob("*.open"))
    assert not (spool / "_sites" / SITE / "job").exists()
    client = server.client()
    prefix = f"{PREFIX}/{run['started'][:10]}/{crawl_id}/"
    manifest = json.loads(
        client.get_object(Bucket=bucket, Key=prefix + "manifest.json")["Body"].read()
    )
    assert manifest["uploads_waiting"] == []
    names = [f["name"] for f in manifest["files"]]
    # Files of both processes: the first one's (its pid in the name) and the second's.
    assert any(f"-{first_pid}.warc.gz" in n for n in names), names
    assert any(f"-{first_pid}.warc.gz" not in n for n in names), names
    records = []
    for entry in manifest["files"]:
        assert entry["uploaded"] is True
        data = client.get_object(Bucket=bucket, Key=entry["key"])["Body"].read()
        assert len(data) == entry["size"] or entry["size"] == 0
        records += read_records(data, entry["name"])

    http = [r for r in records if r["type"] in ("response", "revisit")]
    # Nothing lost: every URL the site serves (robots.txt permitting) is archived.
    archived = {r["uri"] for r in http}
    # (The tracking pixel's host refuses it in its robots.txt.)
    expected = {p.url for p in pages if p.kind != "private" and not p.disallowed}
    assert expected <= archived, sorted(expected - archived)
    # Nothing twice: one record per URL (a 5xx page is retried, so it may have several).
    counts = Counter(r["uri"] for r in http if r["status"] is not None and r["status"] < 500)
    assert [u for u, n in counts.items() if n > 1] == []
    articles = {p.url for p in pages if p.kind == "article"}
    metadata = Counter(r["uri"] for r in records if r["type"] == "metadata")
    assert set(metadata) == articles and set(metadata.values()) == {1}
    items = client.get_object(Bucket=bucket, Key=prefix + "items.jsonl")["Body"].read()
    assert Counter(json.loads(line)["url"] for line in items.decode().splitlines()) == Counter(
        {url: 1 for url in articles}
    )
    # What the first process had fetched was not fetched again.
    refetched = Counter(base + s.path for s in sent_after if s.status < 500)
    assert [u for u, n in refetched.items() if n > 1] == []


@pytest.mark.s3
@pytest.mark.slow
def test_a_crawl_stopped_with_sigterm_resumes_from_scrapys_jobdir(
    s3_server: SeaweedServer, tmp_path: Path
) -> None:
    bucket = "stop-" + secrets.token_hex(4)
    s3_server.create_bucket(bucket)
    spool = tmp_path / "spool"
    env = {**os.environ, **s3_server.env()}
    with SampleSite() as site:
        sites = write_sites(tmp_path / "sites.toml", site.url)
        common = ("ARCHIVER_WARC_MAX_SIZE=60000",)
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
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        deadline = time.monotonic() + 120
        while journal_captures(spool) < 20:
            assert slow.poll() is None, "the crawl ended before it could be stopped"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        holder = read_holder(spool / "_sites" / SITE / "lock")
        assert holder is not None and holder.child_pid is not None
        # The queue of a site crawl is its JOBDIR, which resumes; never a private frontier.
        assert (spool / "_sites" / SITE / "job" / "requests.queue").is_dir()
        assert not (spool / FRONTIER_DIR).exists()
        # systemctl stop, or Ctrl-C: the command passes one SIGTERM to its crawl.
        slow.send_signal(signal.SIGTERM)
        stopped_out = slow.communicate(timeout=300)[0]
        job = json.loads((spool / "_sites" / SITE / "job" / "archiver-job.json").read_text())
        # Scrapy's own state for a clean resume: the queue of what was still to fetch.
        queue_kept = (spool / "_sites" / SITE / "job" / "requests.queue" / "active.json").exists()
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

    assert slow.returncode == 128 + signal.SIGTERM
    (stopped,) = json.loads(stopped_out)["sites"]
    assert stopped["status"] == "stopped" and stopped["run"]["finish_reason"] == "shutdown"
    assert job["state"] == "stopped" and job["crawl_id"] == stopped["crawl_id"]
    assert queue_kept, "Scrapy kept no queue to resume from"
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    (result,) = json.loads(resumed.stdout)["sites"]
    assert result["status"] == "ok", result
    assert result["run"]["resumed"] is True and result["run"]["unclean_resume"] is False
    assert_one_complete_crawl(
        s3_server,
        bucket,
        spool,
        result,
        stopped["crawl_id"],
        holder.child_pid,
        pages,
        sent_after,
        base,
    )
