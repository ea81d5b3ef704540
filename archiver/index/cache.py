"""A local cache of the archive-wide index's cluster.idx files, so a lookup reads only blocks.

Each lookup still lists the runs once (so runs that `archiver reindex` or a new crawl
published are always seen, and merged-away runs are never read); a run's cluster.idx is
then read from the cache when the listing shows the same ETag and size as the cached copy,
and fetched (and cached) otherwise. Blocks of several runs are read in parallel. Files are
written to a temporary name and renamed, so processes sharing the cache never see half a
file. docs/index-format.md describes the layout.  Scrapy-free.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from archiver.index.archive import (
    CLUSTER_FILE,
    RUN_FILE,
    RUNS_DIR,
    ArchiveIndex,
    ByteRange,
    Capture,
    ClusterIndex,
    KeyRange,
    RunInfo,
    search_zipnum,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)

APP_DIR = "news-archiver"
CACHE_SUBDIR = "index"
# Parallel block reads when the index has several runs (at most ARCHIVER_INDEX_MAX_RUNS, 16).
READ_THREADS = 8
SNAPSHOT_FILE = "runs.json"
BLOCKS_DIR = "blocks"
# Index blocks kept per archive (about 60 KB each: 15 MB), most recently used first; enough
# for a researcher's find-then-get of the same URLs, small beside the cluster.idx files.
MAX_BLOCKS = 256
# Spans of several blocks (a host or domain query) are not kept: they are read once.
MAX_CACHED_SPAN = 256 * 1024
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


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


@dataclass(frozen=True)
class ListedRun:
    """A committed run as one listing shows it: its cluster.idx version and size."""

    run_id: str
    etag: str
    size: int
    # (part file, ETag) of each part: cached blocks are named by their part's ETag.
    parts: tuple[tuple[str, str], ...] = ()

    def part_etag(self, part: str) -> str | None:
        """The listed ETag of one part file."""
        return next((etag for name, etag in self.parts if name == part), None)


def _merge(results: Sequence[Sequence[Capture]]) -> list[Capture]:
    found: dict[tuple[str, int], Capture] = {}
    for captures in results:
        for capture in captures:
            # A merge that stopped before deleting its inputs leaves a record in two runs.
            found.setdefault((capture.filename, capture.offset), capture)
    return sorted(found.values(), key=lambda c: c.line)


def _safe(text: str) -> str:
    return _UNSAFE.sub("_", text)[:120] or "_"


class CachedArchiveIndex(ArchiveIndex):
    """ArchiveIndex whose lookups keep cluster.idx files in a local directory."""

    def __init__(self, client: S3Client, bucket: str, prefix: str, cache_dir: Path) -> None:
        super().__init__(client, bucket, prefix)
        endpoint = str(getattr(client.meta, "endpoint_url", "") or "")
        archive = hashlib.sha256(f"{endpoint}\n{bucket}\n{self.root}".encode()).hexdigest()[:20]
        self.cache_root = cache_dir / CACHE_SUBDIR / archive
        self.cache_hits = 0
        self.cache_misses = 0
        self.block_hits = 0
        self._listed: dict[str, ListedRun] = {}
        self._lock = threading.Lock()
        self._cache_ok = True
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
        self._prune({r.run_id for r in listed})
        return listed

    def run_ids(self) -> list[str]:
        """Ids of committed runs, from one listing (which also validates the cache)."""
        return [r.run_id for r in self.listed_runs()]

    def cluster(self, run_id: str) -> ClusterIndex:
        """A run's secondary index: the cached copy when the listing shows it unchanged."""
        listed = self._listed.get(run_id)
        data = self._read_cached(listed) if listed is not None else None
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
            self._store(run_id, etag, data)
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
        previous = self._load_snapshot()
        pool = self._executor()
        listing = pool.submit(self.listed_runs)
        ahead = {
            run.run_id: (run, pool.submit(self._search_cached, run, rng))
            for run in previous
            if self._cached_copy_exists(run)
        }
        current = listing.result()
        if current != previous:
            self._save_snapshot(current)
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
        data = self._read_cached(run)
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

    # --- the cache directory ------------------------------------------------------------
    def _cluster_path(self, run_id: str, etag: str) -> Path:
        return self.cache_root / _safe(run_id) / f"cluster-{_safe(etag.strip(chr(34)))}.idx"

    def _read_block(self, run: ListedRun, span: ByteRange) -> bytes:
        """Index blocks: the cached copy (named by its part's ETag), else one Range read."""
        etag = run.part_etag(span.part)
        path = None
        if etag and self._cache_ok:
            path = (
                self.cache_root
                / _safe(run.run_id)
                / BLOCKS_DIR
                / f"{_safe(span.part)}-{_safe(etag.strip(chr(34)))}-{span.offset}-{span.length}"
            )
            try:
                with open(path, "rb") as fh:
                    data = fh.read()
                if len(data) == span.length:
                    with self._lock:
                        self.block_hits += 1
                    with contextlib.suppress(OSError):
                        os.utime(path)
                    return data
            except OSError:
                pass
        data = self.get(self.run_key(run.run_id, span.part), (span.offset, span.length))
        if path is not None and span.length <= MAX_CACHED_SPAN and self._write_atomic(path, data):
            self._trim_blocks()
        return data

    def _trim_blocks(self) -> None:
        """Keep the MAX_BLOCKS most recently used blocks of this archive."""
        try:
            blocks = [p for p in self.cache_root.glob(f"*/{BLOCKS_DIR}/*") if p.is_file()]
            if len(blocks) <= MAX_BLOCKS:
                return
            blocks.sort(key=lambda p: p.stat().st_mtime)
            for old in blocks[: len(blocks) - MAX_BLOCKS]:
                old.unlink(missing_ok=True)
        except OSError as exc:
            logger.debug("event=index_cache_trim_failed dir=%s error=%r", self.cache_root, exc)

    def _read_cached(self, run: ListedRun) -> bytes | None:
        """The cached cluster.idx of a run, if the copy has the listed ETag and size."""
        if not self._cache_ok:
            return None
        try:
            with open(self._cluster_path(run.run_id, run.etag), "rb") as fh:
                data = fh.read()
        except OSError:
            return None
        return data if len(data) == run.size else None

    def _cached_copy_exists(self, run: ListedRun) -> bool:
        return self._cache_ok and self._cluster_path(run.run_id, run.etag).is_file()

    def _load_snapshot(self) -> list[ListedRun]:
        """The runs the last listing showed (any process's), [] when unknown."""
        try:
            doc = json.loads((self.cache_root / SNAPSHOT_FILE).read_text(encoding="utf-8"))
            return [
                ListedRun(str(r[0]), str(r[1]), int(r[2]), tuple((str(n), str(e)) for n, e in r[3]))
                for r in doc["runs"]
            ]
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            return []

    def _save_snapshot(self, runs: Sequence[ListedRun]) -> None:
        doc = {"runs": [[r.run_id, r.etag, r.size, [list(p) for p in r.parts]] for r in runs]}
        self._write_atomic(self.cache_root / SNAPSHOT_FILE, json.dumps(doc).encode("utf-8"))

    def _write_atomic(self, path: Path, data: bytes) -> bool:
        """Write through a temporary file and a rename; False (cache off) when that fails."""
        if not self._cache_ok:
            return False
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except FileNotFoundError:
            # Another process pruned the directory meanwhile: written next time.
            return False
        except OSError as exc:
            # A read-only or full cache only costs requests; lookups go on without it.
            self._cache_ok = False
            logger.warning("event=index_cache_off dir=%s error=%r", self.cache_root, exc)
            return False
        return True

    def _store(self, run_id: str, etag: str, data: bytes) -> None:
        if not self._cache_ok:
            return
        path = self._cluster_path(run_id, etag)
        if self._write_atomic(path, data):
            for other in path.parent.glob("cluster-*.idx"):
                if other != path:
                    other.unlink(missing_ok=True)

    def _prune(self, present: set[str]) -> None:
        """Drop cached runs the listing no longer shows (merged away or rebuilt)."""
        if not self._cache_ok or not self.cache_root.is_dir():
            return
        keep = {_safe(r) for r in present}
        try:
            for child in self.cache_root.iterdir():
                if child.is_dir() and child.name not in keep:
                    shutil.rmtree(child, ignore_errors=True)
        except OSError as exc:
            logger.debug("event=index_cache_prune_failed dir=%s error=%r", self.cache_root, exc)

    def cache_summary(self) -> dict[str, Any]:
        """Hits, misses and where the cache is (for --json reports and the benchmark)."""
        return {
            "dir": str(self.cache_root),
            "hits": self.cache_hits,
            "misses": self.cache_misses,
            "block_hits": self.block_hits,
            "runs": sorted(self._listed),
        }
