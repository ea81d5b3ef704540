"""`archiver crawl URL...` from a directory outside the checkout: no scrapy.cfg, no sites
file; a second crawl of the host uses its history; the live line in a terminal; no bucket."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from archiver.devserver.samplesite import SampleSite
from tests.support.s3 import S3Bucket

LOCAL = ("ARCHIVER_ALLOWED_NETWORKS=127.0.0.0/8", "AUTOTHROTTLE_START_DELAY=0.01")


def archiver(*args: str, settings: tuple[str, ...] = ()) -> list[str]:
    command = [sys.executable, "-m", "archiver"]
    for pair in ("ARCHIVER_WARC_DIR=spool", "ARCHIVER_CLEAN_WORKERS=1", *LOCAL, *settings):
        command += ["-s", pair]
    return [*command, *args]


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)


def test_a_one_off_crawl_runs_anywhere_and_the_next_one_revisits(
    s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    work = tmp_path / "elsewhere"
    work.mkdir()
    storage = (
        f"ARCHIVER_S3_BUCKET={s3_bucket.name}",
        "ARCHIVER_S3_PREFIX=adhoc",
        f"ARCHIVER_S3_ENDPOINT_URL={s3_bucket.server.endpoint_url}",
    )
    with SampleSite() as site:
        command = archiver("crawl", site.url + "/", "--max-pages", "15", "--json", settings=storage)
        first = run(command, work)
        second = run(command, work)
        name = "127.0.0.1_" + site.url.rsplit(":", 1)[1]
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    (one,) = json.loads(first.stdout)["sites"]
    (two,) = json.loads(second.stdout)["sites"]
    assert one["site"] == two["site"] == name and one["status"] == two["status"] == "ok"
    assert one["run"]["pages"]["archived"] >= 10 and one["run"]["pages"]["revisits"] == 0
    # The host's history made the second crawl write revisits and skip recent articles.
    assert two["run"]["pages"]["revisits"] > 0
    assert two["run"]["articles"]["skipped_recent"] > 0
    assert one["run"]["uploads"]["enabled"] is True and two["run"]["uploads"]["waiting"] == []
    spool = work / "spool"
    assert (spool / "_sites" / name / "history.sqlite3").is_file()
    assert not list(spool.rglob("*.toml")), "the generated sites file is removed"
    assert not (work / "scrapy.cfg").exists() and not (work / "sites.toml").exists()
    keys = s3_bucket.list_keys()
    assert any(k.endswith("/manifest.json") and two["crawl_id"] in k for k in keys)
    listed = run(archiver("ls", "--json", settings=storage), work)
    crawls = {c["crawl_id"] for c in json.loads(listed.stdout)["crawls"]}
    assert crawls == {one["crawl_id"], two["crawl_id"]}, (keys, listed.stderr)
    # No live line when standard error is not a terminal.
    assert "pages/s" not in first.stderr


def test_without_a_bucket_it_says_upload_was_off(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_S3")}
    with SampleSite() as site:
        done = subprocess.run(
            archiver("crawl", site.url + "/", "--max-pages", "2"),
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    assert done.returncode == 0, done.stderr
    assert "upload=off" in done.stdout and "uploads_waiting" not in done.stdout
    assert "upload was off (ARCHIVER_S3_BUCKET is empty)" in done.stderr
    assert str(tmp_path / "spool") in done.stderr


def test_in_a_terminal_a_live_line_counts_pages_articles_rate_and_errors(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_S3")}
    slow = ("DOWNLOAD_DELAY=0.3", "AUTOTHROTTLE_ENABLED=false")
    master, slave = pty.openpty()
    seen = b""
    with SampleSite() as site:
        proc = subprocess.Popen(
            archiver("crawl", site.url + "/", "--max-pages", "8", settings=slow),
            cwd=tmp_path,
            env={**env, "COLUMNS": "200"},
            stdout=subprocess.PIPE,
            stderr=slave,
        )
        os.close(slave)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                seen += chunk
            elif proc.poll() is not None:
                break
        out = proc.communicate(timeout=60)[0]
    os.close(master)
    text = seen.decode("utf-8", "replace")
    assert proc.returncode == 0, text
    assert "pages/s" in text and " articles, " in text and " errors" in text
    assert "127.0.0.1_" in text
    assert b": ok " in out
    assert not list((tmp_path / "spool" / "_sites").rglob("progress.json"))
