"""The search index kept in step with the article datasets in real storage (SeaweedFS), and
`archiver search` over it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archiver.cli import main
from archiver.search import SearchIndex, SearchQuery
from tests.support.s3 import S3Bucket
from tests.support.search import article, write_parquet
from tests.support.stored_crawl import bucket_settings

pytestmark = pytest.mark.s3


def _put(bucket: S3Bucket, tmp_path: Path, crawl: str, rows: list[dict[str, object]]) -> str:
    key = f"{bucket.cfg.prefix}/2024-03-01/{crawl}/articles.parquet"
    path = write_parquet(tmp_path / f"{crawl}.parquet", rows)  # type: ignore[arg-type]
    bucket.client.put_object(Bucket=bucket.name, Key=key, Body=path.read_bytes())
    return key


def _found(index: SearchIndex, text: str) -> set[str]:
    return {hit.url for hit in index.search(SearchQuery(text, per_page=200)).hits}


def test_sync_reads_only_new_and_changed_datasets_and_drops_vanished_ones(
    s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    a = _put(s3_bucket, tmp_path, "crawl-a", [article(1, "storm surge floods harbour")])
    _put(s3_bucket, tmp_path, "crawl-b", [article(2, "harbour reopens", crawl_id="crawl-b")])
    # Not a dataset: other files of a crawl and keys outside the prefix are left alone.
    s3_bucket.client.put_object(
        Bucket=s3_bucket.name,
        Key=f"{s3_bucket.cfg.prefix}/2024-03-01/crawl-a/items.jsonl",
        Body=b"",
    )
    index = SearchIndex.open(tmp_path / "cache")
    sync = lambda: index.sync(s3_bucket.client, s3_bucket.name, s3_bucket.cfg.prefix)  # noqa: E731

    first = sync()
    assert (first.datasets_seen, first.datasets_read, first.datasets_dropped) == (2, 2, 0)
    assert first.articles_added == 2
    assert _found(index, "harbour") == {
        "https://one.example/story-1",
        "https://one.example/story-2",
    }

    again = sync()
    assert (again.datasets_seen, again.datasets_read, again.articles_added) == (2, 0, 0)

    # crawl-a's dataset rewritten (a reindex): a new ETag, read again, its old rows replaced.
    _put(s3_bucket, tmp_path, "crawl-a", [article(3, "harbour dredging starts")])
    changed = sync()
    assert (changed.datasets_read, changed.articles_added) == (1, 1)
    assert _found(index, "storm") == set()
    assert _found(index, "dredging") == {"https://one.example/story-3"}

    s3_bucket.client.delete_object(Bucket=s3_bucket.name, Key=a)
    gone = sync()
    assert (gone.datasets_seen, gone.datasets_read, gone.datasets_dropped) == (1, 0, 1)
    assert _found(index, "harbour") == {"https://one.example/story-2"}
    assert index.article_count() == 1

    # A new process (a reopened cache) knows what it has read.
    index.close()
    reopened = SearchIndex.open(tmp_path / "cache")
    report = reopened.sync(s3_bucket.client, s3_bucket.name, s3_bucket.cfg.prefix)
    assert (report.datasets_seen, report.datasets_read) == (1, 0)


def test_archiver_search_syncs_then_searches(
    s3_bucket: S3Bucket, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [
        article(1, "The council approved late-night bus routes.", site="city.example"),
        article(2, "Bus drivers strike over late-night routes.", site="other.example"),
        article(3, "<script>alert(1)</script> bus", published="2020-01-01"),
    ]
    _put(s3_bucket, tmp_path, "crawl-a", rows)
    cache = ["-s", f"ARCHIVER_SEARCH_CACHE_DIR={tmp_path / 'cache'}"]
    argv = ["search", '"late-night bus"', "--json", *bucket_settings(s3_bucket), *cache]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["total"] == 1
    assert out["hits"][0]["site"] == "city.example"
    assert "<mark>late</mark>" in out["hits"][0]["snippet_html"]

    assert (
        main(
            [
                "search",
                "bus",
                "--site",
                "other.example",
                "--json",
                *bucket_settings(s3_bucket),
                *cache,
            ]
        )
        == 0
    )
    assert [h["site"] for h in json.loads(capsys.readouterr().out)["hits"]] == ["other.example"]

    assert main(["search", "bus", "--to", "2021-01-01", "--no-sync", *cache]) == 0
    shown = capsys.readouterr()
    assert "&lt;script&gt;" not in shown.out and "<script>alert(1)</script> [bus]" in shown.out
    assert "1-1 of 1 match" in shown.err

    assert main(["search", "nothing-like-this", "--no-sync", *cache]) == 1
    assert "no match" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "yesterday"], "--from wants a date as YYYY-MM-DD"),
        (["--from", "2024-02-01", "--to", "2024-01-01"], "is after the end date"),
        (["--page", "0"], "--page"),
        (["--per-page", "1000"], "--per-page"),
    ],
)
def test_archiver_search_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    cache = ["-s", f"ARCHIVER_SEARCH_CACHE_DIR={tmp_path / 'cache'}"]
    assert main(["search", "bus", "--no-sync", *args, *cache]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if line.startswith("Error")] == [err.splitlines()[-1]]


def test_archiver_search_without_a_bucket_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = ["-s", f"ARCHIVER_SEARCH_CACHE_DIR={tmp_path / 'cache'}", "-s", "ARCHIVER_S3_BUCKET="]
    assert main(["search", "bus", *cache]) == 2
    assert "no bucket configured" in capsys.readouterr().err
