"""Incremental recrawls: crawls of the sample site run again and again.

The recrawl policy on its own is tested in tests/unit/test_recrawl_policy.py.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest

from archiver.devserver.s3server import SeaweedServer
from archiver.devserver.samplesite import SITE_ROOT, SampleSite, site_manifest
from tests.support.crawl import run_crawl
from tests.support.sitecrawl import PREFIX, SITE, read_records, write_sites
from tests.support.tools import free_port, pywb_bin

# Changed between the third and fourth crawls (one plain page, one served chunked).
CHANGED = (
    "/news/2026/11/20/danube-flood-barrier-talks-collapse.html",
    "/a/417650-harbor-city-fc-clinch-playoff-berth",
)


def site_crawl_command(
    spool: Path, sites: Path, bucket: str, endpoint: str, *extra: str
) -> list[str]:
    """`scrapy crawl news -a site=sample`, delays lowered for the local server."""
    command = [sys.executable, "-m", "scrapy", "crawl", "news", "-a", f"site={SITE}"]
    for setting in (
        f"ARCHIVER_SITES_FILE={sites}",
        f"ARCHIVER_WARC_DIR={spool}",
        f"ARCHIVER_S3_BUCKET={bucket}",
        f"ARCHIVER_S3_PREFIX={PREFIX}",
        f"ARCHIVER_S3_ENDPOINT_URL={endpoint}",
        "DOWNLOAD_DELAY=0",
        "AUTOTHROTTLE_START_DELAY=0.01",
        "ARCHIVER_CLEAN_WORKERS=1",
        # The sample site is on loopback, which the address guard refuses unless allowed.
        "ARCHIVER_ALLOWED_NETWORKS=127.0.0.0/8",
    ):
        command += ["-s", setting]
    return [*command, *extra]


@dataclass
class Crawl:
    """One finished crawl of the site, read back from the bucket."""

    crawl_id: str
    manifest: dict[str, Any]
    stats: dict[str, Any]
    records: list[dict[str, Any]]
    sent: list[Any]
    log: str
    warcs: dict[str, bytes]

    def http(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r["type"] in ("response", "revisit")]

    def payload_bytes(self) -> int:
        return sum(len(r["payload"]) for r in self.http())


def last_run(spool: Path) -> dict[str, Any]:
    runs = (spool / "_sites" / SITE / "runs.jsonl").read_text(encoding="utf-8").splitlines()
    return json.loads(runs[-1])


def crawl_once(
    server: SeaweedServer,
    bucket: str,
    site: SampleSite,
    spool: Path,
    sites: Path,
    log: Path,
    *extra: str,
) -> Crawl:
    """Run one crawl of the site to its end and read what it stored."""
    sent_before = len(site.sent)
    proc = run_crawl(
        site_crawl_command(spool, sites, bucket, server.endpoint_url, *extra), server, log
    )
    text = log.read_text(encoding="utf-8")
    assert proc.returncode == 0, text[-3000:]
    run = last_run(spool)
    crawl_id = run["crawl_id"]
    client = server.client()
    prefix = f"{PREFIX}/{run['started'][:10]}/{crawl_id}/"
    manifest = json.loads(
        client.get_object(Bucket=bucket, Key=prefix + "manifest.json")["Body"].read()
    )
    stats = json.loads(client.get_object(Bucket=bucket, Key=prefix + "stats.json")["Body"].read())
    records = []
    warcs = {}
    for entry in manifest["files"]:
        warcs[entry["name"]] = client.get_object(Bucket=bucket, Key=entry["key"])["Body"].read()
        records += read_records(warcs[entry["name"]], entry["name"])
    return Crawl(crawl_id, manifest, stats, records, site.sent[sent_before:], text, warcs)


@dataclass
class Crawls:
    """The crawls of the module, in order."""

    site: SampleSite
    root: Path
    bucket: str
    first: Crawl
    again: Crawl
    changed: Crawl
    restored: Crawl
    restored_spool: Path


@pytest.fixture(scope="module")
def crawls(s3_server: SeaweedServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crawls]:
    work = tmp_path_factory.mktemp("incremental")
    root = work / "site"
    shutil.copytree(SITE_ROOT, root)
    bucket = "inc-" + secrets.token_hex(4)
    s3_server.create_bucket(bucket)
    spool = work / "spool"
    with SampleSite(root=root) as site:
        sites = write_sites(work / "sites.toml", site.url)
        first = crawl_once(s3_server, bucket, site, spool, sites, work / "1.log")
        # Look at every article again, in full: each unchanged page becomes a revisit record.
        write_sites(sites, site.url, 'every = "0s"\nconditional_get = false')
        again = crawl_once(s3_server, bucket, site, spool, sites, work / "2.log")
        for path in CHANGED:
            page = root / (path.lstrip("/") + ("" if path.endswith(".html") else ".html"))
            text = page.read_text(encoding="utf-8")
            # The end of the first paragraph of the story text (plain <p>, no class).
            end = text.index("</p>", text.index("\n<p>"))
            page.write_text(
                text[:end] + " Correction: an earlier version misstated a date." + text[end:],
                encoding="utf-8",
            )
        # Looking again, now with validators: unchanged articles answer 304.
        write_sites(sites, site.url, 'every = "0s"\nconditional_get = true')
        changed = crawl_once(s3_server, bucket, site, spool, sites, work / "3.log")
        # A fresh machine: an empty spool, the history comes back from the bucket.
        fresh = work / "fresh-spool"
        write_sites(sites, site.url, 'after_publication = []\nundated_every = "never"')
        restored = crawl_once(s3_server, bucket, site, fresh, sites, work / "4.log")
        yield Crawls(site, root, bucket, first, again, changed, restored, fresh)


def _pages_by_kind(site: SampleSite) -> dict[str, list[str]]:
    kinds: dict[str, list[str]] = {}
    for page in site_manifest(site.url):
        kinds.setdefault(page.kind, []).append(page.url)
    return kinds


@pytest.mark.s3
@pytest.mark.slow
def test_an_unchanged_site_is_stored_as_revisits_at_a_tenth_of_the_bytes(crawls: Crawls) -> None:
    first, again = crawls.first, crawls.again
    originals = {r["id"]: r for r in first.http() if r["type"] == "response"}
    ok_pages = [r for r in again.http() if r["status"] == 200]
    articles = set(_pages_by_kind(crawls.site)["article"])
    # Every page that answered 200 again, unchanged, is a revisit of the first crawl's record.
    assert ok_pages and all(r["type"] == "revisit" for r in ok_pages), [
        r["uri"] for r in ok_pages if r["type"] != "revisit"
    ]
    assert articles <= {r["uri"] for r in ok_pages}
    for revisit in ok_pages:
        assert revisit["profile"] == (
            "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
        )
        original = originals[revisit["refers_to"]]
        assert original["payload_digest"] == revisit["payload_digest"]
        assert original["uri"] == revisit["refers_to_uri"]
        assert original["date"] == revisit["refers_to_date"]
        assert revisit["payload"] == b""
    ratio = again.payload_bytes() / first.payload_bytes()
    print(
        f"\nfirst crawl payload {first.payload_bytes()} B, WARC {first.stats['bytes']['warc']} B; "
        f"second {again.payload_bytes()} B, WARC {again.stats['bytes']['warc']} B: "
        f"payload ratio {ratio:.3f}, WARC ratio "
        f"{again.stats['bytes']['warc'] / first.stats['bytes']['warc']:.3f}"
    )
    assert ratio < 0.10
    assert again.stats["pages"]["revisits"] == len(ok_pages)
    # Site crawls keep Scrapy's queue on disk (JOBDIR): every request, with the capture
    # middleware's meta, pickled there and back.
    for crawl in (first, again):
        scrapy_stats = crawl.manifest["stats"]
        assert scrapy_stats["scheduler/enqueued/disk"] == scrapy_stats["scheduler/enqueued"]
        assert "scheduler/unserializable" not in scrapy_stats
    assert again.stats["articles"]["unchanged"] == len(articles)
    assert again.stats["articles"]["captured"] == 0
    # Unchanged articles get no second clean-text record and no item.
    assert not [r for r in again.records if r["type"] == "metadata"]
    assert again.manifest["items"] is None


@pytest.mark.s3
@pytest.mark.slow
def test_exactly_the_two_changed_articles_are_captured_in_full_again(crawls: Crawls) -> None:
    changed = crawls.changed
    base = crawls.site.url
    articles = set(_pages_by_kind(crawls.site)["article"])
    full = {r["uri"] for r in changed.http() if r["type"] == "response" and r["status"] == 200}
    assert full & articles == {base + path for path in CHANGED}
    # The others were asked with their validators and answered 304, archived as such.
    not_modified = {r["uri"] for r in changed.http() if r["status"] == 304}
    assert not_modified == articles - {base + path for path in CHANGED}
    assert changed.stats["pages"]["not_modified"] == len(not_modified)
    conditional = [s for s in changed.sent if s.status == 304]
    assert len(conditional) == len(not_modified)
    metadata = [r for r in changed.records if r["type"] == "metadata"]
    assert {r["uri"] for r in metadata} == {base + path for path in CHANGED}
    assert all(b"Correction: an earlier version" in r["payload"] for r in metadata)


@pytest.mark.s3
@pytest.mark.slow
def test_a_history_restored_from_storage_keeps_the_recrawl_incremental(crawls: Crawls) -> None:
    restored = crawls.restored
    assert "event=history_restored" in restored.log
    assert restored.stats["history_backup"] == "verified"
    articles = set(_pages_by_kind(crawls.site)["article"])
    fetched = {crawls.site.url + s.path for s in restored.sent}
    # Known articles are not fetched at all (the redirect still leads to its article).
    assert len(fetched & articles) <= 1
    assert restored.stats["articles"]["skipped_recent"] >= len(articles) - 1
    earlier = {
        r["id"]
        for crawl in (crawls.first, crawls.again, crawls.changed)
        for r in crawl.http()
        if r["type"] == "response"
    }
    ok_pages = [r for r in restored.http() if r["status"] == 200]
    assert ok_pages and all(r["type"] == "revisit" for r in ok_pages)
    assert all(r["refers_to"] in earlier for r in ok_pages)
    assert restored.payload_bytes() < 0.10 * crawls.first.payload_bytes()
    assert (crawls.restored_spool / "_sites" / SITE / "history.sqlite3").exists()


@pytest.mark.s3
@pytest.mark.slow
def test_revisit_records_pass_warcio_check(crawls: Crawls, tmp_path: Path) -> None:
    paths = []
    for crawl in (crawls.again, crawls.restored):
        for name, data in crawl.warcs.items():
            paths.append(tmp_path / name)
            paths[-1].write_bytes(data)
    warcio = Path(sys.executable).with_name("warcio")
    result = subprocess.run(
        [str(warcio), "check", "-v", *map(str, paths)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    assert "digest present but not checked (revisit)" in result.stdout


@pytest.mark.s3
@pytest.mark.slow
def test_revisits_replay_in_pywb_with_the_payload_they_refer_to(
    crawls: Crawls, tmp_path: Path
) -> None:
    bin_dir = pywb_bin()
    paths = []
    for crawl in (crawls.first, crawls.again):
        for name, data in crawl.warcs.items():
            paths.append(tmp_path / name)
            paths[-1].write_bytes(data)
    subprocess.run([str(bin_dir / "wb-manager"), "init", "news"], cwd=tmp_path, check=True)
    subprocess.run(
        [str(bin_dir / "wb-manager"), "add", "news", *map(str, paths)], cwd=tmp_path, check=True
    )
    originals = {r["id"]: r for r in crawls.first.http()}
    chunked = crawls.site.url + CHANGED[1]
    revisits = [r for r in crawls.again.http() if r["type"] == "revisit" and r["uri"] == chunked]
    revisits += [r for r in crawls.again.http() if r["type"] == "revisit"][:3]
    port = free_port()
    server = subprocess.Popen(
        [str(bin_dir / "wayback"), "--bind", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        for revisit in revisits:
            stamp = "".join(ch for ch in revisit["date"] if ch.isdigit())[:14]
            # id_: the archived payload as stored, at the revisit's own time.
            url = f"http://127.0.0.1:{port}/news/{stamp}id_/{revisit['uri']}"
            while True:
                try:
                    with urllib.request.urlopen(url, timeout=10) as answer:
                        body = answer.read()
                        memento = answer.headers["Memento-Datetime"]
                    break
                except OSError:
                    assert time.monotonic() < deadline, url
                    time.sleep(0.3)
            assert body == originals[revisit["refers_to"]]["payload"], revisit["uri"]
            assert parsedate_to_datetime(memento) == datetime.fromisoformat(
                revisit["date"][:19] + "+00:00"
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
