"""A crawl of the sample site stores its article dataset, and `archiver articles` reads it."""

from __future__ import annotations

import gzip
import io
import json
from datetime import UTC, datetime

import pyarrow.parquet as pq
import pytest

from archiver.dataset import ARTICLE_SCHEMA, ARTICLES_FILE
from archiver.devserver.s3server import SeaweedServer
from tests.support.retrieval import ArchivedCrawl, archived_crawl, run

pytestmark = [pytest.mark.s3, pytest.mark.slow]


@pytest.fixture(scope="module")
def crawl(s3_server: SeaweedServer, tmp_path_factory: pytest.TempPathFactory) -> ArchivedCrawl:
    return archived_crawl(s3_server, tmp_path_factory.mktemp("dataset"))


def test_the_crawl_stored_its_articles_beside_its_manifest(crawl: ArchivedCrawl) -> None:
    key = f"{crawl.prefix}/{crawl.date}/{crawl.crawl_id}/{ARTICLES_FILE}"
    assert key in crawl.list_keys()
    assert crawl.manifest["dataset"] == ARTICLES_FILE
    client = crawl.server.client()
    table = pq.read_table(
        io.BytesIO(client.get_object(Bucket=crawl.bucket, Key=key)["Body"].read())
    )
    assert table.schema == ARTICLE_SCHEMA
    rows = table.to_pylist()
    urls = [r["url"] for r in rows]
    assert crawl.seed_url in urls
    assert len(urls) == len(set(urls))
    # The site's article pages are there, each once, and no page of another kind.
    articles = {p.url for p in crawl.articles()}
    others = {p.url for p in crawl.pages if p.kind != "article"}
    assert not set(urls) & others
    assert len(set(urls) & articles) >= len(articles) * 0.8
    assert {r["site"] for r in rows} == {"127.0.0.1"}
    assert [r["captured"] for r in rows] == sorted(r["captured"] for r in rows)
    seed = rows[urls.index(crawl.seed_url)]
    assert seed["title"] == crawl.seed["title"]
    assert seed["text"].startswith(crawl.seed["body"][:200])
    assert seed["crawl_id"] == crawl.crawl_id
    assert seed["word_count"] > 50
    # One ranged GET of (warc_key, warc_offset, warc_length) is the seed's response record.
    stored = {f["key"] for f in crawl.manifest["files"]}
    assert seed["warc_key"] in stored
    end = seed["warc_offset"] + seed["warc_length"] - 1
    member = client.get_object(
        Bucket=crawl.bucket, Key=seed["warc_key"], Range=f"bytes={seed['warc_offset']}-{end}"
    )["Body"].read()
    head = gzip.decompress(member)[:2000].decode("utf-8", "replace")
    assert "WARC-Type: response" in head
    assert f"WARC-Record-ID: {seed['record_id']}" in head
    assert f"WARC-Payload-Digest: {seed['payload_digest']}" in head


def test_archiver_articles_finds_the_seed_article(
    crawl: ArchivedCrawl, capsys: pytest.CaptureFixture[str]
) -> None:
    today = f"{datetime.now(UTC):%Y-%m-%d}"
    code, out, err = run(
        capsys,
        crawl,
        "articles",
        "--site",
        "127.0.0.1",
        "--from",
        crawl.date,
        "--to",
        today,
        "--text",
        "--json",
    )
    assert code == 0, err
    doc = json.loads(out)
    seed = next(r for r in doc["rows"] if r["url"] == crawl.seed_url)
    assert seed["title"] == crawl.seed["title"]
    assert seed["text"].startswith(crawl.seed["body"][:200])
    assert seed["captured"].startswith(crawl.date)
    code, out, err = run(capsys, crawl, "articles", "--site", "elsewhere.example", "--json")
    assert code == 0, err
    assert json.loads(out)["articles"] == 0
