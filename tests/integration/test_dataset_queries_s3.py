"""The article dataset queried in place with the tools docs/for-researchers.md shows.

The pandas (pyarrow) and DuckDB examples of "The stored files are plain Parquet" run as
written against a bucket on the session's SeaweedFS, with only the endpoint, bucket, keys
and month changed, and must select the same rows as `archiver articles`. DuckDB's `httpfs`
comes from PyPI (`duckdb-extension-httpfs`), the documented offline install, so nothing is
downloaded from DuckDB's extension repository.
"""

from __future__ import annotations

import importlib.util
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from archiver.dataset import ARTICLES_FILE
from archiver.index import write_sidecar
from archiver.operations import CrawlArchive
from archiver.storage import Uploader
from tests.support.dataset_archive import new_archive
from tests.support.index_warcs import page_exchange
from tests.support.paths import ROOT
from tests.support.s3 import S3Bucket

pytestmark = pytest.mark.s3

DOC = ROOT / "docs" / "for-researchers.md"
MARCH = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _examples() -> dict[str, str]:
    """The pandas and DuckDB blocks that query the stored datasets, by tool."""
    text = DOC.read_text(encoding="utf-8")
    start = text.index("The stored files are plain Parquet")
    end = text.index("A row's `warc_key`", start)
    section = text[start:end]
    blocks = {}
    for tool, lang in (("pandas", "python"), ("DuckDB", "sql")):
        found = re.search(rf"\*\*{tool}\*\*.*?```{lang}\n(.*?)```", section, re.DOTALL)
        assert found is not None, f"no {tool} example in {DOC.name}"
        blocks[tool] = found.group(1)
    return blocks


def _article(archive: CrawlArchive, url: str, when: datetime) -> None:
    body = f"<html><title>{url}</title><p>{'words ' * 60}</p></html>".encode()
    refs = archive.write_exchange(page_exchange(url, body, when))
    archive.write_item(
        {
            "url": url,
            "warc_record_id": refs.response_id,
            "warc_date": refs.date,
            "title": f"Title of {url.rsplit('/', 1)[-1]}",
            "authors": ["Desk"],
            "body": "Some text of the story.",
            "word_count": 5,
            "language": "en",
        }
    )


def _store(bucket: S3Bucket, spool: Path) -> list[str]:
    """Two crawls' datasets in the bucket; the URLs the documented query must select."""
    archives = [
        new_archive(spool, "news-20260301T120000Z-0a0b0c"),
        new_archive(spool, "news-20260302T120000Z-0d0e0f"),
    ]
    selected = []
    for n, archive in enumerate(archives):
        archive.add_close_hook(lambda closed: [write_sidecar(closed)])
        archive.attach_uploader(
            Uploader(bucket.cfg), key_prefix=bucket.cfg.prefix, keep_local=False, threads=2
        )
        for i in range(4):
            url = f"https://www.example-news.com/story/{n}-{i}"
            _article(archive, url, MARCH + timedelta(days=n, hours=i))
            selected.append(url)
        # Another site in the same month, and the same site a month later: both left out.
        _article(archive, f"https://other-paper.org/story/{n}", MARCH + timedelta(days=n))
        _article(archive, f"https://www.example-news.com/april/{n}", MARCH + timedelta(days=31))
        archive.close()
    stored = [k for k in bucket.list_keys() if k.endswith(ARTICLES_FILE)]
    assert len(stored) == 2
    return sorted(selected)


def _as_stored(example: str, bucket: S3Bucket) -> str:
    """The example pointed at this bucket and at March instead of November."""
    endpoint = bucket.cfg.endpoint_url or ""
    host_port = endpoint.removeprefix("http://")
    changes = {
        "127.0.0.1:8333": host_port,
        "news-archive/news-archiver": f"{bucket.name}/{bucket.cfg.prefix}",
        "2026-11-01": "2026-03-01",
        "2026-12-01": "2026-04-01",
        "your-access-key": bucket.server.access_key,
        "your-secret-key": bucket.server.env()["AWS_SECRET_ACCESS_KEY"],
    }
    for old, new in changes.items():
        example = example.replace(old, new)
    return example


def test_the_pandas_example_selects_the_sites_month(
    s3_bucket: S3Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = _store(s3_bucket, tmp_path / "spool")
    # The documented credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
    for name, value in s3_bucket.server.env().items():
        monkeypatch.setenv(name, value)
    code = _as_stored(_examples()["pandas"], s3_bucket)
    namespace: dict[str, Any] = {}
    exec(compile(code, f"{DOC.name}:pandas", "exec"), namespace)
    november = namespace["november"]  # a pandas DataFrame
    assert sorted(november["url"]) == expected
    assert set(november["site"]) == {"example-news.com"}
    assert int(namespace["per_day"].sum()) == len(expected)
    assert all(key.endswith(".warc.gz") for key in november["warc_key"])


def test_the_duckdb_example_selects_the_sites_month(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    expected = _store(s3_bucket, tmp_path / "spool")
    example = _examples()["DuckDB"]
    spec = importlib.util.find_spec("duckdb_extension_httpfs")
    assert spec is not None and spec.origin is not None, "pip install duckdb-extension-httpfs"
    offline = Path(spec.origin).parent / "extensions"
    # As the doc's offline note says: the extension from PyPI, for this DuckDB's version.
    extension = offline / f"v{duckdb.__version__}" / "httpfs.duckdb_extension"
    assert "INSTALL httpfs;" in example
    example = example.replace("INSTALL httpfs;", f"INSTALL '{extension}';")
    con = duckdb.connect(
        config={
            "extension_directory": str(tmp_path / "duckdb-extensions"),
            # Nothing is fetched from DuckDB's extension repository.
            "autoinstall_known_extensions": False,
        }
    )
    statements = [s.strip() for s in _as_stored(example, s3_bucket).split(";") if s.strip()]
    for statement in statements[:-1]:
        con.execute(statement)
    rows = con.execute(statements[-1]).fetchall()
    assert sorted(row[2] for row in rows) == expected
    captured = [row[0] for row in rows]
    assert captured == sorted(captured)  # ORDER BY captured
    assert all(row[3] > 0 for row in rows)  # word_count
