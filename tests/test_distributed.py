"""The Redis roll of a distributed crawl and the merge of its workers' manifests."""

from __future__ import annotations

import secrets

import pytest
import redis

from archiver.devserver.localredis import LocalRedis
from archiver.operations import (
    FrontierKeys,
    WorkerRoll,
    merge_manifests,
    scheduler_settings,
    validate_crawl_id,
)


@pytest.fixture
def client(redis_server: LocalRedis) -> redis.Redis:
    return redis.Redis.from_url(redis_server.url, decode_responses=True)


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


def test_the_last_worker_to_leave_is_told_so(client: redis.Redis) -> None:
    keys = FrontierKeys("t-" + secrets.token_hex(4))
    a, b = WorkerRoll(client, keys, "host-1"), WorkerRoll(client, keys, "host-2")
    a.join()
    b.join()
    assert client.smembers(keys.workers) == {"host-1", "host-2"}
    assert a.leave({"worker": "host-1", "files": []}) is False
    assert b.leave({"worker": "host-2", "files": []}) is True
    assert [m["worker"] for m in a.manifests()] == ["host-1", "host-2"]
    assert 0 < client.ttl(keys.manifests) <= 7 * 24 * 3600


def test_quiet_time_comes_from_any_worker(client: redis.Redis) -> None:
    keys = FrontierKeys("t-" + secrets.token_hex(4))
    a, b = WorkerRoll(client, keys, "a"), WorkerRoll(client, keys, "b")
    assert a.quiet_for() == float("inf")
    b.touch(now=1000.0)
    assert a.quiet_for(now=1004.5) == pytest.approx(4.5)
    client.zadd(keys.requests, {"req": 0})
    assert a.queued() == 1


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
