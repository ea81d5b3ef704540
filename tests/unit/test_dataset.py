"""The article dataset: its schema, the build from a crawl directory, and the filtered read."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from warcio.archiveiterator import ArchiveIterator

from archiver.dataset import (
    ARTICLE_SCHEMA,
    ARTICLES_FILE,
    JOURNAL_NAME,
    ArticleFilter,
    build_articles,
    discard_journal,
    keep_capture_lines,
    read_dataset,
    site_of,
    write_dataset,
)
from archiver.dataset.build import _crawl_lines
from archiver.dataset.read import _may_match, _row_group_stats
from archiver.dataset.schema import writer_options
from tests.support import search as search_rows
from tests.support.dataset_crawl import CRAWL_ID, SITES, article_crawl


def _key(name: str) -> str:
    return f"archive/2026-03-01/{CRAWL_ID}/{name}"


def test_schema_has_the_agreed_columns_in_order() -> None:
    assert ARTICLES_FILE == "articles.parquet"
    assert ARTICLE_SCHEMA.names == [
        "url", "canonical_url", "site", "title", "authors", "published", "modified",
        "language", "captured", "crawl_id", "text", "word_count", "warc_key", "warc_offset",
        "warc_length", "record_id", "payload_digest",
    ]  # fmt: skip
    assert ARTICLE_SCHEMA.field("captured").type == pa.timestamp("us", tz="UTC")
    assert ARTICLE_SCHEMA.field("authors").type == pa.list_(pa.string())
    assert ARTICLE_SCHEMA.field("word_count").type == pa.int32()
    assert ARTICLE_SCHEMA.field("warc_offset").type == pa.int64()


def test_site_is_the_host_lowercased_without_www_or_port() -> None:
    assert site_of("WWW.Example.COM") == "example.com"
    assert site_of("news.example.com:8080") == "news.example.com"
    assert site_of("127.0.0.1:8000") == "127.0.0.1"
    assert site_of("wwwx.example") == "wwwx.example"


def test_build_writes_one_sorted_row_per_article_pointing_at_its_response(tmp_path: Path) -> None:
    crawl = article_crawl(tmp_path / "spool", 30)
    path = build_articles(crawl.crawl.root, _key)
    assert path == crawl.crawl.root / ARTICLES_FILE
    assert not (crawl.crawl.root / (ARTICLES_FILE + ".part")).exists()
    parquet = pq.ParquetFile(path)
    assert parquet.schema_arrow == ARTICLE_SCHEMA
    assert parquet.metadata.row_group(0).column(0).compression == "ZSTD"
    rows = parquet.read().to_pylist()
    expected = crawl.expected()
    assert [r["url"] for r in rows] == [i["url"] for i in expected]
    assert [r["site"] for r in rows] == [i["site"] for i in expected]
    first, item = rows[0], expected[0]
    assert first["captured"] == datetime.fromisoformat(item["warc_date"])
    assert first["text"] == item["body"]
    assert first["authors"] == item["authors"]
    assert first["language"] == item["language"]
    assert first["crawl_id"] == CRAWL_ID
    assert first["warc_key"] == _key(crawl.warc.name)
    # Each row's offset and length hold exactly its response record: one ranged read.
    data = crawl.warc.read_bytes()
    for row in rows:
        member = data[row["warc_offset"] : row["warc_offset"] + row["warc_length"]]
        record = next(iter(ArchiveIterator(io.BytesIO(member))))
        assert record.rec_type == "response"
        assert record.rec_headers.get_header("WARC-Record-ID") == row["record_id"]
        assert record.rec_headers.get_header("WARC-Target-URI") == row["url"]
        assert record.rec_headers.get_header("WARC-Payload-Digest") == row["payload_digest"]


def test_row_groups_follow_the_size_and_carry_statistics(tmp_path: Path) -> None:
    crawl = article_crawl(tmp_path / "spool", 50, words=5)
    target = tmp_path / ARTICLES_FILE
    rows = write_dataset(
        target,
        crawl.crawl.root / "items.jsonl",
        _crawl_lines(crawl.crawl.root),
        crawl_id=CRAWL_ID,
        key_of=_key,
        row_group_size=20,
    )
    meta = pq.ParquetFile(target).metadata
    assert rows == 50
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [20, 20, 10]
    site_stats = meta.row_group(0).column(ARTICLE_SCHEMA.names.index("site")).statistics
    assert (site_stats.min, site_stats.max) == (SITES[0], SITES[0])


def test_capture_lines_kept_in_the_journal_outlive_the_uploaded_sidecar(tmp_path: Path) -> None:
    crawl = article_crawl(tmp_path / "spool", 12)
    root = crawl.crawl.root
    keep_capture_lines(root, [crawl.sidecar])
    # The upload releases the sidecar and the WARC; only the journal is left.
    crawl.sidecar.unlink()
    journal = (root / JOURNAL_NAME).read_text(encoding="utf-8")
    assert journal and '"type": "metadata"' not in journal
    path = build_articles(root, _key)
    assert path is not None and pq.read_metadata(path).num_rows == 12
    discard_journal(root)
    assert not (root / JOURNAL_NAME).exists()


def test_an_article_listed_twice_is_one_row(tmp_path: Path) -> None:
    crawl = article_crawl(tmp_path / "spool", 6)
    items = crawl.crawl.root / "items.jsonl"
    # A resumed crawl can append the same article again.
    items.write_text(items.read_text() * 2, encoding="utf-8")
    path = build_articles(crawl.crawl.root, _key)
    assert path is not None and pq.read_metadata(path).num_rows == 6


def test_no_file_without_articles(tmp_path: Path) -> None:
    crawl = article_crawl(tmp_path / "spool", 3)
    root = crawl.crawl.root
    (root / "items.jsonl").unlink()
    assert build_articles(root, _key) is None
    # Items whose records no index knows give no row either.
    lines = [
        json.dumps({"url": "https://x.example/", "warc_record_id": "<urn:uuid:n>", "body": "t"})
    ]
    (root / "items.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert build_articles(root, _key) is None
    assert not (root / ARTICLES_FILE).exists()


def test_read_filters_by_site_dates_and_language(tmp_path: Path) -> None:
    crawl = article_crawl(tmp_path / "spool", 40, days=4)
    path = build_articles(crawl.crawl.root, _key)
    flt = ArticleFilter(site="www.beta.example", since=date(2026, 3, 2), until=date(2026, 3, 3))
    got = read_dataset(path, flt, ["url", "captured"]).to_pylist()
    want = [
        i["url"]
        for i in crawl.expected(SITES[1])
        if date(2026, 3, 2) <= datetime.fromisoformat(i["warc_date"]).date() <= date(2026, 3, 3)
    ]
    assert want and [r["url"] for r in got] == want
    assert all(r["captured"].tzinfo is not None for r in got)
    german = read_dataset(path, ArticleFilter(language="DE"), ["url", "language"]).to_pylist()
    assert german and {r["language"] for r in german} == {"de"}
    assert len(german) == sum(1 for i in crawl.items if i["language"] == "de")
    nothing = ArticleFilter(site="alpha.example", since=date(2026, 4, 1))
    assert read_dataset(path, nothing, ["url"]).num_rows == 0
    assert read_dataset(path, ArticleFilter(site="gamma.example"), ["url"]).num_rows == 0


def test_captured_bounds_are_whole_utc_days(tmp_path: Path) -> None:
    crawl = article_crawl(tmp_path / "spool", 8, days=1)
    path = build_articles(crawl.crawl.root, _key)
    day = datetime(2026, 3, 1, tzinfo=UTC).date()
    assert read_dataset(path, ArticleFilter(since=day, until=day), ["url"]).num_rows == 8
    assert read_dataset(path, ArticleFilter(until=date(2026, 2, 28)), ["url"]).num_rows == 0


def test_by_published_takes_the_pages_own_day_else_the_capture_day(tmp_path: Path) -> None:
    captured = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    rows = [
        # Published late on Feb 29 in New York: already Mar 1 in UTC, Feb 29 for its readers.
        search_rows.article(1, "a", published="2024-02-29T23:30:00-05:00", captured=captured),
        search_rows.article(2, "b", published="2024-01-15T08:00:00Z", captured=captured),
        search_rows.article(3, "c", published=None, captured=captured),
        search_rows.article(4, "d", published="2024-03-01", captured=captured),
    ]
    path = tmp_path / "articles.parquet"
    # One row per row group, so that the statistics decide which groups are read at all.
    pq.write_table(search_rows.table(rows), path, row_group_size=1, **writer_options())

    def urls(flt: ArticleFilter) -> list[str]:
        return sorted(r["url"][-1] for r in read_dataset(path, flt, ["url"]).to_pylist())

    feb29, mar1 = date(2024, 2, 29), date(2024, 3, 1)
    assert urls(ArticleFilter(since=feb29, until=feb29, by="published")) == ["1"]
    assert urls(ArticleFilter(since=mar1, until=mar1, by="published")) == ["3", "4"]
    assert urls(ArticleFilter(until=date(2024, 1, 31), by="published")) == ["2"]
    assert urls(ArticleFilter(since=mar1, until=mar1)) == ["1", "2", "3", "4"]
    meta = pq.ParquetFile(path).metadata
    january = ArticleFilter(since=date(2024, 1, 1), until=date(2024, 1, 31), by="published")
    read = [i for i in range(meta.num_row_groups) if _may_match(_row_group_stats(meta, i), january)]
    assert read == [1], "only the group holding the January article is read"
