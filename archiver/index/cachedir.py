"""The on-disk cache of one archive's index: cluster.idx copies named by their ETag, index
blocks read lately, and the runs the last listing showed.

Files are written to a temporary name and renamed, so processes sharing the cache never see
half a file; a cache that cannot be written is turned off, and lookups go on without it.
docs/index-format.md describes the layout.  Scrapy-free.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from archiver.index.zipnum import ByteRange

logger = logging.getLogger(__name__)

SNAPSHOT_FILE = "runs.json"
BLOCKS_DIR = "blocks"
# Index blocks kept per archive (about 60 KB each: 15 MB), most recently used first; enough
# for a researcher's find-then-get of the same URLs, small beside the cluster.idx files.
MAX_BLOCKS = 256
# Spans of several blocks (a host or domain query) are not kept: they are read once.
MAX_CACHED_SPAN = 256 * 1024
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


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


def _safe(text: str) -> str:
    return _UNSAFE.sub("_", text)[:120] or "_"


class CacheDir:
    """One archive's cache directory: read and write its files, keep it small and current."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ok = True

    # --- cluster.idx copies -------------------------------------------------------------
    def _cluster_path(self, run_id: str, etag: str) -> Path:
        return self.root / _safe(run_id) / f"cluster-{_safe(etag.strip(chr(34)))}.idx"

    def read_cluster(self, run: ListedRun) -> bytes | None:
        """The cached cluster.idx of a run, if the copy has the listed ETag and size."""
        if not self.ok:
            return None
        try:
            with open(self._cluster_path(run.run_id, run.etag), "rb") as fh:
                data = fh.read()
        except OSError:
            return None
        return data if len(data) == run.size else None

    def has_cluster(self, run: ListedRun) -> bool:
        """Whether a copy of the run's cluster.idx with the listed ETag is cached."""
        return self.ok and self._cluster_path(run.run_id, run.etag).is_file()

    def store_cluster(self, run_id: str, etag: str, data: bytes) -> None:
        """Keep a run's cluster.idx under its ETag, dropping the run's older copies."""
        if not self.ok:
            return
        path = self._cluster_path(run_id, etag)
        if self.write_atomic(path, data):
            for other in path.parent.glob("cluster-*.idx"):
                if other != path:
                    other.unlink(missing_ok=True)

    # --- index blocks -------------------------------------------------------------------
    def block_path(self, run_id: str, span: ByteRange, etag: str | None) -> Path | None:
        """Where a span's blocks are cached (named by its part's ETag); None when they cannot be."""
        if not etag or not self.ok:
            return None
        return (
            self.root
            / _safe(run_id)
            / BLOCKS_DIR
            / f"{_safe(span.part)}-{_safe(etag.strip(chr(34)))}-{span.offset}-{span.length}"
        )

    @staticmethod
    def read_block(path: Path, length: int) -> bytes | None:
        """The cached blocks at path when complete (marked as used), else None."""
        try:
            with open(path, "rb") as fh:
                data = fh.read()
            if len(data) == length:
                with contextlib.suppress(OSError):
                    os.utime(path)
                return data
        except OSError:
            pass
        return None

    def store_block(self, path: Path, span: ByteRange, data: bytes) -> None:
        """Keep a span's blocks, unless the span is too large to be worth it."""
        if span.length <= MAX_CACHED_SPAN and self.write_atomic(path, data):
            self._trim_blocks()

    def _trim_blocks(self) -> None:
        """Keep the MAX_BLOCKS most recently used blocks of this archive."""
        try:
            blocks = [p for p in self.root.glob(f"*/{BLOCKS_DIR}/*") if p.is_file()]
            if len(blocks) <= MAX_BLOCKS:
                return
            blocks.sort(key=lambda p: p.stat().st_mtime)
            for old in blocks[: len(blocks) - MAX_BLOCKS]:
                old.unlink(missing_ok=True)
        except OSError as exc:
            logger.debug("event=index_cache_trim_failed dir=%s error=%r", self.root, exc)

    # --- the last listing ---------------------------------------------------------------
    def load_snapshot(self) -> list[ListedRun]:
        """The runs the last listing showed (any process's), [] when unknown."""
        try:
            doc = json.loads((self.root / SNAPSHOT_FILE).read_text(encoding="utf-8"))
            return [
                ListedRun(str(r[0]), str(r[1]), int(r[2]), tuple((str(n), str(e)) for n, e in r[3]))
                for r in doc["runs"]
            ]
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            return []

    def save_snapshot(self, runs: Sequence[ListedRun]) -> None:
        """Note the runs a listing showed, for the next lookup to read ahead."""
        doc = {"runs": [[r.run_id, r.etag, r.size, [list(p) for p in r.parts]] for r in runs]}
        self.write_atomic(self.root / SNAPSHOT_FILE, json.dumps(doc).encode("utf-8"))

    def prune(self, present: set[str]) -> None:
        """Drop cached runs the listing no longer shows (merged away or rebuilt)."""
        if not self.ok or not self.root.is_dir():
            return
        keep = {_safe(r) for r in present}
        try:
            for child in self.root.iterdir():
                if child.is_dir() and child.name not in keep:
                    shutil.rmtree(child, ignore_errors=True)
        except OSError as exc:
            logger.debug("event=index_cache_prune_failed dir=%s error=%r", self.root, exc)

    def write_atomic(self, path: Path, data: bytes) -> bool:
        """Write through a temporary file and a rename; False (cache off) when that fails."""
        if not self.ok:
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
            self.ok = False
            logger.warning("event=index_cache_off dir=%s error=%r", self.root, exc)
            return False
        return True
