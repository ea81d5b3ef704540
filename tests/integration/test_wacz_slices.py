"""Slices: a site between two dates, cut from the WARCs of crawls stored in SeaweedFS.

The crawls are written directly (no crawler runs); the slice is exported as a WACZ that
`wacz validate` accepts and pywb replays, or fetched as the WARCs it needs.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import secrets
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.cli import main
from archiver.devserver.s3server import SeaweedServer
from archiver.index import ArchiveIndex, Capture, index_file
from archiver.warc import (
    HttpExchange,
    RotatingWarcWriter,
    build_exchange_records,
    build_metadata_record,
    build_request_record,
    build_revisit_record,
)
from tests.support.tools import free_port, pywb_bin, wacz_bin

pytestmark = pytest.mark.s3


SITE = "https://www.news.example"
OTHER = "https://other.example"


@dataclass
class Stored:
    """One record as stored: where, and its record id."""

    url: str
    record_id: str
    path: str
    when: datetime
    body: bytes


@dataclass
class SlicedArchive:
    """Three crawls of news.example (and a page of another site) in one bucket."""

    bucket: str
    prefix: str
    records: dict[str, Stored]
    warcs: dict[str, str]

    def settings(self) -> list[str]:
        return [
            "-s",
            f"ARCHIVER_S3_BUCKET={self.bucket}",
            "-s",
            f"ARCHIVER_S3_PREFIX={self.prefix}",
        ]


def _exchange(url: str, when: datetime, body: bytes) -> HttpExchange:
    path = "/" + url.split("/", 3)[3]
    host = url.split("/")[2]
    return HttpExchange(
        target_uri=url,
        request_head=f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode(),
        request_body=b"",
        response_head=b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode(),
        response_body=body,
        ip_address="127.0.0.1",
        date=when,
    )


def _fixed(when: datetime) -> Callable[[], datetime]:
    return lambda: when


def _page(title: str) -> bytes:
    filler = " ".join(f"{title.lower()} paragraph {i}." for i in range(400))
    return (
        f"<!DOCTYPE html><html><head><title>{title}</title></head><body><article><h1>{title}"
        f"</h1><p>{filler}</p></article></body></html>"
    ).encode()


@pytest.fixture(scope="module")
def sliced(s3_server: SeaweedServer, tmp_path_factory: pytest.TempPathFactory) -> SlicedArchive:
    """Crawl A (March 1, three WARCs), crawl B (March 2, a revisit of A's first page), crawl C
    (March 5), each stored with its sidecars and manifest and published to the index."""
    work = tmp_path_factory.mktemp("sliced")
    bucket = "slice-" + secrets.token_hex(4)
    s3_server.create_bucket(bucket)
    index = ArchiveIndex(s3_server.client(), bucket, "slices")
    records: dict[str, Stored] = {}
    warcs: dict[str, str] = {}
    day = datetime(2026, 3, 1, tzinfo=UTC)
    # name: (url, hour offset from March 1 00:00, title); "revisit" reuses page "p1".
    layout = {
        ("a", "2026-03-01"): [
            [("p2", f"{SITE}/news/two.html", 11), ("other", f"{OTHER}/page.html", 12)],
            [("p1", f"{SITE}/news/one.html", 10)],
            [("p3", f"{SITE}/news/three.html", 13)],
        ],
        ("b", "2026-03-02"): [
            [("p1-revisit", f"{SITE}/news/one.html", 32), ("p4", f"{SITE}/news/four.html", 33),
             ("p2-new", f"{SITE}/news/two.html", 36)],
        ],
        ("c", "2026-03-05"): [[("p5", f"{SITE}/news/five.html", 100)]],
    }  # fmt: skip
    for (letter, date), files in layout.items():
        crawl_id = f"{letter}-{date.replace('-', '')}"
        entries = []
        for serial, pages in enumerate(files):
            first = day + timedelta(hours=pages[0][2])
            writer = RotatingWarcWriter(
                work / f"{crawl_id}-{serial}",
                prefix=f"{letter}{serial}",
                max_size=10**12,
                warcinfo_fields={
                    "software": "tests/integration/test_wacz_slices.py",
                    "isPartOf": crawl_id,
                },
                host="test",
                clock=_fixed(first),
            )
            for name, url, hours in pages:
                when = day + timedelta(hours=hours)
                if name == "p1-revisit":
                    body = records["p1"].body
                else:
                    body = _page("Two, changed" if name == "p2-new" else name.title())
                exchange = _exchange(url, when, body)
                if name == "p1-revisit":
                    original = records["p1"]
                    revisit = build_revisit_record(
                        exchange,
                        refers_to=original.record_id,
                        refers_to_uri=url,
                        refers_to_date=original.when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    )
                    rid = revisit.rec_headers.get_header("WARC-Record-ID")
                    request = build_request_record(exchange, concurrent_to=rid)
                    written = [request, revisit]
                else:
                    request, response = build_exchange_records(exchange)
                    rid = response.rec_headers.get_header("WARC-Record-ID")
                    article = {"title": name.title(), "body": f"The text of {name}."}
                    written = [request, response]
                    if url.startswith(SITE):
                        written.append(
                            build_metadata_record(
                                url, json.dumps(article).encode(), refers_to=rid, date=when
                            )
                        )
                writer.write(written)
                records[name] = Stored(url, rid, "", when, body)
            closed = writer.close()
            assert closed is not None
            captures = index_file(closed.path)
            sidecar = closed.path.with_name(closed.name + ".cdxj")
            sidecar.write_text("".join(c.line for c in captures), encoding="utf-8")
            for local in (closed.path, sidecar):
                index.put_file(index.crawl_key(date, crawl_id, local.name), local)
            for name, _url, _hours in pages:
                records[name].path = f"{date}/{crawl_id}/{closed.name}"
            warcs[f"{letter}{serial}"] = f"{date}/{crawl_id}/{closed.name}"
            data = closed.path.read_bytes()
            entries.append(
                {
                    "name": closed.name,
                    "size": len(data),
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "sidecars": [sidecar.name],
                }
            )
        manifest = {"crawl_id": crawl_id, "start_urls": [SITE + "/"], "files": entries}
        index.put_bytes(
            index.crawl_key(date, crawl_id, "manifest.json"),
            json.dumps(manifest).encode(),
            "application/json",
        )
        assert index.publish_crawl(date, crawl_id) is not None
    return SlicedArchive(bucket, "slices", records, warcs)


# The window: from March 1 12:30 to March 2 09:30 (A's p3; B's p1 revisit and p4).
WINDOW = ["--from", "2026-03-01T12:30:00", "--to", "2026-03-02T09:30:00"]


@pytest.fixture(scope="module")
def slice_wacz(
    sliced: SlicedArchive, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("slice-wacz") / "slice.wacz"
    cache = tmp_path_factory.mktemp("slice-cache")
    argv = [*sliced.settings(), "-s", f"ARCHIVER_INDEX_CACHE_DIR={cache}", "export-wacz",
            "--site", "news.example", *WINDOW, "-o", str(out), "--json"]  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-m", "archiver", *argv], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    return out, json.loads(proc.stdout)


def _wacz_records(path: Path) -> dict[str, tuple[str, bytes, str]]:
    """Record id -> (type, raw gzip member, WARC name) of every record in the WACZ's WARCs."""
    found = {}
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            if not name.startswith("archive/"):
                continue
            data = zf.read(name)
            iterator = ArchiveIterator(io.BytesIO(data))
            for record in iterator:
                iterator.read_to_end(record)
                offset, length = iterator.get_record_offset(), iterator.get_record_length()
                rid = record.rec_headers.get_header("WARC-Record-ID")
                found[rid] = (record.rec_type, data[offset : offset + length], name)
    return found


def test_a_site_slice_holds_the_windows_captures_and_the_revisits_original(
    sliced: SlicedArchive, slice_wacz: tuple[Path, dict[str, Any]], s3_server: SeaweedServer
) -> None:
    path, report = slice_wacz
    records = _wacz_records(path)
    by_type: dict[str, set[str]] = {}
    for rid, (rec_type, _raw, _name) in records.items():
        by_type.setdefault(rec_type, set()).add(rid)
    r = sliced.records
    assert by_type["response"] == {r["p3"].record_id, r["p4"].record_id, r["p1"].record_id}
    assert by_type["revisit"] == {r["p1-revisit"].record_id}
    assert len(by_type["request"]) == 4, "each capture's request record comes with it"
    assert len(by_type["metadata"]) == 2, "the window's articles keep their text records"
    assert len(by_type["warcinfo"]) == len(report["warcs"])
    # Only the WARCs holding those records, each cut: never A's first WARC or crawl C's.
    assert sorted(report["warcs"]) == sorted(
        sliced.warcs[k].rsplit("/", 1)[1] for k in ("a1", "a2", "b0")
    )
    assert report["revisit_originals"] == 1 and report["missing_originals"] == []
    assert report["requests"] == 3, "one Range request per stored WARC (records close together)"
    # Every copied record is the stored gzip member, byte for byte.
    client = s3_server.client()
    for name in ("p1", "p3", "p4", "p1-revisit"):
        stored = client.get_object(Bucket=sliced.bucket, Key=f"slices/{r[name].path}")[
            "Body"
        ].read()
        assert records[r[name].record_id][1] in stored
    b0_stored = client.head_object(Bucket=sliced.bucket, Key=f"slices/{sliced.warcs['b0']}")
    with zipfile.ZipFile(path) as zf:
        b0 = zf.getinfo("archive/" + sliced.warcs["b0"].rsplit("/", 1)[1])
        assert b0.file_size < b0_stored["ContentLength"], "B's WARC is cut, not copied whole"


def test_a_slices_index_and_pages_match_its_warcs_and_validate(
    sliced: SlicedArchive, slice_wacz: tuple[Path, dict[str, Any]]
) -> None:
    path, _report = slice_wacz
    r = sliced.records
    with zipfile.ZipFile(path) as zf:
        lines = gzip.decompress(zf.read("indexes/index.cdx.gz")).decode().splitlines()
        pages = [json.loads(p) for p in zf.read("pages/pages.jsonl").decode().splitlines()[1:]]
        package = json.loads(zf.read("datapackage.json"))
        for line in lines:
            capture = Capture.parse(line)
            warc = zf.read(f"archive/{capture.filename}")
            member = gzip.decompress(warc[capture.offset : capture.offset + capture.length])
            assert capture.fields["record_id"].encode() in member
        for resource in package["resources"]:
            assert (
                resource["hash"]
                == "sha256:" + hashlib.sha256(zf.read(resource["path"])).hexdigest()
            )
    indexed = {Capture.parse(line).fields["record_id"] for line in lines}
    assert indexed == {r[n].record_id for n in ("p1", "p3", "p4", "p1-revisit")}
    # Pages are the window's HTML captures (the original from before it is there for replay).
    assert sorted((p["url"], p["ts"]) for p in pages) == [
        (r["p4"].url, "2026-03-02T09:00:00Z"),
        (r["p3"].url, "2026-03-01T13:00:00Z"),
    ]
    assert {p["text"] for p in pages} == {"The text of p3.", "The text of p4."}
    assert "news.example" in package["title"]
    proc = subprocess.run(
        [str(wacz_bin()), "validate", "-f", str(path)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0 and "Validation succeeded" in proc.stdout, proc.stdout + proc.stderr


def test_pywb_replays_the_revisit_in_a_slice_from_its_original(
    sliced: SlicedArchive, slice_wacz: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    path, _report = slice_wacz
    bin_dir = pywb_bin()
    subprocess.run(
        [str(bin_dir / "wb-manager"), "init", "w"], cwd=tmp_path, check=True, capture_output=True
    )
    subprocess.run(
        [str(bin_dir / "wb-manager"), "add", "--unpack-wacz", "w", str(path)],
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
        revisit = sliced.records["p1-revisit"]
        url = f"http://127.0.0.1:{port}/w/20260302080000id_/{revisit.url}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url, timeout=10) as resp:
                    body = resp.read()
                    memento = resp.headers.get("Memento-Datetime", "")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        assert body == sliced.records["p1"].body
        assert "02 Mar 2026 08:00:00" in memento, memento
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_fetch_of_a_site_slice_downloads_only_the_warcs_it_needs(
    sliced: SlicedArchive, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    code = main([*sliced.settings(), "-s", f"ARCHIVER_INDEX_CACHE_DIR={tmp_path / 'cache'}",
                 "fetch", "--site", "news.example", *WINDOW, "-o", str(tmp_path / "out"), "--json"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads(out)
    fetched = sorted(str(Path(f["path"]).relative_to(tmp_path / "out")) for f in report["files"])
    assert fetched == sorted(sliced.warcs[k] for k in ("a1", "a2", "b0"))
    assert all(f["ok"] for f in report["files"]) and report["problems"] == []
    code = main([*sliced.settings(), "-s", f"ARCHIVER_INDEX_CACHE_DIR={tmp_path / 'cache'}",
                 "export-wacz", "--site", "news.example", "--from", "2027-01-01", "--to",
                 "2027-12-31", "-o", str(tmp_path / "empty.wacz")])  # fmt: skip
    assert code == 1 and not (tmp_path / "empty.wacz").exists()
