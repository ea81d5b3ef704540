"""Index lines beyond what memory holds: sorted runs spilled to disk and merged, joins that
spill to a SQLite scratch file, merging sorted files, and writing line files atomically.

Used by the per-WARC sidecar, the crawl lines and the archive-wide rebuild.  Scrapy-free.
"""

from __future__ import annotations

import contextlib
import heapq
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

# Lines a per-WARC index holds in memory before it spills a sorted run to disk: about 6 MB
# of lines at 600 bytes each.  A 1 GB WARC of news pages holds 80,000 to 100,000 lines
# (a response and a metadata record per article), which then merge from ten runs or so.
RUN_LINES = 10_000


class SpillableJoin:
    """What the metadata joins of one WARC and of a crawl share: dicts in memory until
    spilled to a SQLite scratch file (no journal, no fsync: it is rebuilt from the WARCs if
    anything goes wrong)."""

    _metadata: Mapping[str, object]

    def __init__(self) -> None:
        self._db: sqlite3.Connection | None = None

    @staticmethod
    def _scratch(path: Path, *schema: str) -> sqlite3.Connection:
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA journal_mode = OFF")
        db.execute("PRAGMA synchronous = OFF")
        db.execute("BEGIN")
        for statement in schema:
            db.execute(statement)
        return db

    def finish(self) -> None:
        """End the writes (commit the SQLite transaction)."""
        if self._db is not None:
            self._db.execute("COMMIT")

    @property
    def empty(self) -> bool:
        """True when nothing refers to anything (nothing to join)."""
        if self._db is None:
            return not self._metadata
        return self._db.execute("SELECT 1 FROM metadata LIMIT 1").fetchone() is None

    def close(self) -> None:
        """Close the SQLite file, if any."""
        if self._db is not None:
            self._db.close()
            self._db = None


class SortedRuns:
    """Lines sorted in bounded memory: with a workdir, every run_lines lines are sorted and
    spilled there as a run, and the runs are merged at the end."""

    def __init__(self, workdir: Path | None, run_lines: int) -> None:
        self.workdir = workdir
        self.run_lines = run_lines
        self.buffer: list[str] = []
        self.runs: list[Path] = []

    def add(self, line: str) -> bool:
        """Keep a line; True when the buffer is due to be spilled (see spill)."""
        self.buffer.append(line)
        return self.workdir is not None and len(self.buffer) >= self.run_lines

    def spill(self) -> None:
        """Write the buffer, sorted, as the next run."""
        assert self.workdir is not None
        self.buffer.sort()
        self.runs.append(self.workdir / f"run-{len(self.runs):05d}.cdxj")
        with open(self.runs[-1], "w", encoding="utf-8") as out:
            out.writelines(self.buffer)
        self.buffer = []

    def merged(self) -> Iterator[str]:
        """Every line kept, in order."""
        self.buffer.sort()
        with contextlib.ExitStack() as stack:
            inputs: list[Iterable[str]] = [
                stack.enter_context(open(run, encoding="utf-8")) for run in self.runs
            ]
            yield from heapq.merge(*inputs, self.buffer) if self.runs else self.buffer


def merge_sorted_files(paths: Sequence[Path], workdir: Path, fan_in: int = 128) -> Path | None:
    """Merge sorted text files into one (in passes of fan_in files, to stay within fd limits)."""
    current = list(paths)
    level = 0
    while len(current) > 1:
        merged = []
        for start in range(0, len(current), fan_in):
            out = workdir / f"merge-{level}-{start}.cdxj"
            with contextlib.ExitStack() as stack:
                inputs = [
                    stack.enter_context(open(p, encoding="utf-8"))
                    for p in current[start : start + fan_in]
                ]
                with open(out, "w", encoding="utf-8") as fh:
                    fh.writelines(heapq.merge(*inputs))
            merged.append(out)
        current = merged
        level += 1
    return current[0] if current else None


def write_lines(path: Path, lines: Iterable[str]) -> Path:
    """Write lines to path atomically (a .tmp file renamed; the spool never uploads .tmp)."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        out.writelines(lines)
    tmp.replace(path)
    return path
