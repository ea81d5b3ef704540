"""A crawl of the sample site's hostile corner: everything is archived as sent, nothing breaks.

One `scrapy crawl` of /hostile/ (served alone, from a site root that holds nothing else),
then every case is checked against the WARC records, the crawl's manifest and stats,
and the server's own log of what it sent.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.devserver.samplesite import SITE_ROOT, SampleSite
from archiver.devserver.samplesite.hostile import DRIP_BYTES, HUGE_SIZE, gzip_bomb
from tests.support.paths import ROOT

MAXSIZE = 50 * 1024 * 1024
TIMEOUT = 5
TRAP_REPEATS = 5

pytestmark = pytest.mark.slow


@dataclass
class Hostile:
    """What the hostile crawl left: records by URL, the manifest, the log, what was sent."""

    base: str
    responses: dict[str, list[dict[str, Any]]]
    metadata_uris: set[str]
    manifest: dict[str, Any]
    log: str
    sent: dict[str, list[Any]]
    warcs: list[Path]

    def stat(self, key: str) -> int:
        return int(self.manifest["stats"].get(key, 0))

    def one(self, path: str) -> dict[str, Any]:
        records = self.responses.get(self.base + path, [])
        assert len(records) == 1, f"{path}: {len(records)} response records"
        return records[0]


def _hostile_root(tmp: Path) -> Path:
    """A site root with only robots.txt and the error pages: the crawl sees /hostile/ alone."""
    root = tmp / "site"
    root.mkdir()
    shutil.copytree(SITE_ROOT / "_errors", root / "_errors")
    (root / "robots.txt").write_text("User-agent: *\nAllow: /\n", encoding="utf-8")
    manifest = {"pages": [{"path": "/robots.txt", "kind": "robots"}]}
    (root / "_manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    work = tmp_path_factory.mktemp("hostile")
    spool = work / "spool"
    with SampleSite(root=_hostile_root(work)) as site:
        base = site.url
        command = [
            sys.executable,
            "-m",
            "scrapy",
            "crawl",
            "news",
            "-a",
            f"urls={base}/hostile/",
            "-s",
            f"ARCHIVER_WARC_DIR={spool}",
            "-s",
            "ARCHIVER_S3_BUCKET=",
            "-s",
            "ARCHIVER_ALLOWED_NETWORKS=127.0.0.0/8",
            "-s",
            "DOWNLOAD_DELAY=0",
            "-s",
            "AUTOTHROTTLE_ENABLED=false",
            "-s",
            "ARCHIVER_CLEAN_WORKERS=1",
            "-s",
            f"DOWNLOAD_TIMEOUT={TIMEOUT}",
            "-s",
            f"DOWNLOAD_MAXSIZE={MAXSIZE}",
            "-s",
            "RETRY_TIMES=0",
            "-s",
            f"ARCHIVER_TRAP_MAX_REPEATS={TRAP_REPEATS}",
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")}
        proc = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        sent: dict[str, list[Any]] = {}
        for s in site.sent:
            sent.setdefault(s.path, []).append(s)
    assert proc.returncode == 0, proc.stderr[-4000:]
    (crawl_dir,) = [p for p in spool.iterdir() if p.is_dir() and not p.name.startswith("_")]
    warcs = sorted(crawl_dir.glob("*.warc.gz"))
    responses: dict[str, list[dict[str, Any]]] = {}
    metadata: set[str] = set()
    for path in warcs:
        with open(path, "rb") as fh:
            for record in ArchiveIterator(fh):
                uri = record.rec_headers.get_header("WARC-Target-URI")
                if record.rec_type == "metadata":
                    metadata.add(uri)
                if record.rec_type != "response":
                    continue
                responses.setdefault(uri, []).append(
                    {
                        "status": int(record.http_headers.get_statuscode()),
                        "truncated": record.rec_headers.get_header("WARC-Truncated"),
                        "payload": record.raw_stream.read(),
                    }
                )
    manifest = json.loads((crawl_dir / "manifest.json").read_text(encoding="utf-8"))
    yield Hostile(base, responses, metadata, manifest, proc.stderr, sent, warcs)


def test_the_crawl_finishes_in_bounded_time(hostile: Hostile) -> None:
    stats = hostile.manifest["stats"]
    assert stats["finish_reason"] == "finished"
    # Endless pages (drip, calendar, loops) must not hold the crawl: DOWNLOAD_TIMEOUT, trap
    # detection and the redirect limit end each of them.
    assert stats["elapsed_time_seconds"] < 60
    assert hostile.stat("archiver/warc/write_errors") == 0


def test_every_record_is_valid_warc(hostile: Hostile) -> None:
    warcio = Path(sys.executable).with_name("warcio")
    for path in hostile.warcs:
        check = subprocess.run(
            [str(warcio), "check", str(path)], capture_output=True, text=True, timeout=120
        )
        assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize(
    "path",
    [
        "/hostile/malformed.html",
        "/hostile/charset/conflict.html",
        "/hostile/charset/wrong.html",
        "/hostile/charset/unknown.html",
        "/hostile/charset/utf16.html",
        "/hostile/gzip/invalid.html",
        "/hostile/gzip/truncated.html",
        "/hostile/gzip/bomb.html",
        "/hostile/binary.html",
        "/hostile/document.html",
    ],
)
def test_bad_input_is_archived_byte_for_byte(hostile: Hostile, path: str) -> None:
    record = hostile.one(path)
    (sent,) = hostile.sent[path]
    assert record["status"] == sent.status == 200
    assert record["truncated"] is None
    assert record["payload"] == sent.body


def test_pages_larger_than_download_maxsize_are_cut_and_marked_truncated(
    hostile: Hostile,
) -> None:
    announced = hostile.one("/hostile/huge.html")
    streamed = hostile.one("/hostile/huge-chunked.html")
    for record in (announced, streamed):
        assert record["status"] == 200
        assert record["truncated"] == "length"
        assert len(record["payload"]) < HUGE_SIZE
    # Whatever of the announced page's body came with its head is kept (on a busy machine
    # that can be nothing); the streamed one was read up to the limit.
    doctype = b"<!DOCTYPE html>"
    head = announced["payload"][: len(doctype)]
    assert head == doctype[: len(head)]
    assert streamed["payload"].startswith(b"<!DOCTYPE html>")
    # With Content-Length Scrapy gives up as soon as the head arrives; without it the body
    # is read up to the limit, and everything read is archived.
    assert len(streamed["payload"]) > MAXSIZE
    assert hostile.stat("archiver/warc/truncated/length") == 2
    assert "/hostile/huge.html" not in {u.removeprefix(hostile.base) for u in hostile.metadata_uris}


def test_a_slow_drip_is_cut_by_the_download_timeout_and_archived_as_truncated(
    hostile: Hostile,
) -> None:
    record = hostile.one("/hostile/drip.html")
    assert record["truncated"] == "time"
    dripped = record["payload"]
    assert dripped and set(dripped) == {ord(".")}
    assert len(dripped) < DRIP_BYTES
    assert hostile.stat("archiver/warc/truncated/time") == 1


def test_a_gzip_bomb_is_stored_as_sent_and_never_inflated_past_the_limit(
    hostile: Hostile,
) -> None:
    record = hostile.one("/hostile/gzip/bomb.html")
    assert record["payload"] == gzip_bomb()
    assert re.search(
        r"Ignored response <200 \S+/hostile/gzip/bomb.html> because its body .* exceeded "
        rf"DOWNLOAD_MAXSIZE \({MAXSIZE} B\) during decompression",
        hostile.log,
    )
    assert hostile.base + "/hostile/gzip/bomb.html" not in hostile.metadata_uris


def test_redirect_loops_end(hostile: Hostile) -> None:
    loops = {u: r for u, r in hostile.responses.items() if "/hostile/loop/" in u}
    assert {u.removeprefix(hostile.base) for u in loops} == {
        "/hostile/loop/a",
        "/hostile/loop/b",
        "/hostile/loop/self",
    }
    assert all(r["status"] in (301, 302) for records in loops.values() for r in records)
    assert sum(len(r) for r in loops.values()) <= 12


def test_an_endless_calendar_is_detected_as_a_trap(hostile: Hostile) -> None:
    months = sorted(
        u.removeprefix(hostile.base + "/hostile/calendar/")
        for u in hostile.responses
        if "/hostile/calendar/" in u
    )
    # The start month, then TRAP_REPEATS - 1 more in each direction.
    assert months == [
        "2026/07/",
        "2026/08/",
        "2026/09/",
        "2026/10/",
        "2026/11/",
        "2026/12/",
        "2027/01/",
        "2027/02/",
        "2027/03/",
    ]
    assert hostile.stat("archiver/traps/detected") == 1
    assert hostile.stat("archiver/traps/dropped") == 2
    assert hostile.log.count("event=trap_detected") == 1


@pytest.mark.parametrize("code", [404, 410, 500, 503])
def test_error_pages_are_archived_but_not_cleaned(hostile: Hostile, code: int) -> None:
    path = f"/hostile/status/{code}.html"
    record = hostile.one(path)
    assert record["status"] == code
    assert record["payload"] == hostile.sent[path][0].body
    assert b"<article>" in record["payload"], "the page looks like an article on purpose"
    assert hostile.base + path not in hostile.metadata_uris


def test_binary_bodies_make_no_items(hostile: Hostile) -> None:
    for path in ("/hostile/binary.html", "/hostile/document.html", "/hostile/gzip/invalid.html"):
        assert hostile.base + path not in hostile.metadata_uris, path


def test_readable_pages_in_odd_charsets_are_cleaned_without_errors(hostile: Hostile) -> None:
    for path in (
        "/hostile/charset/conflict.html",
        "/hostile/charset/wrong.html",
        "/hostile/charset/unknown.html",
        "/hostile/charset/utf16.html",
    ):
        assert hostile.base + path in hostile.metadata_uris, path
    assert hostile.stat("archiver/clean/errors") == 0


def test_malformed_markup_does_not_break_the_spider(hostile: Hostile) -> None:
    stats = hostile.manifest["stats"]
    assert not [k for k in stats if k.startswith("spider_exceptions/")], stats
    assert hostile.stat("archiver/clean/errors") == 0
