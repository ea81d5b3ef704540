"""Streaming whole stored objects: a reader that counts and hashes as it goes, downloads,
and the progress bar that long transfers show on stderr.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Sequence
from typing import IO, Any

from archiver.access.crawls import StoredCrawl
from archiver.index import ArchiveIndex
from archiver.storage import READ_BLOCK


class HashingReader:
    """Wraps a stream; counts and SHA-256-hashes every byte read, and reports progress."""

    def __init__(self, raw: Any, advance: Callable[[int], None] | None = None) -> None:
        self._raw = raw
        self._advance = advance
        self.sha256 = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        """Read like the wrapped stream."""
        data: bytes = self._raw.read(size if size is not None and size >= 0 else None)
        self.sha256.update(data)
        self.size += len(data)
        if self._advance is not None and data:
            self._advance(len(data))
        return data

    def readline(self, size: int = -1) -> bytes:
        """Not used by warcio's iterator on a raw stream; read() is enough."""
        raise io.UnsupportedOperation("readline")

    def drain(self) -> None:
        """Read to the end, so the digest covers the whole object."""
        while self.read(READ_BLOCK):
            pass


def stream_object(
    index: ArchiveIndex, key: str, advance: Callable[[int], None] | None = None
) -> HashingReader:
    """A hashing reader over one stored object (one GET, streamed)."""
    body = index.client.get_object(Bucket=index.bucket, Key=key)["Body"]
    index.requests += 1
    return HashingReader(body, advance)


def download(
    index: ArchiveIndex, key: str, out: IO[bytes], advance: Callable[[int], None] | None = None
) -> tuple[int, str]:
    """Copy a stored object into out; returns (size, hex sha256)."""
    reader = stream_object(index, key, advance)
    while chunk := reader.read(READ_BLOCK):
        out.write(chunk)
    return reader.size, reader.sha256.hexdigest()


def iter_progress_total(crawls: Sequence[StoredCrawl]) -> int:
    """Bytes of every WARC the crawls' manifests list (the total of a progress bar)."""
    return sum(int(f.get("size") or 0) for c in crawls for f in c.files)


class Progress:
    """A rich progress bar on stderr (bytes or items), or nothing when disabled."""

    def __init__(self, enabled: bool, total: int, description: str, *, in_bytes: bool) -> None:
        self._bar: Any = None
        self._task: Any = None
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )
        from rich.progress import (
            Progress as RichProgress,
        )

        columns: list[Any] = [TextColumn("{task.description}"), BarColumn()]
        if in_bytes:
            columns += [DownloadColumn(), TransferSpeedColumn()]
        else:
            columns.append(MofNCompleteColumn())
        columns.append(TimeRemainingColumn())
        self._bar = RichProgress(*columns, console=Console(stderr=True))
        self._task = self._bar.add_task(description, total=total)
        self._bar.start()

    def advance(self, amount: int) -> None:
        """Move the bar on."""
        if self._bar is not None:
            self._bar.advance(self._task, amount)

    def describe(self, text: str) -> None:
        """Change the bar's label."""
        if self._bar is not None:
            self._bar.update(self._task, description=text)

    def stop(self) -> None:
        """Remove the bar."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
