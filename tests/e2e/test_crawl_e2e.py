"""End to end: `scrapy crawl news` over the sample site into verified WARCs on SeaweedFS.

The crawl runs once per module as a user would run it (a `scrapy crawl` process in
the project root), then every assertion reads what landed in the bucket.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import secrets
import subprocess
import sys
import zlib
from base64 import b32encode
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.devserver.s3server import SeaweedServer
from archiver.devserver.samplesite import EXPECTED_DIR, SampleSite, site_manifest
from archiver.devserver.samplesite.manifest import CDN_ADDRESS, CDN_HOST
from tests.support.crawl import PREFIX, crawl_command, run_crawl
from tests.support.tools import free_port, pywb_bin

pytestmark = [pytest.mark.s3, pytest.mark.slow]


@dataclass
class Crawled:
    """What one crawl of the sample site left in the bucket, read back."""

    site: SampleSite
    bucket: str
    keys: list[str]
    warcs: dict[str, Path]
    spool: Path
    manifest: dict[str, Any]
    log: str
    records: list[dict[str, Any]] = field(default_factory=list)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r["type"] == kind]


def _read_records(path: Path) -> list[dict[str, Any]]:
    out = []
    with open(path, "rb") as fh:
        iterator = ArchiveIterator(fh)
        for record in iterator:
            headers = record.rec_headers
            # Read the payload before asking the iterator anything else about the record.
            payload = record.raw_stream.read()
            entry: dict[str, Any] = {
                "file": path.name,
                "offset": iterator.get_record_offset(),
                "type": record.rec_type,
                "id": headers.get_header("WARC-Record-ID"),
                "uri": headers.get_header("WARC-Target-URI"),
                "date": headers.get_header("WARC-Date"),
                "ip": headers.get_header("WARC-IP-Address"),
                "concurrent_to": headers.get_header("WARC-Concurrent-To"),
                "refers_to": headers.get_header("WARC-Refers-To"),
                "payload_digest": headers.get_header("WARC-Payload-Digest"),
                "truncated": headers.get_header("WARC-Truncated"),
                "status_line": record.http_headers.protocol + " " + record.http_headers.statusline
                if record.http_headers is not None
                else None,
                "http_headers": list(record.http_headers.headers) if record.http_headers else [],
                "payload": payload,
            }
            iterator.read_to_end()
            entry["length"] = iterator.get_record_length()
            out.append(entry)
    data = path.read_bytes()
    for entry in out:
        entry["block"] = _raw_block(data, entry["offset"])
    return out


def _raw_block(data: bytes, offset: int) -> bytes:
    """The record block byte for byte: its gzip member inflated, WARC headers cut off."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    member = inflater.decompress(data[offset:])
    return member.split(b"\r\n\r\n", 1)[1][: -len(b"\r\n\r\n")]


@pytest.fixture(scope="module")
def crawled(
    s3_server: SeaweedServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Crawled]:
    work = tmp_path_factory.mktemp("e2e")
    bucket = "e2e-" + secrets.token_hex(4)
    s3_server.create_bucket(bucket)
    with SampleSite() as site:
        spool = work / "spool"
        log = work / "crawl.log"
        proc = run_crawl(
            crawl_command(site.url, spool, bucket, s3_server.endpoint_url), s3_server, log
        )
        log_text = log.read_text(encoding="utf-8")
        assert proc.returncode == 0, log_text[-4000:]
        client = s3_server.client()
        keys = sorted(
            o["Key"]
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            for o in page.get("Contents", [])
        )
        warcs = {}
        for key in keys:
            if key.endswith(".warc.gz"):
                local = work / "downloaded" / Path(key).name
                local.parent.mkdir(exist_ok=True)
                local.write_bytes(client.get_object(Bucket=bucket, Key=key)["Body"].read())
                warcs[key] = local
        manifest_key = next(k for k in keys if k.endswith("/manifest.json"))
        manifest = json.loads(client.get_object(Bucket=bucket, Key=manifest_key)["Body"].read())
        result = Crawled(site, bucket, keys, warcs, spool, manifest, log_text)
        for path in warcs.values():
            result.records.extend(_read_records(path))
        yield result


def _warc_digest(data: bytes, algorithm: str = "sha1") -> str:
    return f"{algorithm}:" + b32encode(hashlib.new(algorithm, data).digest()).decode()


def test_keys_follow_the_documented_layout(crawled: Crawled) -> None:
    crawl_id = crawled.manifest["crawl_id"]
    date = crawled.manifest["started"][:10]
    assert crawled.warcs, "no WARC was uploaded"
    for key in crawled.keys:
        # The crawl's own files, and the archive-wide index beside all crawls (docs/index-format.md).
        assert key.startswith((f"{PREFIX}/{date}/{crawl_id}/", f"{PREFIX}/_index/")), key
    names = {Path(k).name for k in crawled.keys}
    assert {"manifest.json", "items.jsonl"} <= names
    for f in crawled.manifest["files"]:
        assert f["uploaded"] is True
        stored = crawled.warcs[f["key"]].read_bytes()
        assert hashlib.sha256(stored).hexdigest() == f["sha256"]
        assert len(stored) == f["size"]


def test_verified_uploads_left_the_spool_empty_of_warcs(crawled: Crawled) -> None:
    leftovers = [p.name for p in crawled.spool.rglob("*") if ".warc" in p.name]
    assert leftovers == []


def test_every_served_url_has_a_response_whose_payload_is_what_the_server_sent(
    crawled: Crawled,
) -> None:
    base = crawled.site.url
    responses = {r["uri"]: r for r in crawled.of_type("response")}
    sent: dict[str, list[bytes]] = {}
    for s in crawled.site.sent:
        # Requisites come from the CDN host too (ARCHIVER_HOSTS names its address).
        host_url = crawled.site.cdn_url if s.host == "cdn" else base
        sent.setdefault(host_url + s.path, []).append(s.body)
    pages = site_manifest(base)
    # The tracking pixel's host refuses it in its robots.txt: never fetched.
    expected = [p for p in pages if p.kind != "private" and not p.disallowed]
    missing = [p.url for p in expected if p.url not in responses]
    assert not missing, f"served but not archived: {missing}"
    assert f"{base}/robots.txt" in responses
    for uri, record in responses.items():
        assert record["payload_digest"] == _warc_digest(record["payload"]), uri
        # The stored payload is the entity body as the server sent it: still gzip-encoded
        # where it was, de-chunked where it was chunked.
        assert record["payload"] in sent[uri], uri


def test_robots_txt_is_obeyed(crawled: Crawled) -> None:
    private = [p.url for p in site_manifest(crawled.site.url) if p.kind == "private"]
    assert private, "the sample site should have a page disallowed by robots.txt"
    archived = {r["uri"] for r in crawled.records}
    assert not set(private) & archived
    assert not [s for s in crawled.site.sent if s.path.startswith("/private/")]


def test_status_lines_headers_and_encodings_are_as_transferred(crawled: Crawled) -> None:
    pages = {p.url: p for p in site_manifest(crawled.site.url)}
    responses = {r["uri"]: r for r in crawled.of_type("response")}
    by_path = {
        (crawled.site.cdn_url if s.host == "cdn" else crawled.site.url) + s.path: s
        for s in crawled.site.sent
    }
    for url, page in pages.items():
        if page.kind == "private" or page.disallowed:
            continue
        record = responses[url]
        sent = by_path[url]
        assert record["status_line"] == f"HTTP/1.1 {sent.status} {sent.reason}", url
        assert record["ip"] == ("127.0.0.2" if page.host == "cdn" else "127.0.0.1")
        if page.content_encoding == "gzip":
            assert ("Content-Encoding", "gzip") in record["http_headers"]
            assert (
                gzip.decompress(record["payload"]).startswith(b"<!DOCTYPE html")
                or b"<html" in gzip.decompress(record["payload"])[:500]
            )
        if page.chunked:
            assert ("X-Archive-Orig-Transfer-Encoding", "chunked") in record["http_headers"]
        if page.kind == "redirect":
            assert sent.status == 301
            assert any(k.lower() == "location" for k, _ in record["http_headers"])


def test_request_and_response_records_pair_up(crawled: Crawled) -> None:
    responses = {r["id"]: r for r in crawled.of_type("response")}
    requests = crawled.of_type("request")
    assert len(requests) == len(responses)
    for req in requests:
        resp = responses[req["concurrent_to"]]
        assert req["uri"] == resp["uri"]
        assert req["date"] == resp["date"]
        cdn = urlsplit(req["uri"]).hostname == CDN_HOST
        assert req["ip"] == (CDN_ADDRESS if cdn else "127.0.0.1")
        request_line = req["block"].split(b"\r\n", 1)[0].decode()
        method, target, version = request_line.split(" ")
        assert method == "GET" and version == "HTTP/1.1"
        assert resp["uri"].endswith(target)
        assert b"\r\nUser-Agent: news-archiver/" in req["block"]
        assert (b"\r\nHost: cdn.sample.test:" if cdn else b"\r\nHost: 127.0.0.1:") in req["block"]


def test_files_start_with_warcinfo_and_hold_one_gzip_member_per_record(crawled: Crawled) -> None:
    for key, path in crawled.warcs.items():
        records = [r for r in crawled.records if r["file"] == path.name]
        assert records[0]["type"] == "warcinfo"
        data = path.read_bytes()
        members = 0
        pos = 0
        while pos < len(data):
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            inflater.decompress(data[pos:])
            assert inflater.eof, f"{key}: truncated gzip member at {pos}"
            pos = len(data) - len(inflater.unused_data)
            members += 1
        assert members == len(records)
        for r in records:
            assert data[r["offset"] : r["offset"] + 2] == b"\x1f\x8b"
        info = gzip.decompress(data[: records[1]["offset"]]).decode()
        for field_name in (
            "software:",
            "format: WARC File Format 1.1",
            "conformsTo:",
            "hostname:",
            "operator:",
            "robots: obey",
            "http-header-user-agent: news-archiver/",
            f"isPartOf: {crawled.manifest['crawl_id']}",
        ):
            assert field_name in info


def test_warcio_check_passes(crawled: Crawled) -> None:
    warcio = Path(sys.executable).with_name("warcio")
    for path in crawled.warcs.values():
        proc = subprocess.run(
            [str(warcio), "check", "-v", str(path)], capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stdout[-2000:]
        assert "digest pass" in proc.stdout


def test_cdxj_indexer_reads_the_files(crawled: Crawled) -> None:
    indexer = Path(sys.executable).with_name("cdxj-indexer")
    proc = subprocess.run(
        [str(indexer), *map(str, crawled.warcs.values())], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    indexed = {json.loads(line.split(" ", 2)[2])["url"] for line in lines}
    articles = [p.url for p in site_manifest(crawled.site.url) if p.kind == "article"]
    assert set(articles) <= indexed


def test_only_articles_become_metadata_records_linked_to_their_response(crawled: Crawled) -> None:
    pages = {p.url: p for p in site_manifest(crawled.site.url)}
    responses = {r["id"]: r for r in crawled.of_type("response")}
    metadata = crawled.of_type("metadata")
    assert metadata
    for record in metadata:
        target = responses[record["refers_to"]]
        assert record["concurrent_to"] == record["refers_to"]
        assert target["uri"] == record["uri"]
        assert pages[record["uri"]].kind == "article", record["uri"]
    articles = {url for url, p in pages.items() if p.kind == "article"}
    # A redirect lands on its canonical article: that one is counted under its own URL.
    assert {r["uri"] for r in metadata} == articles


def test_seed_article_metadata_holds_exactly_its_clean_text(crawled: Crawled) -> None:
    expected = json.loads((EXPECTED_DIR / "seed-article.json").read_text(encoding="utf-8"))
    url = crawled.site.url + expected["url_path"]
    (record,) = [r for r in crawled.of_type("metadata") if r["uri"] == url]
    doc = json.loads(record["payload"])
    assert doc["title"] == expected["title"]
    assert doc["body"] == expected["body"]
    for boilerplate in ("Images source", "Related content", "East News"):
        assert boilerplate not in doc["body"]
    assert doc["body"].count("No NATO or European forces") == 0
    for name in ("authors", "published", "language", "canonical_url"):
        assert name in doc


def test_items_jsonl_lists_every_article(crawled: Crawled, s3_server: SeaweedServer) -> None:
    key = next(k for k in crawled.keys if k.endswith("/items.jsonl"))
    body = s3_server.client().get_object(Bucket=crawled.bucket, Key=key)["Body"].read()
    items = [json.loads(line) for line in body.decode("utf-8").splitlines()]
    metadata_ids = {r["id"] for r in crawled.of_type("metadata")}
    assert {i["metadata_record_id"] for i in items} == metadata_ids
    assert all(i["body"] and i["title"] for i in items)


def test_manifest_counts_match_the_files(crawled: Crawled) -> None:
    for f in crawled.manifest["files"]:
        records = [r for r in crawled.records if r["file"] == f["name"]]
        counts: dict[str, int] = {}
        for r in records:
            counts[r["type"]] = counts.get(r["type"], 0) + 1
        assert counts == f["records"]
    stats = crawled.manifest["stats"]
    assert stats["archiver/warc/responses"] == len(crawled.of_type("response"))
    assert crawled.manifest["uploads_waiting"] == []


# --- replay in pywb -------------------------------------------------------------------


def test_pages_replay_in_pywb(crawled: Crawled, tmp_path: Path) -> None:
    import time
    import urllib.request

    bin_dir = pywb_bin()
    subprocess.run(
        [str(bin_dir / "wb-manager"), "init", "news"], cwd=tmp_path, check=True, capture_output=True
    )
    subprocess.run(
        [str(bin_dir / "wb-manager"), "add", "news", *map(str, crawled.warcs.values())],
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
        expected = json.loads((EXPECTED_DIR / "seed-article.json").read_text(encoding="utf-8"))
        pages = {p.url: p for p in site_manifest(crawled.site.url)}
        targets = [crawled.site.url + expected["url_path"]]
        targets += [
            u for u, p in pages.items() if p.kind == "article" and (p.chunked or p.content_encoding)
        ]
        deadline = time.monotonic() + 60
        for target in targets:
            # id_ asks pywb for the archived payload itself, without its rewriting.
            replay_url = f"http://127.0.0.1:{port}/news/2026id_/{target}"
            while True:
                try:
                    with urllib.request.urlopen(replay_url, timeout=10) as resp:
                        body = resp.read()
                        encoding = resp.headers.get("Content-Encoding")
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.5)
            if encoding == "gzip":
                body = gzip.decompress(body)
            title = (pages[target].title or "").split(" ")[0].encode()
            assert title and title in body, target
        assert (
            b"Kremlin rejects NATO advances"
            in urllib.request.urlopen(
                f"http://127.0.0.1:{port}/news/2026id_/{targets[0]}", timeout=10
            ).read()
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
