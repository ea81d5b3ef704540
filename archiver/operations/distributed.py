"""Several crawl workers sharing one frontier in Redis (Scrapy-free parts).

The frontier itself (request queue and duplicate filter) is scrapy-redis's; this
module names its keys per crawl, keeps the roll of a crawl's workers, tells when the
whole crawl has gone quiet, and merges the workers' manifests into the crawl's one.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from archiver.config import SettingError

# Keys expire this long after a crawl's last activity, so Redis does not fill up with
# finished crawls (a week: long enough to inspect a crawl that went wrong).
KEY_TTL_SECONDS = 7 * 24 * 3600


class RedisLike(Protocol):
    """The few Redis commands used here (redis-py's client has them all)."""

    def set(self, name: str, value: str, ex: int | None = None) -> Any: ...
    def get(self, name: str) -> Any: ...
    def incr(self, name: str, amount: int = 1) -> Any: ...
    def decr(self, name: str, amount: int = 1) -> Any: ...
    def sadd(self, name: str, *values: str) -> Any: ...
    def smembers(self, name: str) -> Any: ...
    def hset(self, name: str, key: str, value: str) -> Any: ...
    def hgetall(self, name: str) -> Any: ...
    def expire(self, name: str, time: int) -> Any: ...
    def zcard(self, name: str) -> Any: ...
    def exists(self, *names: str) -> Any: ...


@dataclass(frozen=True)
class FrontierKeys:
    """The Redis keys of one crawl; every worker of the crawl derives the same ones."""

    crawl_id: str
    namespace: str = "archiver"

    def _key(self, name: str) -> str:
        return f"{self.namespace}:{self.crawl_id}:{name}"

    @property
    def requests(self) -> str:
        """scrapy-redis request queue (a sorted set with the default priority queue)."""
        return self._key("requests")

    @property
    def dupefilter(self) -> str:
        """scrapy-redis duplicate filter (a set of request fingerprints)."""
        return self._key("dupefilter")

    @property
    def workers(self) -> str:
        """Names of every worker that joined the crawl."""
        return self._key("workers")

    @property
    def active(self) -> str:
        """How many workers are running now."""
        return self._key("active")

    @property
    def last_activity(self) -> str:
        """Epoch seconds of the last response any worker received."""
        return self._key("last_activity")

    @property
    def manifests(self) -> str:
        """Each finished worker's manifest, by worker name."""
        return self._key("manifests")


def worker_name() -> str:
    """This process as a worker: host name and pid, as in its WARC file names."""
    host = "".join(ch if ch.isalnum() or ch in "-." else "-" for ch in socket.gethostname())
    return f"{host}-{os.getpid()}"


def worker_crawl_id(crawl_id: str) -> str:
    """The id under which one worker's files are archived: the shared id plus the worker."""
    return f"{validate_crawl_id(crawl_id)}.{worker_name()}"


def validate_crawl_id(crawl_id: str) -> str:
    """A crawl id usable in Redis keys and scrapy-redis's %-formatted key templates."""
    if not crawl_id:
        raise SettingError(
            "ARCHIVER_REDIS_URL needs ARCHIVER_CRAWL_ID: start every worker of one crawl "
            "with the same -s ARCHIVER_CRAWL_ID=..."
        )
    if any(ch in crawl_id for ch in "%{} \t\n/"):
        raise SettingError(f"ARCHIVER_CRAWL_ID {crawl_id!r} may not contain %, braces, spaces or /")
    return crawl_id


def scheduler_settings(redis_url: str, keys: FrontierKeys) -> dict[str, Any]:
    """Scrapy settings that put the crawl's frontier in Redis through scrapy-redis."""
    return {
        "SCHEDULER": "scrapy_redis.scheduler.Scheduler",
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "SCHEDULER_DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        # Workers come and go while the crawl goes on: a worker that stops must not
        # flush the queue the others still work from.
        "SCHEDULER_PERSIST": True,
        "SCHEDULER_QUEUE_KEY": keys.requests,
        "SCHEDULER_DUPEFILTER_KEY": keys.dupefilter,
        "REDIS_URL": redis_url,
    }


class WorkerRoll:
    """One worker's view of the crawl's roll in Redis."""

    def __init__(self, redis: RedisLike, keys: FrontierKeys, worker: str) -> None:
        self.redis = redis
        self.keys = keys
        self.worker = worker

    def join(self) -> None:
        """Count this worker in; keys live on while the crawl is active."""
        self.redis.sadd(self.keys.workers, self.worker)
        self.redis.incr(self.keys.active)
        self.touch()
        self._refresh_ttl()

    def touch(self, now: float | None = None) -> None:
        """Record activity (a response received) on behalf of the whole crawl."""
        self.redis.set(
            self.keys.last_activity,
            f"{time.time() if now is None else now:.3f}",
            ex=KEY_TTL_SECONDS,
        )

    def quiet_for(self, now: float | None = None) -> float:
        """Seconds since any worker last received a response (inf if none ever did)."""
        raw = self.redis.get(self.keys.last_activity)
        if raw is None:
            return float("inf")
        return (time.time() if now is None else now) - float(raw)

    def queued(self) -> int:
        """Requests waiting in the shared queue."""
        return int(self.redis.zcard(self.keys.requests) or 0)

    def leave(self, manifest: Mapping[str, Any]) -> bool:
        """Hand in this worker's manifest; True when it was the last worker still running."""
        self.redis.hset(self.keys.manifests, self.worker, json.dumps(manifest, default=str))
        remaining = int(self.redis.decr(self.keys.active))
        self._refresh_ttl()
        return remaining <= 0

    def manifests(self) -> list[dict[str, Any]]:
        """Every worker's manifest handed in so far."""
        raw = self.redis.hgetall(self.keys.manifests) or {}
        return [json.loads(value) for _, value in sorted(raw.items())]

    def _refresh_ttl(self) -> None:
        for key in (self.keys.workers, self.keys.active, self.keys.manifests, self.keys.dupefilter):
            self.redis.expire(key, KEY_TTL_SECONDS)


def merge_manifests(manifests: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """One crawl manifest from its workers' manifests: all files, summed stats, the span of time."""
    parts = list(manifests)
    if not parts:
        raise ValueError("no worker manifests to merge")
    files = sorted((f for m in parts for f in m.get("files", [])), key=lambda f: f["name"])
    stats: dict[str, Any] = {}
    for m in parts:
        for key, value in m.get("stats", {}).items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                stats[key] = stats.get(key, 0) + value
    first = parts[0]
    # Each worker's dataset (articles.parquet) stays in its own crawl directory, listed there.
    own = {"files", "stats", "worker", "dataset"}
    merged = {key: value for key, value in first.items() if key not in own}
    merged.update(
        {
            "started": min(str(m["started"]) for m in parts),
            "finished": max(str(m["finished"]) for m in parts),
            "files": files,
            "stats": stats,
            "workers": sorted(str(m.get("worker", "")) for m in parts),
            "worker_manifests": sorted(str(m.get("manifest_name", "")) for m in parts),
            "items": sorted({str(m["items"]) for m in parts if m.get("items")}),
            "uploads_waiting": sorted({w for m in parts for w in m.get("uploads_waiting", [])}),
        }
    )
    return merged
