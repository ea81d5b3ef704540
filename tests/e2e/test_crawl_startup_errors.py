"""`scrapy crawl news` that cannot start, or fetches nothing, says why in one line.

No traceback, a non-zero exit code: 2 for a bad argument or setting (nothing ran), 1 for a
crawl whose start URLs all failed.  Unknown hosts use the .invalid top-level domain, which
never resolves and is answered without a DNS query (RFC 6761).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import ROOT

pytestmark = pytest.mark.slow


def scrapy_crawl(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`scrapy crawl news ARGS` from the checkout, into a spool of its own, no retries."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ARCHIVER_", "AWS_"))}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "scrapy",
            "crawl",
            "news",
            "-s",
            f"ARCHIVER_WARC_DIR={tmp_path / 'spool'}",
            "-s",
            "RETRY_TIMES=0",
            *args,
        ],
        cwd=ROOT,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def last_line(proc: subprocess.CompletedProcess[str]) -> str:
    output = proc.stdout + proc.stderr
    assert "Traceback" not in output, output[-3000:]
    assert "never retrieved" not in output, output[-3000:]
    return proc.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("urls", "message"),
    [
        ("", "Error: give the pages to start from: -a urls=URL[,URL...]"),
        ("not a url", "Error: not an http(s) URL: 'not a url'"),
        ("ftp://files.example/news", "Error: not an http(s) URL: 'ftp://files.example/news'"),
    ],
)
def test_bad_start_urls_are_one_line_and_exit_2(tmp_path: Path, urls: str, message: str) -> None:
    proc = scrapy_crawl(tmp_path, "-a", f"urls={urls}")
    assert proc.returncode == 2
    assert last_line(proc) == message


def test_redis_frontier_without_a_crawl_id_is_one_line_and_exit_2(tmp_path: Path) -> None:
    proc = scrapy_crawl(
        tmp_path,
        "-a",
        "urls=http://news.invalid/",
        "-s",
        "ARCHIVER_REDIS_URL=redis://127.0.0.1:9/0",
    )
    assert proc.returncode == 2
    assert last_line(proc).startswith("Error: ARCHIVER_REDIS_URL needs ARCHIVER_CRAWL_ID")


@pytest.mark.parametrize("source", ["-s", "environment", "settings file"])
def test_a_misspelt_setting_stops_the_crawl_before_it_starts(tmp_path: Path, source: str) -> None:
    args = ["-a", "urls=http://news.invalid/"]
    env: dict[str, str] = {}
    if source == "-s":
        args += ["-s", "ARCHIVER_ALLOWED_NETWORK=127.0.0.0/8"]
        where = "-s on the command line"
    elif source == "environment":
        env["ARCHIVER_ALLOWED_NETWORK"] = "127.0.0.0/8"
        where = "in the environment"
    else:
        config = tmp_path / "archiver.toml"
        config.write_text('ARCHIVER_ALLOWED_NETWORK = ["127.0.0.0/8"]\n', encoding="utf-8")
        env["ARCHIVER_CONFIG"] = str(config)
        where = "in the settings file"
    proc = scrapy_crawl(tmp_path, *args, env=env)
    assert proc.returncode == 2
    line = last_line(proc)
    assert f"unknown setting ARCHIVER_ALLOWED_NETWORK ({where})" in line
    assert line.endswith("did you mean ARCHIVER_ALLOWED_NETWORKS?")
    # Stopped before the crawler existed: no log at all, nothing in the spool.
    assert proc.stderr.strip().count("\n") == 0
    assert not (tmp_path / "spool").exists()


def test_an_unknown_host_ends_with_a_summary_and_exit_1(tmp_path: Path) -> None:
    proc = scrapy_crawl(tmp_path, "-a", "urls=http://no-such-host.invalid/")
    assert proc.returncode == 1
    assert last_line(proc) == (
        "Error: nothing could be fetched: http://no-such-host.invalid/: unknown host "
        "no-such-host.invalid (DNS lookup found no address): is the URL right?"
    )
    assert "'archiver/spider/start_failed': 1" in proc.stderr
    # The project's own settings raise no deprecation warning.
    assert "ScrapyDeprecationWarning" not in proc.stderr


def test_a_refused_address_names_the_setting_that_allows_it(tmp_path: Path) -> None:
    proc = scrapy_crawl(tmp_path, "-a", "urls=http://127.0.0.1:9/")
    assert proc.returncode == 1
    line = last_line(proc)
    assert line.startswith("Error: nothing could be fetched: http://127.0.0.1:9/: 127.0.0.1 is")
    assert line.endswith("to allow it: -s ARCHIVER_ALLOWED_NETWORKS=127.0.0.0/8")
