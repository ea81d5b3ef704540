"""`archiver crawl` and `archiver status`: locks between runs, exit codes cron can act on."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from archiver.devserver.s3server import SeaweedServer
from archiver.devserver.samplesite import SampleSite
from archiver.operations import LockHolder, read_holder
from tests.support.cli_crawl import archiver, sites_file
from tests.support.paths import ROOT
from tests.support.samplesite import ARTICLES
from tests.support.sitecrawl import PREFIX


def run(command: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=ROOT, env=env or dict(os.environ), capture_output=True, text=True, timeout=600
    )


def storage(server: SeaweedServer, bucket: str) -> tuple[str, ...]:
    return (
        f"ARCHIVER_S3_BUCKET={bucket}",
        f"ARCHIVER_S3_PREFIX={PREFIX}",
        f"ARCHIVER_S3_ENDPOINT_URL={server.endpoint_url}",
    )


def dead_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.mark.s3
@pytest.mark.slow
def test_two_runs_of_one_site_at_once_one_runs_the_other_says_so(
    s3_server: SeaweedServer, tmp_path: Path
) -> None:
    bucket = "cli-" + secrets.token_hex(4)
    s3_server.create_bucket(bucket)
    spool = tmp_path / "spool"
    env = {**os.environ, **s3_server.env()}
    with SampleSite() as site:
        sites = sites_file(tmp_path / "sites.toml", site.url)
        slow = (*storage(s3_server, bucket), "DOWNLOAD_DELAY=0.06", "AUTOTHROTTLE_ENABLED=false")
        command = archiver(
            "crawl", "--site", "sample", "--json", spool=spool, sites=sites, extra=slow
        )
        first = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        second = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        while first.poll() is None and second.poll() is None:
            time.sleep(0.02)
        # The one that ended at once was kept out; the other is still crawling.
        if first.poll() is not None:
            first, second = second, first
        second_out = second.communicate(timeout=600)[0]
        holder = read_holder(spool / "_sites" / "sample" / "lock")
        assert holder is not None and holder.alive() and first.poll() is None
        # A third run waits for the lock instead, then crawls (incrementally: little to do).
        waiting = run(
            archiver(
                "crawl", "--site", "sample", "--wait", "300", spool=spool, sites=sites, extra=slow
            ),
            env,
        )
        first_out = first.communicate(timeout=600)[0]
    assert (first.returncode, second.returncode) == (0, 0), (first_out, second_out)
    results = [json.loads(out)["sites"][0] for out in (first_out, second_out)]
    statuses = sorted(r["status"] for r in results)
    assert statuses == ["already_running", "ok"], results
    (blocked,) = [r for r in results if r["status"] == "already_running"]
    (ran,) = [r for r in results if r["status"] == "ok"]
    assert blocked["detail"].startswith(f"pid {holder.pid} on {socket.gethostname()} since")
    assert "archiver crawl --site sample" in blocked["detail"]
    assert ran["run"]["finish_reason"] == "finished" and ran["problems"] == []
    assert waiting.returncode == 0 and waiting.stdout.startswith("sample: ok"), waiting.stdout
    runs = [json.loads(line) for line in (spool / "_sites" / "sample" / "runs.jsonl").open()]
    assert runs[0]["crawl_id"] == ran["crawl_id"]
    assert len(runs) == 2 and runs[1]["started"] >= runs[0]["finished"]
    assert read_holder(spool / "_sites" / "sample" / "lock") is None


@pytest.mark.s3
@pytest.mark.slow
def test_exit_codes_flag_real_trouble_and_status_shows_it(
    s3_server: SeaweedServer, tmp_path: Path
) -> None:
    bucket = "cli-" + secrets.token_hex(4)
    s3_server.create_bucket(bucket)
    spool = tmp_path / "spool"
    env = {**os.environ, **s3_server.env()}
    # "empty" usually yields articles: its earlier runs saw some.
    history = spool / "_sites" / "empty" / "runs.jsonl"
    history.parent.mkdir(parents=True)
    earlier = {"finish_reason": "finished", "articles": {"seen": 12}}
    history.write_text("".join(json.dumps(earlier) + "\n" for _ in range(3)))
    with SampleSite() as site:
        sites = sites_file(tmp_path / "sites.toml", site.url, dead_url())
        extra = (*storage(s3_server, bucket), "DOWNLOAD_DELAY=0", "RETRY_TIMES=1")
        done = run(
            archiver(
                "crawl", "--all", "--parallel", "3", "--json", spool=spool, sites=sites, extra=extra
            ),
            env,
        )
        # Storage unreachable: the files wait in the spool.
        offline = (
            f"ARCHIVER_S3_BUCKET={bucket}",
            f"ARCHIVER_S3_ENDPOINT_URL={dead_url()}",
            "ARCHIVER_S3_MAX_ATTEMPTS=1",
            "DOWNLOAD_DELAY=0",
        )
        stuck = run(
            archiver("crawl", "--site", "sample", spool=spool, sites=sites, extra=offline), env
        )
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads(done.stdout)
    by_site = {r["site"]: r for r in report["sites"]}
    assert sorted(by_site) == ["broken", "empty", "sample"]  # "off" is not enabled
    assert by_site["sample"]["status"] == "ok", by_site["sample"]
    assert by_site["sample"]["run"]["articles"]["seen"] == len(ARTICLES)
    assert by_site["empty"]["status"] == "problem"
    assert by_site["empty"]["problems"] == ["no_articles"]
    assert by_site["broken"]["status"] == "problem"
    (rate,) = by_site["broken"]["problems"]
    assert rate.startswith("error_rate:") and rate.endswith(">0.20")
    for result in by_site.values():
        assert Path(result["log"]).is_file()

    assert stuck.returncode == 1, stuck.stdout + stuck.stderr
    assert stuck.stdout.startswith("sample: PROBLEM problems=uploads_waiting,history_backup_failed")

    # A crashed run's lock record, for status to find.
    dead_lock = LockHolder(
        site="broken", pid=2**22 + 17, host=socket.gethostname(), since=datetime.now(UTC)
    )
    (spool / "_sites" / "broken" / "lock").write_text(json.dumps(dead_lock.to_json()))
    status = run(archiver("status", "--json", spool=spool, sites=sites, extra=extra), env)
    assert status.returncode == 1
    doc: dict[str, Any] = json.loads(status.stdout)
    sites_status = {s["site"]: s for s in doc["sites"]}
    assert sites_status["sample"]["last_run"]["problems"] == [
        "uploads_waiting",
        "history_backup_failed",
    ]
    assert sites_status["sample"]["history"]["articles"] == len(ARTICLES)
    assert sites_status["off"]["last_run"] is None and not sites_status["off"]["enabled"]
    assert "stale_lock" in sites_status["broken"]["problems"]
    assert doc["spool"]["waiting_files"] > 0
    assert any(p.startswith("uploads_waiting:") for p in doc["problems"])
    human = run(archiver("status", spool=spool, sites=sites, extra=extra), env)
    assert human.returncode == 1 and "STALE (dead pid" in human.stdout
