"""The on-disk spool: crawl ids, crawl.json, upload order, clean-up."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from archiver.spool import (
    CRAWL_FILE,
    CrawlDir,
    CrawlInfo,
    SpoolError,
    iter_crawl_dirs,
    new_crawl_id,
    spool_size,
)

STARTED = datetime(2024, 3, 9, 23, 30, 5, tzinfo=UTC)


def make_crawl(spool_root: Path, crawl_id: str = "news-20240309T233005Z-abc123") -> CrawlDir:
    info = CrawlInfo(crawl_id, "news", STARTED, None, ["https://example.org/"])
    return CrawlDir.create(spool_root, info)


def test_new_crawl_id_format_and_uniqueness() -> None:
    ids = {new_crawl_id("news", STARTED) for _ in range(200)}
    assert len(ids) == 200
    for crawl_id in ids:
        assert re.fullmatch(r"news-20240309T233005Z-[0-9a-f]{6}", crawl_id)


def test_new_crawl_id_uses_utc_and_makes_the_spider_name_safe() -> None:
    # 01:30 at UTC+2 on the 10th is 23:30 UTC on the 9th.
    local = datetime(2024, 3, 10, 1, 30, 5, tzinfo=timezone(timedelta(hours=2)))
    crawl_id = new_crawl_id("../bad spider/\x00", local)
    assert re.fullmatch(r"bad-spider-20240309T233005Z-[0-9a-f]{6}", crawl_id)
    assert "/" not in crawl_id and ".." not in crawl_id


def test_crawl_date_is_the_utc_date_of_the_start() -> None:
    local = datetime(2024, 3, 10, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    assert CrawlInfo("c", "news", local).crawl_date == "2024-03-09"
    assert CrawlInfo("c", "news", STARTED).crawl_date == "2024-03-09"


def test_create_writes_crawl_json_and_load_reads_it_back(spool_root: Path) -> None:
    crawl = make_crawl(spool_root)
    assert crawl.root == spool_root / "news-20240309T233005Z-abc123"
    assert crawl.warc_dir == crawl.root
    doc = json.loads((crawl.root / CRAWL_FILE).read_text())
    assert doc == {
        "crawl_id": "news-20240309T233005Z-abc123",
        "spider": "news",
        "started": "2024-03-09T23:30:05Z",
        "finished": None,
        "start_urls": ["https://example.org/"],
    }
    loaded = CrawlDir.load(crawl.root)
    assert loaded.info == crawl.info
    # The atomic write leaves no temporary file behind.
    assert sorted(p.name for p in crawl.root.iterdir()) == [CRAWL_FILE]


def test_create_refuses_an_existing_crawl_and_unsafe_ids(spool_root: Path) -> None:
    make_crawl(spool_root)
    with pytest.raises(FileExistsError):
        make_crawl(spool_root)
    for bad in ("..", "a/b", ""):
        with pytest.raises(SpoolError):
            CrawlDir.create(spool_root, CrawlInfo(bad, "news", STARTED))


def test_mark_finished_persists(spool_root: Path) -> None:
    crawl = make_crawl(spool_root)
    crawl.mark_finished(STARTED + timedelta(hours=1))
    doc = json.loads((crawl.root / CRAWL_FILE).read_text())
    assert doc["finished"] == "2024-03-10T00:30:05Z"
    assert CrawlDir.load(crawl.root).info.finished == STARTED + timedelta(hours=1)


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[]",
        '{"crawl_id": "", "spider": "news", "started": "2024-03-09T23:30:05Z"}',
        '{"crawl_id": "x", "spider": "news", "started": "yesterday"}',
        '{"crawl_id": "x", "spider": "news", "started": "2024-03-09T23:30:05Z", '
        '"start_urls": "https://example.org/"}',
    ],
)
def test_load_rejects_malformed_crawl_json(tmp_path: Path, content: str) -> None:
    (tmp_path / CRAWL_FILE).write_text(content)
    with pytest.raises(SpoolError):
        CrawlDir.load(tmp_path)


def test_load_without_crawl_json(tmp_path: Path) -> None:
    with pytest.raises(SpoolError, match=r"no crawl\.json"):
        CrawlDir.load(tmp_path)


def test_pending_uploads_order(spool_root: Path) -> None:
    crawl = make_crawl(spool_root)
    names = [
        "news-b-00001.warc.gz",
        "news-a-00002.warc.gz",
        "news-a-00003.warc.gz.open",
        "stats.json",
        "manifest.json",
        "index.cdxj",
        "aaa-notes.txt",
        ".crawl.json.x1y2.tmp",
        "upload.part",
    ]
    for name in names:
        (crawl.root / name).write_bytes(b"x")
    (crawl.root / "subdir").mkdir()
    assert [p.name for p in crawl.pending_uploads()] == [
        "news-a-00002.warc.gz",
        "news-b-00001.warc.gz",
        "aaa-notes.txt",
        "index.cdxj",
        "manifest.json",
        "stats.json",
    ]
    assert [p.name for p in crawl.open_files()] == ["news-a-00003.warc.gz.open"]


def test_remove_if_drained(spool_root: Path) -> None:
    crawl = make_crawl(spool_root)
    assert not crawl.remove_if_drained(), "an unfinished crawl keeps its directory"
    crawl.mark_finished(STARTED)
    (crawl.root / "left.warc.gz").write_bytes(b"x")
    assert not crawl.remove_if_drained(), "a directory with files left is kept"
    assert (crawl.root / CRAWL_FILE).exists()
    (crawl.root / "left.warc.gz").unlink()
    assert crawl.remove_if_drained()
    assert not crawl.root.exists()
    assert spool_root.exists()


def test_iter_crawl_dirs_skips_strangers_and_broken_ones(
    spool_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    make_crawl(spool_root, "news-2")
    make_crawl(spool_root, "news-1")
    (spool_root / "not-a-crawl").mkdir()
    (spool_root / "stray-file.txt").write_text("x")
    broken = spool_root / "broken"
    broken.mkdir()
    (broken / CRAWL_FILE).write_text("{")
    with caplog.at_level(logging.WARNING, logger="archiver.spool.layout"):
        found = [c.info.crawl_id for c in iter_crawl_dirs(spool_root)]
    assert found == ["news-1", "news-2"]
    assert "broken" in caplog.text
    assert list(iter_crawl_dirs(spool_root / "missing")) == []


def test_spool_size_counts_every_file(spool_root: Path) -> None:
    assert spool_size(spool_root / "missing") == 0
    first = make_crawl(spool_root, "one")
    second = make_crawl(spool_root, "two")
    (first.root / "a.warc.gz").write_bytes(b"a" * 1000)
    (second.root / "b.warc.gz.open").write_bytes(b"b" * 234)
    metadata = sum((c.root / CRAWL_FILE).stat().st_size for c in (first, second))
    assert spool_size(spool_root) == 1234 + metadata
