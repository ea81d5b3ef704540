"""WACZ export of a real crawl: accepted by `wacz validate`, opened by pywb, pages with text."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from archiver.cli import main
from archiver.devserver.s3server import SeaweedServer
from archiver.index import Capture
from tests.support.retrieval import ArchivedCrawl, archived_crawl
from tests.support.tools import free_port, pywb_bin, wacz_bin

pytestmark = [pytest.mark.s3, pytest.mark.slow]


@pytest.fixture(scope="module")
def crawl(s3_server: SeaweedServer, tmp_path_factory: pytest.TempPathFactory) -> ArchivedCrawl:
    return archived_crawl(s3_server, tmp_path_factory.mktemp("retrieval"))


@pytest.fixture(scope="module")
def wacz_file(crawl: ArchivedCrawl, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wacz") / "crawl.wacz"
    code = main([*crawl.settings(), "export-wacz", "--crawl", crawl.crawl_id, "-o", str(out)])
    assert code == 0
    return out


def test_wacz_validate_accepts_the_export(wacz_file: Path) -> None:
    proc = subprocess.run(
        [str(wacz_bin()), "validate", "-f", str(wacz_file)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Validation succeeded" in proc.stdout
    assert "Version detected as 1.1.1" in proc.stdout


def test_the_package_holds_every_warc_stored_and_hashes_that_match(
    wacz_file: Path, crawl: ArchivedCrawl
) -> None:
    with zipfile.ZipFile(wacz_file) as zf:
        package = json.loads(zf.read("datapackage.json"))
        assert package["wacz_version"] == "1.1.1" and package["profile"] == "data-package"
        for resource in package["resources"]:
            data = zf.read(resource["path"])
            assert resource["hash"] == "sha256:" + hashlib.sha256(data).hexdigest()
            assert resource["bytes"] == len(data)
        names = {f["name"] for f in crawl.manifest["files"]}
        archived = {n.removeprefix("archive/") for n in zf.namelist() if n.startswith("archive/")}
        assert archived == names
        for name in names:
            info = zf.getinfo(f"archive/{name}")
            # Stored, so a reader can seek to a record's offset inside the zip.
            assert info.compress_type == zipfile.ZIP_STORED
            entry = next(f for f in crawl.manifest["files"] if f["name"] == name)
            assert hashlib.sha256(zf.read(info)).hexdigest() == entry["sha256"]
        assert zf.getinfo("indexes/index.cdx.gz").compress_type == zipfile.ZIP_STORED
        digest = json.loads(zf.read("datapackage-digest.json"))
        assert digest["hash"] == "sha256:" + hashlib.sha256(zf.read("datapackage.json")).hexdigest()


def test_index_and_idx_point_at_records_in_the_packaged_warcs(wacz_file: Path) -> None:
    with zipfile.ZipFile(wacz_file) as zf:
        cdx = zf.read("indexes/index.cdx.gz")
        idx = zf.read("indexes/index.idx").decode().splitlines()
        lines = gzip.decompress(cdx).decode().splitlines(keepends=True)
        assert lines == sorted(lines) and lines
        assert idx[0].startswith("!meta 0 ") and json.loads(idx[0][8:])["format"] == "cdxj-gzip-1.0"
        first = json.loads(idx[1].split(" ", 2)[2])
        assert gzip.decompress(cdx[first["offset"] : first["offset"] + first["length"]])
        for line in lines:
            capture = Capture.parse(line)
            warc = zf.read(f"archive/{capture.filename}")
            member = gzip.decompress(warc[capture.offset : capture.offset + capture.length])
            assert capture.fields["record_id"].encode() in member


def test_pages_have_titles_and_the_clean_text(wacz_file: Path, crawl: ArchivedCrawl) -> None:
    with zipfile.ZipFile(wacz_file) as zf:
        lines = zf.read("pages/pages.jsonl").decode().splitlines()
    header, pages = json.loads(lines[0]), [json.loads(line) for line in lines[1:]]
    assert header == {"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}
    by_url = {p["url"]: p for p in pages}
    seed = by_url[crawl.seed_url]
    assert seed["title"] == crawl.seed["title"]
    assert seed["text"] == crawl.seed["body"].strip()
    assert seed["ts"].startswith(crawl.date + "T") and seed["ts"].endswith("Z")
    articles = {p.url for p in crawl.articles()}
    assert articles <= set(by_url)
    assert all(by_url[u].get("text") for u in articles)


def test_pywb_replays_a_page_from_the_wacz(
    wacz_file: Path, crawl: ArchivedCrawl, tmp_path: Path
) -> None:
    bin_dir = pywb_bin()
    subprocess.run(
        [str(bin_dir / "wb-manager"), "init", "w"], cwd=tmp_path, check=True, capture_output=True
    )
    subprocess.run(
        [str(bin_dir / "wb-manager"), "add", "--unpack-wacz", "w", str(wacz_file)],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    port = free_port()
    server = subprocess.Popen(
        [str(bin_dir / "wayback"), "--bind", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/w/2026id_/{crawl.seed_url}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url, timeout=10) as resp:
                    body = resp.read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        assert crawl.seed["title"].encode() in body
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_site_slice_exports_the_same_files_and_bad_names_are_usage_errors(
    crawl: ArchivedCrawl, tmp_path: Path
) -> None:
    out = tmp_path / "slice.wacz"
    code = main(
        [*crawl.settings(), "export-wacz", "--site", "127.0.0.1", "--from", crawl.date, "--to", crawl.date, "-o", str(out)]
    )  # fmt: skip
    assert code == 0
    with zipfile.ZipFile(out) as zf:
        assert len([n for n in zf.namelist() if n.startswith("archive/")]) == len(
            crawl.manifest["files"]
        )
    assert (
        main(
            [
                *crawl.settings(),
                "export-wacz",
                "--crawl",
                crawl.crawl_id,
                "-o",
                str(tmp_path / "x.zip"),
            ]
        )
        == 2
    )
    assert (
        main(
            [
                *crawl.settings(),
                "export-wacz",
                "--crawl",
                "no-such-crawl",
                "-o",
                str(tmp_path / "n.wacz"),
            ]
        )
        == 1
    )
