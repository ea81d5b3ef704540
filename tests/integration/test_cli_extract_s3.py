"""`archiver extract s3://bucket/key.warc.gz` against the SeaweedFS test server."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from archiver.cli import main
from archiver.devserver.samplesite import (
    EXPECTED_DIR,
    SITE_ROOT,
    PageInfo,
    file_for_path,
    site_manifest,
)
from archiver.warc import HttpExchange, RotatingWarcWriter, build_exchange_records, warc_date
from tests.support.s3 import S3Bucket

pytestmark = pytest.mark.s3

BASE = "http://127.0.0.1:8080"
PAGES = {p.path: p for p in site_manifest(BASE)}
SEED = json.loads((EXPECTED_DIR / "seed-article.json").read_text(encoding="utf-8"))
# One article of each template; the Kurier page is windows-1250, the mortgage page is
# sent gzip-compressed, as the sample site serves them.
ARTICLES = [
    SEED["url_path"],
    "/wiadomosci/remont-wiaduktu-na-zielonej-potrwa-do-wiosny,id,24817.html",
    "/a/418230-council-approves-late-night-bus-routes",
    "/news/2026/11/19/mortgage-lenders-trim-rates-as-inflation-cools.html",
]
NOT_ARTICLES = ["/world/", "/robots.txt"]
CAPTURED = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _exchange(page: PageInfo) -> HttpExchange:
    file = file_for_path(SITE_ROOT, page.path)
    assert file is not None
    body = file.read_bytes().replace(b"{{BASE}}", BASE.encode())
    headers = [f"Content-Type: {page.media_type}"]
    if page.content_encoding == "gzip":
        body = gzip.compress(body, mtime=0)
        headers.append("Content-Encoding: gzip")
    headers.append(f"Content-Length: {len(body)}")
    head = "HTTP/1.1 200 OK\r\n" + "".join(h + "\r\n" for h in headers) + "\r\n"
    request = f"GET {page.path} HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"
    return HttpExchange(
        target_uri=page.url,
        request_head=request.encode(),
        request_body=b"",
        response_head=head.encode("latin-1"),
        response_body=body,
        ip_address="127.0.0.1",
        date=CAPTURED,
    )


@pytest.fixture
def uploaded(s3_bucket: S3Bucket, tmp_path: Path) -> tuple[str, dict[str, str]]:
    """s3:// URL of a WARC holding sample-site captures, and response record ID by URL."""
    ids: dict[str, str] = {}
    with RotatingWarcWriter(
        tmp_path / "spool", prefix="test", max_size=10**9, warcinfo_fields={"software": "tests"}
    ) as writer:
        for path in ARTICLES + NOT_ARTICLES:
            request, response = build_exchange_records(_exchange(PAGES[path]))
            writer.write([request, response])
            ids[PAGES[path].url] = response.rec_headers.get_header("WARC-Record-ID")
        closed = writer.close()
    assert closed is not None
    key = f"archive/2026-11-20/{closed.name}"
    s3_bucket.client.upload_file(str(closed.path), s3_bucket.name, key)
    return f"s3://{s3_bucket.name}/{key}", ids


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_extract_reads_a_warc_from_s3(
    uploaded: tuple[str, dict[str, str]], tmp_path: Path, jobs: str
) -> None:
    url, ids = uploaded
    out = tmp_path / "items.jsonl"
    assert main(["extract", url, "-o", str(out), "-j", jobs]) == 0
    lines = _lines(out)
    by_uri = {line["target_uri"]: line for line in lines}
    assert len(lines) == len(by_uri) == len(ARTICLES)
    for path in ARTICLES:
        page = PAGES[path]
        line = by_uri[page.url]
        assert line["warc_file"] == url
        assert line["warc_record_id"] == ids[page.url]
        assert line["warc_date"] == warc_date(CAPTURED)
        assert line["title"] == page.title
        assert line["language"].split("-")[0] == page.language
        assert line["is_article"] and line["word_count"] >= 300
    seed = by_uri[BASE + SEED["url_path"]]
    assert seed["body"] == SEED["body"]
    # The windows-1250 page decoded by its charset, the gzip page by its Content-Encoding.
    assert (
        "Kierowcy, którzy codziennie przejeżdżają przez wiadukt"
        in by_uri[PAGES[ARTICLES[1]].url]["body"]
    )
    assert "mortgage" in by_uri[PAGES[ARTICLES[3]].url]["body"].lower()


def test_extract_reports_a_missing_s3_key(
    uploaded: tuple[str, dict[str, str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = uploaded
    missing = url.rsplit("/", 1)[0] + "/missing.warc.gz"
    out = tmp_path / "items.jsonl"
    # A missing key fails that source only; the others are still extracted.
    assert main(["extract", missing, url, "-o", str(out), "-j", "1"]) == 1
    assert "missing.warc.gz" in capsys.readouterr().err
    assert len(_lines(out)) == len(ARTICLES)
