"""A local cache of the archive-wide index's cluster.idx files, so a lookup reads only blocks.

Each lookup still lists the runs once (so runs that `archiver reindex` or a new crawl
published are always seen, and merged-away runs are never read); a run's cluster.idx is
then read from the cache (archiver.index.cachedir) when the listing shows the same ETag and
size as the cached copy, and fetched (and cached) otherwise. Blocks of several runs are read
in parallel. docs/index-format.md describes the layout.  Scrapy-free.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from archiver.index.archive import ArchiveIndex
from archiver.index.cachedir import CacheDir, ListedRun
from archiver.index.keys import Capture
from archiver.index.runs import RUN_FILE, RUNS_DIR, RunInfo
from archiver.index.zipnum import CLUSTER_FILE, ByteRange, ClusterIndex, KeyRange, search_zipnum

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

APP_DIR = "news-archiver"
CACHE_SUBDIR = "index"
# Parallel block reads when the index has several runs (at most ARCHIVER_INDEX_MAX_RUNS, 16).
READ_THREADS = 8


def default_cache_dir(environ: Any = None) -> Path:
    """$XDG_CACHE_HOME/news-archiver, else ~/.cache/news-archiver."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CACHE_HOME") or ""
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".cache"
    return root / APP_DIR


def cache_dir_from_settings(settings: Any) -> Path:
    """ARCHIVER_INDEX_CACHE_DIR, or the XDG default when it is empty."""
    value = str(settings.get("ARCHIVER_INDEX_CACHE_DIR") or "").strip()
    return Path(value).expanduser() if value else default_cache_dir()


def _merge(results: Sequence[Sequence[Capture]]) -> list[Capture]:
    found: dict[tuple[str, int], Capture] = {}
    for captures in results:
        for capture in captures:
            # A merge that stopped before deleting its inputs leaves a record in two runs.
            found.setdefault((capture.filename, capture.offset), capture)
    return sorted(found.values(), key=lambda c: c.line)


class CachedArchiveIndex(ArchiveIndex):
    """ArchiveIndex whose lookups keep cluster.idx files in a local directory."""

    def __init__(self, client: S3Client, bucket: str, prefix: str, cache_dir: Path) -> None:
        super().__init__(client, bucket, prefix)
        endpoint = str(getattr(client.meta, "endpoint_url", "") or "")
        archive = hashlib.sha256(f"{endpoint}\n{bucket}\n{self.root}".encode()).hexdigest()[:20]
        self.cache_root = cache_dir / CACHE_SUBDIR / archive
        self.cache = CacheDir(self.cache_root)
        self.cache_hits = 0
        self.cache_misses = 0
        self.block_hits = 0
        self._listed: dict[str, ListedRun] = {}
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    # --- counted reads, safe from several threads ---------------------------------------
    def get(self, key: str, byte_range: tuple[int, int] | None = None) -> bytes:
        """An object, or [offset, offset+length) of it with one Range request."""
        body, _etag = self._get_with_etag(key, byte_range)
        return body

    def _get_with_etag(self, key: str, byte_range: tuple[int, int] | None) -> tuple[bytes, str]:
        extra: dict[str, Any] = {}
        if byte_range is not None:
            offset, length = byte_range
            extra["Range"] = f"bytes={offset}-{offset + length - 1}"
        response = self.client.get_object(Bucket=self.bucket, Key=key, **extra)
        body = response["Body"].read()
        with self._lock:
            self.requests += 1
            self.bytes_read += len(body)
        return body, str(response.get("ETag") or "")

    # --- runs ------------------------------------------------------------------------
    def listed_runs(self) -> list[ListedRun]:
        """Committed runs and their cluster.idx ETag and size, from one listing."""
        base = f"{self.root}/{RUNS_DIR}/"
        files: dict[str, dict[str, tuple[str, int]]] = {}
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=base):
            with self._lock:
                self.requests += 1
            for obj in page.get("Contents", []):
                run_id, _, name = str(obj["Key"])[len(base) :].partition("/")
                files.setdefault(run_id, {})[name] = (
                    str(obj.get("ETag") or ""),
                    int(obj.get("Size") or 0),
                )
        listed = []
        for run_id, names in sorted(files.items()):
            if RUN_FILE in names and CLUSTER_FILE in names:
                etag, size = names[CLUSTER_FILE]
                parts = tuple(
                    (name, names[name][0])
                    for name in sorted(names)
                    if name not in (RUN_FILE, CLUSTER_FILE)
                )
                listed.append(ListedRun(run_id, etag, size, parts))
        self._listed = {r.run_id: r for r in listed}
        self.cache.prune({r.run_id for r in listed})
        return listed

    def run_ids(self) -> list[str]:
        """Ids of committed runs, from one listing (which also validates the cache)."""
        return [r.run_id for r in self.listed_runs()]

    def cluster(self, run_id: str) -> ClusterIndex:
        """A run's secondary index: the cached copy when the listing shows it unchanged."""
        listed = self._listed.get(run_id)
        data = self.cache.read_cluster(listed) if listed is not None else None
        if data is not None:
            with self._lock:
                self.cache_hits += 1
            return ClusterIndex.parse(data.decode("utf-8"))
        data, etag = self._get_with_etag(self.run_key(run_id, CLUSTER_FILE), None)
        with self._lock:
            self.cache_misses += 1
        if etag:
            # Named by the ETag the read returned: if the run changed since the listing,
            # the next listing shows that ETag and finds this copy.
            self.cache.store_cluster(run_id, etag, data)
        return ClusterIndex.parse(data.decode("utf-8"))

    def query(self, rng: KeyRange, runs: Sequence[RunInfo] | None = None) -> list[Capture]:
        """Captures in the range from every run, sorted, each record once.

        Without `runs`, the runs are listed while the blocks of the runs the previous
        listing showed are already being read (their cluster.idx is cached); a run the new
        listing does not show with the same cluster.idx ETag is dropped or read again, so
        the answer is the one a fresh listing gives, one round trip sooner.
        """
        if runs is not None:
            return _merge(self._map(lambda r: self._search(r, rng), [r.run_id for r in runs]))
        previous = self.cache.load_snapshot()
        pool = self._executor()
        listing = pool.submit(self.listed_runs)
        ahead = {
            run.run_id: (run, pool.submit(self._search_cached, run, rng))
            for run in previous
            if self.cache.has_cluster(run)
        }
        current = listing.result()
        if current != previous:
            self.cache.save_snapshot(current)
        results: list[list[Capture]] = []
        again: list[str] = []
        for run in current:
            guess = ahead.pop(run.run_id, None)
            found = guess[1].result() if guess is not None and guess[0] == run else None
            if found is None:
                again.append(run.run_id)
            else:
                results.append(found)
        for _run, future in ahead.values():
            # Runs merged away since the last lookup: their reads may fail; nothing is used.
            future.cancel()
            with contextlib.suppress(Exception):
                future.result()
        results.extend(self._map(lambda r: self._search(r, rng), again))
        return _merge(results)

    def _search(self, run_id: str, rng: KeyRange) -> list[Capture]:
        cluster = self.cluster(run_id)
        listed = self._listed.get(run_id, ListedRun(run_id, "", 0))
        return list(search_zipnum(cluster, rng, lambda span: self._read_block(listed, span)))

    def _search_cached(self, run: ListedRun, rng: KeyRange) -> list[Capture] | None:
        """The run's captures through its cached cluster.idx; None when that cannot be done."""
        data = self.cache.read_cluster(run)
        if data is None:
            return None
        cluster = ClusterIndex.parse(data.decode("utf-8"))
        try:
            found = list(search_zipnum(cluster, rng, lambda span: self._read_block(run, span)))
        except (ClientError, OSError, ValueError, EOFError):
            return None
        with self._lock:
            self.cache_hits += 1
        return found

    def _map(self, func: Callable[[str], list[Capture]], run_ids: list[str]) -> list[list[Capture]]:
        if len(run_ids) <= 1:
            return [func(r) for r in run_ids]
        return list(self._executor().map(func, run_ids))

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(READ_THREADS, thread_name_prefix="index-read")
        return self._pool

    def close(self) -> None:
        """Stop the reader threads."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def _read_block(self, run: ListedRun, span: ByteRange) -> bytes:
        """Index blocks: the cached copy (named by its part's ETag), else one Range read."""
        path = self.cache.block_path(run.run_id, span, run.part_etag(span.part))
        if path is not None:
            data = self.cache.read_block(path, span.length)
            if data is not None:
                with self._lock:
                    self.block_hits += 1
                return data
        data = self.get(self.run_key(run.run_id, span.part), (span.offset, span.length))
        if path is not None:
            self.cache.store_block(path, span, data)
        return data

    def cache_summary(self) -> dict[str, Any]:
        """Hits, misses and where the cache is (for --json reports and the benchmark)."""
        return {
            "dir": str(self.cache_root),
            "hits": self.cache_hits,
            "misses": self.cache_misses,
            "block_hits": self.block_hits,
            "runs": sorted(self._listed),
        }
