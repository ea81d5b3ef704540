"""Distributed crawls, no Redis needed: frontier keys, crawl ids, the merged manifest."""

from __future__ import annotations

import pytest

from archiver.operations import FrontierKeys, merge_manifests, scheduler_settings, validate_crawl_id


def test_every_worker_derives_the_same_keys_and_scheduler_settings() -> None:
    keys = FrontierKeys("news-20261125T170000Z-abc123")
    settings = scheduler_settings("redis://127.0.0.1:6390/0", keys)
    assert settings["SCHEDULER"] == "scrapy_redis.scheduler.Scheduler"
    assert settings["SCHEDULER_PERSIST"] is True
    assert settings["SCHEDULER_QUEUE_KEY"] == "archiver:news-20261125T170000Z-abc123:requests"
    # scrapy-redis %-formats the key templates: ours hold no % so they pass through unchanged.
    assert settings["SCHEDULER_QUEUE_KEY"] % {"spider": "news"} == settings["SCHEDULER_QUEUE_KEY"]
    assert FrontierKeys("news-20261125T170000Z-abc123") == keys


@pytest.mark.parametrize("bad", ["", "a%b", "has space", "x/y"])
def test_crawl_ids_unusable_as_keys_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="ARCHIVER_"):
        validate_crawl_id(bad)


def test_merged_manifest_holds_every_workers_files_and_summed_stats() -> None:
    one = {
        "crawl_id": "c1",
        "worker": "h-1",
        "manifest_name": "manifest-h-1.json",
        "started": "2026-11-25T10:00:00+00:00",
        "finished": "2026-11-25T10:05:00+00:00",
        "files": [{"name": "news-2-h-1.warc.gz"}],
        "items": "items-h-1.jsonl",
        "stats": {"archiver/warc/responses": 10, "finish_reason": "finished"},
        "uploads_waiting": [],
    }
    two = {
        "crawl_id": "c1",
        "worker": "h-2",
        "manifest_name": "manifest-h-2.json",
        "started": "2026-11-25T09:59:00+00:00",
        "finished": "2026-11-25T10:04:00+00:00",
        "files": [{"name": "news-1-h-2.warc.gz"}],
        "items": "items-h-2.jsonl",
        "stats": {"archiver/warc/responses": 7},
        "uploads_waiting": ["news-1-h-2.warc.gz"],
    }
    merged = merge_manifests([one, two])
    assert [f["name"] for f in merged["files"]] == ["news-1-h-2.warc.gz", "news-2-h-1.warc.gz"]
    assert merged["stats"]["archiver/warc/responses"] == 17
    assert merged["started"] == "2026-11-25T09:59:00+00:00"
    assert merged["finished"] == "2026-11-25T10:05:00+00:00"
    assert merged["workers"] == ["h-1", "h-2"]
    assert merged["items"] == ["items-h-1.jsonl", "items-h-2.jsonl"]
    assert merged["uploads_waiting"] == ["news-1-h-2.warc.gz"]
    with pytest.raises(ValueError):
        merge_manifests([])
