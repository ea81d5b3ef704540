"""The Redis roll of a distributed crawl, on a real redis-server: who leaves last, quiet time."""

from __future__ import annotations

import secrets

import pytest
import redis

from archiver.devserver.localredis import LocalRedis
from archiver.operations import FrontierKeys, WorkerRoll


@pytest.fixture
def client(redis_server: LocalRedis) -> redis.Redis:
    return redis.Redis.from_url(redis_server.url, decode_responses=True)


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
