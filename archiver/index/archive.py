"""The archive-wide index in storage: query it, publish crawls as runs, merge runs, rebuild.

The archive-wide index is sorted CDXJ cut into gzip blocks, with a ZipNum secondary index
(``cluster.idx``, one line per block) in the layout pywb and Common Crawl use. It is made of
runs: each crawl publishes a run of its own, and runs are merged once there are too many.
docs/index-format.md describes the format for other tools.  Scrapy-free.
"""

from __future__ import annotations

import contextlib
import gzip
import heapq
import json
import logging
import re
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from botocore.exceptions import BotoCoreError, ClientError

from archiver.index.crawl import iter_crawl_lines, relative_path
from archiver.index.keys import Capture
from archiver.index.runs import RUN_FILE, RUNS_DIR, RunInfo, run_doc, runs_to_merge
from archiver.index.sidecar import SIDECAR_SUFFIX, index_warc, iter_index_lines, sidecar_name
from archiver.index.spill import merge_sorted_files, write_lines
from archiver.index.store import IndexStore, storage_key
from archiver.index.zipnum import (
    BLOCK_LINES,
    CLUSTER_FILE,
    PART_LINES,
    ByteRange,
    ClusterIndex,
    KeyRange,
    search_zipnum,
    write_zipnum,
)
from archiver.spool import MANIFEST_NAME, CrawlInfo
from archiver.storage import S3Config

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)


class ArchiveIndex(IndexStore):
    """The archive-wide index of one bucket and prefix: query, publish crawls, merge runs."""

    # --- runs --------------------------------------------------------------------------
    def run_ids(self) -> list[str]:
        """Ids of committed runs (those whose run.json exists), from one listing."""
        base = f"{self.root}/{RUNS_DIR}/"
        committed = []
        for key in self.list_keys(base):
            run_id, _, name = key[len(base) :].partition("/")
            if name == RUN_FILE:
                committed.append(run_id)
        return committed

    def runs(self) -> list[RunInfo]:
        """Committed runs with their run.json, minus runs a merged run replaces."""
        runs = []
        for run_id in self.run_ids():
            raw = self.get_optional(self.run_key(run_id, RUN_FILE))
            if raw is not None:
                runs.append(RunInfo(run_id, json.loads(raw)))
        replaced = {r for run in runs for r in run.replaces}
        return [run for run in runs if run.run_id not in replaced]

    def cluster(self, run_id: str) -> ClusterIndex:
        """A run's secondary index."""
        return ClusterIndex.parse(self.get(self.run_key(run_id, CLUSTER_FILE)).decode("utf-8"))

    def query(self, rng: KeyRange, runs: Sequence[RunInfo] | None = None) -> list[Capture]:
        """Captures in the range from every run, sorted, each record once.

        Without `runs`, one listing finds the runs (their run.json is not read): a run a merge
        replaced but did not delete yet only repeats records, which are dropped here.
        """
        found: dict[tuple[str, int], Capture] = {}
        run_ids = self.run_ids() if runs is None else [r.run_id for r in runs]
        for run_id in run_ids:
            cluster = self.cluster(run_id)

            def read(span: ByteRange, run_id: str = run_id) -> bytes:
                return self.get(self.run_key(run_id, span.part), (span.offset, span.length))

            for capture in search_zipnum(cluster, rng, read):
                # A merge that stopped before deleting its inputs leaves a record in two runs.
                found.setdefault((capture.filename, capture.offset), capture)
        return sorted(found.values(), key=lambda c: c.line)

    def iter_run_lines(self, run_id: str) -> Iterator[str]:
        """Every line of a run, streamed part by part."""
        doc = json.loads(self.get(self.run_key(run_id, RUN_FILE)))
        for part in doc.get("parts", []):
            body = self.client.get_object(
                Bucket=self.bucket, Key=self.run_key(run_id, str(part["name"]))
            )["Body"]
            self.requests += 1
            with gzip.open(body, "rt", encoding="utf-8") as lines:
                yield from lines

    def publish_run(
        self,
        run_id: str,
        lines: Iterable[str],
        *,
        crawls: Sequence[str],
        replaces: Sequence[str] = (),
        block_lines: int = BLOCK_LINES,
        part_lines: int = PART_LINES,
    ) -> RunInfo:
        """Write sorted lines as a run; run.json goes up last and commits it."""
        with tempfile.TemporaryDirectory(prefix="archiver-index-") as tmp:
            written = write_zipnum(lines, Path(tmp), block_lines=block_lines, part_lines=part_lines)
            for path in written.files:
                self.put_file(self.run_key(run_id, path.name), path)
        doc = run_doc(run_id, written, crawls=crawls, replaces=replaces, block_lines=block_lines)
        self.put_bytes(
            self.run_key(run_id, RUN_FILE),
            (json.dumps(doc, indent=2) + "\n").encode("utf-8"),
            "application/json",
        )
        logger.info(
            "event=index_run_published run=%s lines=%d crawls=%d replaces=%d",
            run_id,
            written.lines,
            len(set(crawls)),
            len(replaces),
        )
        return RunInfo(run_id, doc)

    def delete_run(self, run_id: str) -> None:
        """Remove a run: run.json first, so readers never see a run with missing parts."""
        keys = list(self.list_keys(f"{self.root}/{RUNS_DIR}/{run_id}/"))
        marker = self.run_key(run_id, RUN_FILE)
        for key in sorted(keys, key=lambda k: k != marker):
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def indexed_crawls(self, runs: Sequence[RunInfo] | None = None) -> set[str]:
        """Crawl ids that some run covers."""
        return {c for run in (self.runs() if runs is None else runs) for c in run.crawls}

    # --- crawls ------------------------------------------------------------------------
    def crawl_key(self, crawl_date: str, crawl_id: str, name: str) -> str:
        """Key of one file of a crawl."""
        return storage_key(self.prefix, relative_path(crawl_date, crawl_id, name))

    def read_manifest(self, crawl_date: str, crawl_id: str) -> dict[str, Any] | None:
        """A crawl's manifest.json from storage; None while the crawl is not complete there."""
        raw = self.get_optional(self.crawl_key(crawl_date, crawl_id, MANIFEST_NAME))
        if raw is None:
            return None
        doc = json.loads(raw)
        return doc if isinstance(doc, dict) else None

    def crawl_sidecars(
        self, crawl_date: str, crawl_id: str, manifest: Mapping[str, Any], *, reindex: bool = False
    ) -> Iterator[tuple[str, Iterable[str]]]:
        """(relative WARC path, index lines) for each WARC of a crawl.

        Uses the stored {warc}.cdxj; a WARC without one (or all, with reindex) is read from
        storage and indexed, and the missing sidecar is stored.
        """
        for entry in manifest.get("files", []):
            name = str(entry["name"])
            relative = relative_path(crawl_date, crawl_id, name)
            sidecar_key = self.crawl_key(crawl_date, crawl_id, sidecar_name(name))
            stored = None if reindex else self.stream_lines(sidecar_key)
            if stored is not None:
                yield relative, stored
                continue
            # Indexed as it streams in, to a local file: memory does not follow the WARC's size.
            with tempfile.TemporaryDirectory(prefix="archiver-index-") as tmp:
                work = Path(tmp)
                body = self.client.get_object(
                    Bucket=self.bucket, Key=storage_key(self.prefix, relative)
                )["Body"]
                self.requests += 1
                path = write_lines(
                    work / sidecar_name(name),
                    iter_index_lines(cast(IO[bytes], body), name, work),
                )
                if not self.exists(sidecar_key):
                    self.put_file(sidecar_key, path)
                with open(path, encoding="utf-8") as lines:
                    yield relative, lines

    def index_stored_warc(self, key: str, name: str) -> list[Capture]:
        """Stream a stored WARC through the indexer (one GET, nothing written to disk)."""
        body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        self.requests += 1
        return index_warc(cast(IO[bytes], body), name)

    def publish_crawl(
        self, crawl_date: str, crawl_id: str, *, force: bool = False
    ) -> RunInfo | None:
        """Add a crawl that is complete in storage to the archive-wide index, once.

        Returns the new run, or None when the crawl has no manifest in storage yet or a run
        already covers it.
        """
        runs = self.runs()
        if not force and crawl_id in self.indexed_crawls(runs):
            logger.info("event=index_crawl_present crawl=%s", crawl_id)
            return None
        manifest = self.read_manifest(crawl_date, crawl_id)
        if manifest is None:
            logger.info("event=index_crawl_incomplete crawl=%s: no manifest in storage", crawl_id)
            return None
        with tempfile.TemporaryDirectory(prefix="archiver-index-") as tmp:
            lines = iter_crawl_lines(self.crawl_sidecars(crawl_date, crawl_id, manifest), Path(tmp))
            return self.publish_run(f"c-{crawl_id}", lines, crawls=[crawl_id])

    def compact(self, max_runs: int) -> RunInfo | None:
        """Merge runs as runs_to_merge chooses (None when nothing is merged)."""
        self.remove_replaced()
        runs = self.runs()
        chosen = runs_to_merge([r.lines for r in runs], max_runs)
        if not chosen:
            return None
        return self.merge([runs[i] for i in chosen])

    def merge(self, runs: Sequence[RunInfo]) -> RunInfo:
        """One run holding the lines of several, committed before they are deleted."""
        run_id = f"m-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
        merged = heapq.merge(*(self.iter_run_lines(r.run_id) for r in runs))
        info = self.publish_run(
            run_id,
            merged,
            crawls=[c for r in runs for c in r.crawls],
            replaces=[r.run_id for r in runs],
        )
        for run in runs:
            self.delete_run(run.run_id)
        return info

    def remove_replaced(self) -> None:
        """Delete runs a committed merge replaced but did not get to delete (a crash, say)."""
        base = f"{self.root}/{RUNS_DIR}/"
        present = {key[len(base) :].split("/", 1)[0] for key in self.list_keys(base)}
        for run_id in sorted(present):
            raw = self.get_optional(self.run_key(run_id, RUN_FILE))
            if raw is None:
                continue
            for old in json.loads(raw).get("replaces", []):
                if old in present:
                    logger.info("event=index_run_removed run=%s replaced_by=%s", old, run_id)
                    self.delete_run(str(old))
                    present.discard(old)

    def list_crawls(self) -> list[tuple[str, str]]:
        """(crawl date, crawl id) of every crawl directory in storage, in key order."""
        base = storage_key(self.prefix, "")
        found = []
        for date_prefix in self.list_keys(base, delimiter="/"):
            date = date_prefix[len(base) :].strip("/")
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
                continue
            for crawl_prefix in self.list_keys(date_prefix, delimiter="/"):
                found.append((date, crawl_prefix[len(date_prefix) :].strip("/")))
        return found

    def rebuild(
        self,
        *,
        reindex_warcs: bool = True,
        progress: Callable[[str], None] | None = None,
    ) -> RunInfo | None:
        """Build the whole index again from the crawls in storage, then drop every older run."""
        return rebuild_index(self, reindex_warcs=reindex_warcs, progress=progress)


def rebuild_index(
    index: ArchiveIndex,
    *,
    reindex_warcs: bool = True,
    progress: Callable[[str], None] | None = None,
) -> RunInfo | None:
    """ArchiveIndex.rebuild: one sorted file per crawl, merged, published as one run."""
    old = index.runs()
    crawls: list[str] = []
    with tempfile.TemporaryDirectory(prefix="archiver-reindex-") as tmp:
        work = Path(tmp)
        sorted_files: list[Path] = []
        for crawl_date, crawl_id in index.list_crawls():
            manifest = index.read_manifest(crawl_date, crawl_id)
            if manifest is None:
                logger.warning("event=reindex_skip crawl=%s reason=no-manifest", crawl_id)
                continue
            if progress is not None:
                progress(crawl_id)
            sidecars = index.crawl_sidecars(crawl_date, crawl_id, manifest, reindex=reindex_warcs)
            # One sorted file per crawl, merged at the end: memory holds one crawl at a time.
            path = work / f"crawl-{len(sorted_files):06d}.cdxj"
            runs = work / f"crawl-{len(sorted_files):06d}.runs"
            runs.mkdir()
            write_lines(path, iter_crawl_lines(sidecars, runs))
            shutil.rmtree(runs)
            sorted_files.append(path)
            crawls.append(crawl_id)
        merged = merge_sorted_files(sorted_files, work)
        run_id = f"r-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
        with open(merged, encoding="utf-8") if merged else _empty() as lines:
            info = index.publish_run(run_id, lines, crawls=crawls, replaces=[r.run_id for r in old])
    for run in old:
        index.delete_run(run.run_id)
    return info


@contextlib.contextmanager
def _empty() -> Iterator[Iterator[str]]:
    yield iter(())


def update_after_crawl(
    cfg: S3Config, client: S3Client, crawl: CrawlInfo, *, max_runs: int
) -> RunInfo | None:
    """Publish a crawl stored in full, then merge runs if there are too many."""
    index = ArchiveIndex.for_config(cfg, client)
    run = index.publish_crawl(crawl.crawl_date, crawl.crawl_id)
    index.compact(max_runs)
    return run


# Runs allowed before the smallest are merged when `archiver upload` stores a crawl; the
# extension passes ARCHIVER_INDEX_MAX_RUNS, this is its default.
DEFAULT_MAX_RUNS = 16


def add_stored_crawl(cfg: S3Config, client: S3Client, crawl: CrawlInfo) -> None:
    """A crawl stored with its .cdxj sidecars joins the archive index."""
    index = ArchiveIndex.for_config(cfg, client)
    try:
        manifest = index.read_manifest(crawl.crawl_date, crawl.crawl_id)
    except (ValueError, ClientError, BotoCoreError) as exc:
        logger.debug("event=index_hook_skip crawl=%s error=%r", crawl.crawl_id, exc)
        return
    files = manifest.get("files", []) if manifest else []
    if not any(
        str(s).endswith(SIDECAR_SUFFIX)
        for f in files
        if isinstance(f, dict)
        for s in f.get("sidecars", [])
    ):
        # Crawls run without the index extension stay out until `archiver reindex`.
        return
    update_after_crawl(cfg, client, crawl, max_runs=DEFAULT_MAX_RUNS)
