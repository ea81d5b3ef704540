"""The article dataset in real storage (SeaweedFS): listing, range reads that skip the text,
`archiver articles`, and `archiver reindex` building the dataset of a crawl stored without one."""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from archiver.cli import main
from archiver.dataset import (
    ARTICLES_FILE,
    ArticleFilter,
    RangeFile,
    iter_dataset_keys,
    read_articles,
    read_dataset,
    write_dataset,
)
from archiver.dataset.build import _crawl_lines
from archiver.dataset.read import TAIL_READ
from tests.support.dataset_crawl import CRAWL_ID, SITES, ArticleCrawl, article_crawl
from tests.support.s3 import S3Bucket
from tests.support.stored_crawl import bucket_settings

pytestmark = pytest.mark.s3

DAY = "2026-03-01"


@pytest.fixture(autouse=True)
def _index_cache_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


def _base(bucket: S3Bucket) -> str:
    return f"{bucket.cfg.prefix}/{DAY}/{CRAWL_ID}"


def _store_crawl(bucket: S3Bucket, crawl: ArticleCrawl, *, dataset: Path | None) -> None:
    """Put the crawl's files where a crawl stores them, the manifest last."""
    base = _base(bucket)
    put = bucket.client.put_object
    for path in (crawl.warc, crawl.sidecar, crawl.crawl.root / "items.jsonl"):
        put(Bucket=bucket.name, Key=f"{base}/{path.name}", Body=path.read_bytes())
    if dataset is not None:
        put(Bucket=bucket.name, Key=f"{base}/{ARTICLES_FILE}", Body=dataset.read_bytes())
    data = crawl.warc.read_bytes()
    manifest = {
        "crawl_id": CRAWL_ID,
        "start_urls": ["https://beta.example/"],
        "files": [
            {
                "name": crawl.warc.name,
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "sidecars": [crawl.sidecar.name],
            }
        ],
        "items": "items.jsonl",
    }
    put(Bucket=bucket.name, Key=f"{base}/manifest.json", Body=json.dumps(manifest).encode())


def _built(bucket: S3Bucket, crawl: ArticleCrawl, row_group_size: int) -> Path:
    target = crawl.crawl.root / ARTICLES_FILE
    write_dataset(
        target,
        crawl.crawl.root / "items.jsonl",
        _crawl_lines(crawl.crawl.root),
        crawl_id=CRAWL_ID,
        key_of=lambda name: f"{_base(bucket)}/{name}",
        row_group_size=row_group_size,
    )
    return target


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_range_reads_fetch_only_the_columns_and_row_groups_asked_for(
    s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    crawl = article_crawl(tmp_path / "spool", 240, days=4, words=300)
    local = _built(s3_bucket, crawl, row_group_size=30)
    _store_crawl(s3_bucket, crawl, dataset=local)
    meta = pq.read_metadata(local)
    text_column = meta.schema.names.index("text")
    text_chunks = [
        (chunk.data_page_offset, chunk.data_page_offset + chunk.total_compressed_size)
        for chunk in (meta.row_group(i).column(text_column) for i in range(meta.num_row_groups))
    ]
    text_bytes = sum(end - start for start, end in text_chunks)
    size = local.stat().st_size
    assert text_bytes > size / 2, "the test wants the text to be most of the file"
    [obj] = list(iter_dataset_keys(s3_bucket.client, s3_bucket.name, s3_bucket.cfg.prefix))
    assert (obj.key, obj.size, obj.crawl_id) == (
        f"{_base(s3_bucket)}/{ARTICLES_FILE}",
        size,
        CRAWL_ID,
    )

    ranges: list[tuple[int, int]] = []

    def fetched(flt: ArticleFilter, columns: list[str]) -> tuple[int, int]:
        files: list[RangeFile] = []
        table = read_articles(
            s3_bucket.client, s3_bucket.name, s3_bucket.cfg.prefix, flt, columns, counter=files
        )
        ranges[:] = [r for f in files for r in f.ranges]
        return table.num_rows, sum(f.bytes_read for f in files)

    everything = ArticleFilter()
    rows, without_text = fetched(everything, ["url", "title", "captured"])
    assert rows == 240
    # The text column is never fetched: what was read is less than the file without it.
    assert without_text < size - text_bytes
    # The first GET is the file's fixed-size tail (the footer); no other touches a text chunk.
    assert ranges[0] == (size - TAIL_READ, TAIL_READ)
    for offset, length in ranges[1:]:
        assert all(offset + length <= start or offset >= end for start, end in text_chunks)
    rows, with_text = fetched(everything, ["url", "text"])
    assert rows == 240 and with_text >= text_bytes
    # A site's row groups only (the rows are sorted by site): about half the bytes.
    rows, one_site = fetched(ArticleFilter(site=SITES[0]), ["url", "text"])
    assert rows == 120 and one_site < with_text * 0.6
    # One of the site's two days (odd articles fall on the 2nd and 4th): half its row groups.
    day = ArticleFilter(site=SITES[1], since=date(2026, 3, 2), until=date(2026, 3, 2))
    rows, one_day = fetched(day, ["url", "text"])
    assert rows == 60 and one_day < one_site * 0.6
    # What was read matches the local file's own rows.
    remote = read_articles(
        s3_bucket.client, s3_bucket.name, s3_bucket.cfg.prefix, day, ["url", "text", "captured"]
    )
    assert remote.equals(read_dataset(local, day, ["url", "text", "captured"]))


def test_archiver_articles_selects_by_site_and_date(
    s3_bucket: S3Bucket, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    crawl = article_crawl(tmp_path / "spool", 40, days=4)
    _store_crawl(s3_bucket, crawl, dataset=_built(s3_bucket, crawl, 4_000))
    settings = bucket_settings(s3_bucket)
    select = ["--site", "www.beta.example", "--from", "2026-03-02", "--to", "2026-03-03"]
    want = [
        i for i in crawl.expected(SITES[1]) if i["warc_date"][:10] in ("2026-03-02", "2026-03-03")
    ]
    assert want
    out_csv = tmp_path / "beta.csv"
    code, _out, err = _run(capsys, *settings, "articles", *select, "-o", str(out_csv))
    assert code == 0, err
    assert f"{len(want)} article(s)" in err
    with open(out_csv, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["url"] for r in rows] == [i["url"] for i in want]
    assert "text" not in rows[0]
    assert rows[0]["authors"] == "; ".join(want[0]["authors"])
    out_parquet = tmp_path / "beta.parquet"
    code, out, err = _run(
        capsys, *settings, "articles", *select, "--text", "-o", str(out_parquet), "--json"
    )
    assert code == 0, err
    assert json.loads(out)["articles"] == len(want)
    table = pq.read_table(out_parquet)
    assert table.column("text").to_pylist() == [i["body"] for i in want]
    code, out, err = _run(capsys, *settings, "articles", *select, "--lang", "de", "--json")
    assert code == 0, err
    german = [i["url"] for i in want if i["language"] == "de"]
    assert [r["url"] for r in json.loads(out)["rows"]] == german
    code, out, err = _run(capsys, *settings, "articles", "--site", "beta.example")
    assert code == 0, err
    assert want[0]["url"] in out and "Story" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "yesterday"], "--from wants a date as YYYY-MM-DD"),
        (["--from", "2026-03-04", "--to", "2026-03-01"], "is after --to"),
        (["-o", "out.txt"], "-o wants a .parquet or .csv file name"),
    ],
)
def test_archiver_articles_bad_input_is_one_line_and_exit_2(
    s3_bucket: S3Bucket, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, _out, err = _run(capsys, *bucket_settings(s3_bucket), "articles", *args)
    assert code == 2
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) <= 2


def test_reindex_builds_the_dataset_of_a_crawl_stored_without_one(
    s3_bucket: S3Bucket, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    crawl = article_crawl(tmp_path / "spool", 25)
    _store_crawl(s3_bucket, crawl, dataset=None)
    key = f"{_base(s3_bucket)}/{ARTICLES_FILE}"
    assert key not in s3_bucket.list_keys()
    settings = bucket_settings(s3_bucket)
    code, out, err = _run(capsys, *settings, "reindex", "--use-sidecars", "--json")
    assert code == 0, err
    assert json.loads(out)["datasets"]["built"] == {CRAWL_ID: 25}
    stored = tmp_path / "stored.parquet"
    stored.write_bytes(s3_bucket.read(key))
    table = pq.read_table(stored)
    assert table.column("url").to_pylist() == [i["url"] for i in crawl.expected()]
    assert set(table.column("warc_key").to_pylist()) == {f"{_base(s3_bucket)}/{crawl.warc.name}"}
    # The offsets point into the stored WARC.
    first = table.slice(0, 1).to_pylist()[0]
    member = s3_bucket.client.get_object(
        Bucket=s3_bucket.name,
        Key=first["warc_key"],
        Range=f"bytes={first['warc_offset']}-{first['warc_offset'] + first['warc_length'] - 1}",
    )["Body"].read()
    assert first["record_id"].encode() in gzip.decompress(member)
    code, out, err = _run(capsys, *settings, "reindex", "--use-sidecars", "--json")
    assert code == 0, err
    report = json.loads(out)["datasets"]
    assert report["built"] == {} and report["present"] == [CRAWL_ID]


def test_archiver_articles_storage_problems_are_one_line(
    s3_bucket: S3Bucket, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _out, err = _run(capsys, *bucket_settings(s3_bucket, "no-such-bucket-x1"), "articles")
    assert code == 1
    assert err.startswith("Error: storage: the bucket does not exist") and "Traceback" not in err
    monkeypatch.delenv("ARCHIVER_S3_BUCKET", raising=False)
    code, _out, err = _run(capsys, "articles", "--site", "beta.example")
    assert code == 2 and "ARCHIVER_S3_BUCKET" in err
    # An archive with no dataset yet says where to get one.
    code, out, err = _run(capsys, *bucket_settings(s3_bucket), "articles", "--json")
    assert code == 0 and json.loads(out)["articles"] == 0
    assert "archiver reindex" in err
