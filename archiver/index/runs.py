"""Runs of the archive-wide index: what a run's run.json says, and which runs to merge.

Each crawl publishes a run of its own, and runs are merged once there are too many;
docs/index-format.md describes run.json.  Scrapy-free.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from archiver import SOFTWARE
from archiver.index.zipnum import ZipNumWritten

RUNS_DIR = "runs"
RUN_FILE = "run.json"
INDEX_FORMAT = "cdxj-zipnum-1"


@dataclass
class RunInfo:
    """A committed run of the archive-wide index (its run.json)."""

    run_id: str
    doc: dict[str, Any]

    @property
    def lines(self) -> int:
        """Index lines in the run."""
        return int(self.doc.get("lines", 0))

    @property
    def crawls(self) -> list[str]:
        """Crawl ids whose captures the run holds."""
        return [str(c) for c in self.doc.get("crawls", [])]

    @property
    def replaces(self) -> list[str]:
        """Runs this one was merged from."""
        return [str(c) for c in self.doc.get("replaces", [])]


def run_doc(
    run_id: str,
    written: ZipNumWritten,
    *,
    crawls: Sequence[str],
    replaces: Sequence[str],
    block_lines: int,
) -> dict[str, Any]:
    """The run.json of a run whose lines write_zipnum wrote."""
    return {
        "format": INDEX_FORMAT,
        "run_id": run_id,
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "software": SOFTWARE,
        "crawls": sorted(set(crawls)),
        "replaces": list(replaces),
        "lines": written.lines,
        "blocks": written.blocks,
        "block_lines": block_lines,
        "parts": [p.to_json() for p in written.parts],
        "first_timestamp": written.first_timestamp,
        "last_timestamp": written.last_timestamp,
    }


def runs_to_merge(sizes: Sequence[int], max_runs: int) -> list[int]:
    """Indexes of the runs to merge into one, smallest first (empty: leave them).

    Like a binary counter: the smallest runs are merged once together they are at least as
    large as the next one, so equal crawls give runs of 1, 2, 4, 8... crawls, at most about
    log2(crawls) runs, and each line is rewritten about log2(crawls) times. Past max_runs
    the smallest are merged whatever their sizes.
    """
    order = sorted(range(len(sizes)), key=lambda i: (sizes[i], i))
    count, total = 1, sizes[order[0]] if order else 0
    while count < len(order) and total >= sizes[order[count]]:
        total += sizes[order[count]]
        count += 1
    if max_runs >= 1 and len(order) > max_runs:
        count = max(count, len(order) - max_runs + 1)
    return order[:count] if count >= 2 else []
