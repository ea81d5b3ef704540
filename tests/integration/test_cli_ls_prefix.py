"""`archiver ls` that finds nothing says where else the bucket holds crawls."""

from __future__ import annotations

import pytest

from archiver.cli import main
from tests.support.s3 import S3Bucket


def _ls(s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch, prefix: str) -> int:
    for name, value in s3_bucket.server.env().items():
        monkeypatch.setenv(name, value)
    return main(
        [
            "ls",
            "-s",
            f"ARCHIVER_S3_BUCKET={s3_bucket.name}",
            "-s",
            f"ARCHIVER_S3_ENDPOINT_URL={s3_bucket.server.endpoint_url}",
            "-s",
            f"ARCHIVER_S3_PREFIX={prefix}",
        ]
    )


def test_an_empty_listing_names_the_prefixes_that_hold_something(
    s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key = "demo/2026-12-07/news-20261207T000000Z-abc123/manifest.json"
    s3_bucket.client.put_object(Bucket=s3_bucket.name, Key=key, Body=b"{}")
    assert _ls(s3_bucket, monkeypatch, "news-archiver") == 0
    err = capsys.readouterr().err
    assert "0 crawl(s)" in err
    assert f"nothing under s3://{s3_bucket.name}/news-archiver/" in err
    assert "try ARCHIVER_S3_PREFIX=demo" in err
    # Under the right prefix the crawl is listed and no hint is given.
    assert _ls(s3_bucket, monkeypatch, "demo") == 0
    err = capsys.readouterr().err
    assert "1 crawl(s)" in err and "nothing under" not in err


def test_an_empty_bucket_says_it_holds_no_crawls(
    s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _ls(s3_bucket, monkeypatch, "news-archiver") == 0
    assert "the bucket holds no crawls yet" in capsys.readouterr().err
