"""`archiver replay`: pywb over the bucket with our index; a captured article opens in Chromium."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from archiver.devserver.s3server import SeaweedServer
from tests.support.replay import archiver_replay
from tests.support.retrieval import ArchivedCrawl, archived_crawl
from tests.support.tools import PYWB_VENV, chromium, chromium_dump_dom, pywb_bin

pytestmark = [pytest.mark.s3, pytest.mark.slow]


@pytest.fixture(scope="module")
def crawl(s3_server: SeaweedServer, tmp_path_factory: pytest.TempPathFactory) -> ArchivedCrawl:
    return archived_crawl(s3_server, tmp_path_factory.mktemp("retrieval"))


@dataclass
class Replay:
    """A running `archiver replay` process and the URL it printed."""

    proc: subprocess.Popen[str]
    url: str
    page_url: str
    workdir: Path


@pytest.fixture(scope="module")
def replay(crawl: ArchivedCrawl, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replay]:
    workdir = tmp_path_factory.mktemp("replay")
    with archiver_replay(crawl.settings(), crawl.server.env(), workdir, crawl.seed_url) as running:
        yield Replay(running.proc, running.url, running.page_url, workdir)


def _get(url: str) -> bytes:
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url, timeout=20) as resp:
                return bytes(resp.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_replay_prints_a_loopback_url_and_uses_our_index_over_s3(
    replay: Replay, crawl: ArchivedCrawl
) -> None:
    assert replay.url.startswith("http://127.0.0.1:") and replay.url.endswith("/news/")
    assert replay.page_url == replay.url + crawl.seed_url
    config = (replay.workdir / "config.yaml").read_text()
    assert f"s3://{crawl.bucket}/{crawl.prefix}/" in config and "zipnum+" in config
    assert crawl.server.env()["AWS_SECRET_ACCESS_KEY"] not in config
    loc = next(replay.workdir.rglob("cluster.loc")).read_text()
    assert f"s3://{crawl.bucket}/{crawl.prefix}/_index/runs/" in loc
    # id_ asks pywb for the archived payload itself, read from S3 by range.
    body = _get(f"{replay.url}2026id_/{crawl.seed_url}")
    assert crawl.seed["title"].encode() in body


def test_a_captured_article_is_visible_in_headless_chromium(
    replay: Replay, crawl: ArchivedCrawl, tmp_path: Path
) -> None:
    chromium()
    # The URL `archiver replay --url` printed: the page as pywb rewrites it for a browser.
    dom = chromium_dump_dom(replay.page_url, tmp_path / "profile")
    first_sentence = crawl.seed["body"].split(".")[0]
    assert crawl.seed["title"] in dom
    assert first_sentence in dom
    # Links in the replayed page point back into the archive, not to the live site: pywb
    # rewrites them as it serves the page. (Chromium's DOM dump is no witness for this: wombat
    # shows scripts the original URLs, and the dump of the page's head varies from run to run.
    # tests/e2e/test_replay_requisites.py counts the requests the browser really makes.)
    served = _get(replay.page_url).decode()
    assert f'href="{crawl.site_url}/' not in served
    assert f'href="/news/cs_/{crawl.site_url}/static/css/site.css"' in served


def test_replay_with_its_relative_defaults_from_another_directory(
    crawl: ArchivedCrawl, tmp_path: Path
) -> None:
    # The defaults (ARCHIVER_REPLAY_VENV=var/pywb-venv, --dir var/replay) are relative: they
    # are taken from the directory the command runs in, and pywb, which runs in its own
    # directory, must still find its virtualenv and the index files config.yaml names.
    pywb_bin()
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "pywb-venv").symlink_to(PYWB_VENV)
    proc = subprocess.Popen(
        [sys.executable, "-m", "archiver", *crawl.settings(), "replay", "--url", crawl.seed_url],
        cwd=tmp_path,
        env={**os.environ, **crawl.server.env()},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url:
            proc.wait(timeout=30)
            pytest.fail(
                f"archiver replay printed no URL: {proc.stderr.read() if proc.stderr else ''}"
            )
        body = _get(f"{url}2026id_/{crawl.seed_url}")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert crawl.seed["title"].encode() in body
    config = (tmp_path / "var" / "replay" / "config.yaml").read_text()
    assert f"zipnum+{tmp_path.resolve()}/var/replay/index/" in config
