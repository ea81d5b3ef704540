"""The archive-wide index in SeaweedFS: published runs merge and answer queries; rebuilds."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from archiver.index import ArchiveIndex, index_file, key_range
from tests.support.index_warcs import T0, write_warc
from tests.support.s3 import S3Bucket


def _store_crawl(
    bucket: S3Bucket, tmp_path: Path, crawl_id: str, date: str, start: datetime, pages: int
) -> Path:
    """Upload one WARC, its sidecar and a manifest as a crawl would leave them in storage."""
    directory = tmp_path / crawl_id
    directory.mkdir()
    path = write_warc(directory, pages, start=start)
    captures = index_file(path)
    base = f"{bucket.cfg.prefix}/{date}/{crawl_id}"
    bucket.client.upload_file(str(path), bucket.name, f"{base}/{path.name}")
    bucket.client.put_object(
        Bucket=bucket.name,
        Key=f"{base}/{path.name}.cdxj",
        Body="".join(c.line for c in captures).encode(),
    )
    import hashlib

    manifest = {
        "crawl_id": crawl_id,
        "start_urls": ["http://example.com/"],
        "files": [
            {
                "name": path.name,
                "size": path.stat().st_size,
                "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                "sidecars": [path.name + ".cdxj"],
            }
        ],
    }
    bucket.client.put_object(
        Bucket=bucket.name, Key=f"{base}/manifest.json", Body=json.dumps(manifest).encode()
    )
    return path


@pytest.mark.s3
def test_crawls_publish_runs_that_merge_and_answer_queries(
    s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    index = ArchiveIndex(s3_bucket.client, s3_bucket.name, s3_bucket.cfg.prefix)
    for n in range(4):
        day = T0 + timedelta(days=n)
        _store_crawl(s3_bucket, tmp_path, f"c{n}", f"{day:%Y-%m-%d}", day, 4)
        run = index.publish_crawl(f"{day:%Y-%m-%d}", f"c{n}")
        assert run is not None and run.lines == 4
    assert index.publish_crawl(f"{T0:%Y-%m-%d}", "c0") is None, "a crawl is published once"
    assert index.publish_crawl("2026-01-01", "never-stored") is None
    assert len(index.runs()) == 4

    found = index.query(key_range("http://example.com/news/2.html"))
    assert [c.timestamp[:8] for c in found] == ["20260301", "20260302", "20260303", "20260304"]
    assert all(c.fields["title"] == "Title 2" for c in found)
    assert (
        found[1].filename
        == f"{T0 + timedelta(days=1):%Y-%m-%d}/c1/{found[1].filename.rsplit('/', 1)[1]}"
    )

    merged = index.compact(max_runs=16)
    # Four runs of equal size: together the smaller ones match the next, so all four merge.
    assert merged is not None and sorted(merged.crawls) == ["c0", "c1", "c2", "c3"]
    runs = index.runs()
    assert [r.run_id for r in runs] == [merged.run_id] and merged.replaces
    assert [c.line for c in index.query(key_range("http://example.com/news/2.html"))] == [
        c.line for c in found
    ]
    assert index.compact(max_runs=16) is None
    assert len(index.query(key_range("example.com", "domain"))) == 16
    # Old runs are gone from storage, not only hidden.
    keys = s3_bucket.list_keys()
    assert not [k for k in keys if "/_index/runs/c-c0/" in k]


@pytest.mark.s3
def test_a_merge_that_stopped_before_deleting_its_inputs_leaves_no_duplicates(
    s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    index = ArchiveIndex(s3_bucket.client, s3_bucket.name, s3_bucket.cfg.prefix)
    for n in range(2):
        day = T0 + timedelta(days=n)
        _store_crawl(s3_bucket, tmp_path, f"d{n}", f"{day:%Y-%m-%d}", day, 2)
        index.publish_crawl(f"{day:%Y-%m-%d}", f"d{n}")
    runs = index.runs()
    # What a crash between commit and clean-up leaves: the merged run and both inputs.
    import heapq

    index.publish_run(
        "m-crashed",
        heapq.merge(*(index.iter_run_lines(r.run_id) for r in runs)),
        crawls=["d0", "d1"],
        replaces=[r.run_id for r in runs],
    )
    assert [r.run_id for r in index.runs()] == ["m-crashed"]
    assert len(index.query(key_range("example.com", "host"))) == 4
    index.remove_replaced()
    assert {
        k.split("/_index/runs/")[1].split("/")[0] for k in s3_bucket.list_keys() if "/_index/" in k
    } == {"m-crashed"}


@pytest.mark.s3
def test_rebuild_reads_the_warcs_and_replaces_every_run(
    s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    index = ArchiveIndex(s3_bucket.client, s3_bucket.name, s3_bucket.cfg.prefix)
    path = _store_crawl(s3_bucket, tmp_path, "r0", f"{T0:%Y-%m-%d}", T0, 3)
    index.publish_crawl(f"{T0:%Y-%m-%d}", "r0")
    sidecar_key = f"{s3_bucket.cfg.prefix}/{T0:%Y-%m-%d}/r0/{path.name}.cdxj"
    s3_bucket.client.delete_object(Bucket=s3_bucket.name, Key=sidecar_key)
    run = index.rebuild(reindex_warcs=False)
    assert run is not None and run.lines == 3 and run.crawls == ["r0"]
    assert [r.run_id for r in index.runs()] == [run.run_id]
    # The missing sidecar was made again from the WARC.
    assert s3_bucket.read(sidecar_key).decode() == "".join(c.line for c in index_file(path))
