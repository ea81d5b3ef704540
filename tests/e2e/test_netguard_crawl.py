"""The address guard in real crawls, loopback only: refused addresses are never fetched.

Only 127.0.0.1 (and 127.0.0.2, another loopback address) ever receive traffic here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.devserver.samplesite import SampleSite
from tests.support.paths import ROOT


def _crawl(url: str, spool: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], str]:
    command = [
        sys.executable,
        "-m",
        "scrapy",
        "crawl",
        "news",
        "-a",
        f"urls={url}",
        "-s",
        f"ARCHIVER_WARC_DIR={spool}",
        "-s",
        "ARCHIVER_S3_BUCKET=",
        "-s",
        "DOWNLOAD_DELAY=0",
        "-s",
        "AUTOTHROTTLE_ENABLED=false",
        "-s",
        "ARCHIVER_CLEAN_WORKERS=1",
        "-s",
        "RETRY_TIMES=0",
        *args,
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")}
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    return proc, proc.stderr


def _archived(spool: Path) -> list[tuple[str, int]]:
    found = []
    for path in sorted(spool.rglob("*.warc.gz")):
        with open(path, "rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type == "response":
                    status = int(record.http_headers.get_statuscode())
                    found.append((record.rec_headers.get_header("WARC-Target-URI"), status))
    return found


def _refusals(log: str) -> list[dict[str, str]]:
    return [
        dict(re.findall(r"(\w+)=(\S+)", line))
        for line in log.splitlines()
        if "event=address_refused" in line
    ]


@pytest.mark.slow
def test_loopback_url_is_refused_when_not_allowed(tmp_path: Path) -> None:
    with SampleSite() as site:
        proc, log = _crawl(f"{site.url}/", tmp_path / "spool", "-a", "max_pages=3")
    # Nothing could be fetched: `scrapy crawl` says so in its last line and exits 1.
    assert proc.returncode == 1, log[-3000:]
    assert log.strip().splitlines()[-1].endswith("-s ARCHIVER_ALLOWED_NETWORKS=127.0.0.0/8")
    assert site.sent == [], "the refused site received requests"
    refusals = _refusals(log)
    assert refusals and all(r["reason"] == "loopback" and r["stage"] == "url" for r in refusals)
    assert "'archiver/netguard/refused/loopback'" in log
    assert _archived(tmp_path / "spool") == []


@pytest.mark.slow
def test_host_name_resolving_to_loopback_is_refused_at_the_resolver(tmp_path: Path) -> None:
    with SampleSite() as site:
        url = f"http://localhost:{site.port}/"
        proc, log = _crawl(url, tmp_path / "spool", "-a", "max_pages=3")
    assert proc.returncode == 1, log[-3000:]  # nothing could be fetched
    assert site.sent == []
    refusals = _refusals(log)
    assert refusals and {r["stage"] for r in refusals} == {"resolve"}
    assert {r["address"] for r in refusals} == {"127.0.0.1"}
    assert "CannotResolveHostError" not in log, "a refusal must not be retried as a DNS failure"


@pytest.mark.slow
def test_peer_check_holds_when_the_resolver_is_replaced(tmp_path: Path) -> None:
    with SampleSite() as site:
        url = f"http://localhost:{site.port}/"
        proc, log = _crawl(
            url,
            tmp_path / "spool",
            "-a",
            "max_pages=3",
            "-s",
            "TWISTED_DNS_RESOLVER=scrapy.resolver.CachingThreadedResolver",
        )
    assert proc.returncode == 1, log[-3000:]  # nothing could be fetched
    assert "event=netguard_resolver_missing" in log
    # The connection was made, but no request was ever written on it.
    assert site.sent == []
    refusals = _refusals(log)
    assert refusals and {r["stage"] for r in refusals} == {"connect"}


@pytest.mark.slow
@pytest.mark.parametrize("allowed", ["127.0.0.1/32", "127.0.0.0/8"])
def test_redirect_into_a_network_that_is_not_allowed_is_not_followed(
    tmp_path: Path, allowed: str
) -> None:
    # Without its CDN server, which would take 127.0.0.2 at the same port.
    first = SampleSite()
    first.start(cdn=False)
    with first as site:
        base, port = site.url, site.port
        other = SampleSite()
        # The redirect points at the same port on 127.0.0.2, where this second site listens.
        other.start(host="127.0.0.2", port=port, cdn=False)
        try:
            proc, log = _crawl(
                f"{base}/hostile/redirect/loopback2",
                tmp_path / "spool",
                "-a",
                "allowed_domains=127.0.0.1,127.0.0.2",
                "-a",
                "max_pages=1",
                "-s",
                f"ARCHIVER_ALLOWED_NETWORKS={allowed}",
            )
        finally:
            other.stop()
    assert proc.returncode == 0, log[-3000:]
    archived = _archived(tmp_path / "spool")
    assert (f"{base}/hostile/redirect/loopback2", 302) in archived
    target = f"http://127.0.0.2:{port}/hostile/"
    if allowed == "127.0.0.1/32":
        assert other.sent == []
        assert [r["address"] for r in _refusals(log)] == ["127.0.0.2", "127.0.0.2"]  # robots, page
        assert not [u for u, _ in archived if u.startswith("http://127.0.0.2")]
    else:
        # The control: with the network allowed, the same redirect is followed.
        assert "/hostile/" in [s.path for s in other.sent]
        assert (target, 200) in archived
        assert _refusals(log) == []
