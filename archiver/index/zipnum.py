"""ZipNum: sorted CDXJ lines as gzip blocks in part files, with a secondary index
(cluster.idx, one line per block) telling which blocks a key range needs.

The layout pywb and Common Crawl use; docs/index-format.md describes it.  Scrapy-free.
"""

from __future__ import annotations

import bisect
import gzip
import hashlib
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from archiver.index.keys import Capture, surt_key

CLUSTER_FILE = "cluster.idx"
PART_PATTERN = "part-{:05d}.cdxj.gz"
# Lines per gzip block: a lookup reads one block (about 60 KB compressed at 450 bytes a line)
# and the secondary index keeps one line per block, 1/1000 of the index. Common Crawl uses
# 3000 and cdxj-indexer 300; 1000 keeps both the range read and the cluster.idx small.
BLOCK_LINES = 1000
# Lines per part file (about 70 MB compressed): parts stay far below S3's single-PUT limit.
PART_LINES = 1_000_000
# Keys of lines that sort after every real key of the same prefix.
_HIGH = "\U0010ffff"


@dataclass(frozen=True)
class IdxEntry:
    """One cluster.idx line: the first key of a block and where the block is."""

    first: str
    part: str
    offset: int
    length: int
    number: int

    @classmethod
    def parse(cls, line: str) -> IdxEntry:
        """Parse "{surt} {timestamp}\\t{part}\\t{offset}\\t{length}\\t{block number}"."""
        first, part, offset, length, number = line.rstrip("\n").split("\t")
        return cls(first, part, int(offset), int(length), int(number))

    @property
    def line(self) -> str:
        """The cluster.idx line, newline included."""
        return f"{self.first}\t{self.part}\t{self.offset}\t{self.length}\t{self.number}\n"


@dataclass
class PartInfo:
    """One part file of a run: name, lines, size and SHA-256."""

    name: str
    lines: int = 0
    size: int = 0
    sha256: str = ""

    def to_json(self) -> dict[str, Any]:
        """As listed in run.json."""
        return {"name": self.name, "lines": self.lines, "bytes": self.size, "sha256": self.sha256}


@dataclass
class ZipNumWritten:
    """What write_zipnum produced."""

    directory: Path
    parts: list[PartInfo] = field(default_factory=list)
    lines: int = 0
    blocks: int = 0
    first_timestamp: str | None = None
    last_timestamp: str | None = None

    @property
    def files(self) -> list[Path]:
        """The part files and cluster.idx."""
        return [self.directory / p.name for p in self.parts] + [self.directory / CLUSTER_FILE]


def gzip_block(lines: Sequence[str]) -> bytes:
    """Lines as one gzip member (a block a reader can inflate on its own)."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress("".join(lines).encode("utf-8")) + compressor.flush()


def write_zipnum(
    lines: Iterable[str],
    directory: Path,
    *,
    block_lines: int = BLOCK_LINES,
    part_lines: int = PART_LINES,
) -> ZipNumWritten:
    """Write sorted CDXJ lines as gzip blocks in part files plus cluster.idx; drops duplicates."""
    if block_lines < 1 or part_lines < block_lines:
        raise ValueError("block_lines must be >= 1 and part_lines >= block_lines")
    directory.mkdir(parents=True, exist_ok=True)
    result = ZipNumWritten(directory)
    idx = open(directory / CLUSTER_FILE, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    part_fh: IO[bytes] | None = None
    part: PartInfo | None = None
    part_hash = hashlib.sha256()
    block: list[str] = []
    previous: str | None = None

    def flush_block() -> None:
        nonlocal part_fh, part, part_hash
        if not block:
            return
        if part is None or part.lines >= part_lines:
            close_part()
            part = PartInfo(PART_PATTERN.format(len(result.parts)))
            part_fh = open(directory / part.name, "wb")  # noqa: SIM115 - closed in close_part
            part_hash = hashlib.sha256()
        assert part_fh is not None
        data = gzip_block(block)
        first = block[0].split(" ", 2)
        entry = IdxEntry(f"{first[0]} {first[1]}", part.name, part.size, len(data), result.blocks)
        part_fh.write(data)
        part_hash.update(data)
        part.size += len(data)
        part.lines += len(block)
        idx.write(entry.line)
        result.blocks += 1
        block.clear()

    def close_part() -> None:
        nonlocal part_fh, part
        if part_fh is not None and part is not None:
            part_fh.close()
            part.sha256 = part_hash.hexdigest()
            result.parts.append(part)
        part_fh, part = None, None

    try:
        for line in lines:
            if not line.endswith("\n"):
                line += "\n"
            if line == previous:
                continue
            if previous is not None and line < previous:
                raise ValueError("index lines are not sorted")
            previous = line
            ts = line.split(" ", 2)[1]
            if result.first_timestamp is None or ts < result.first_timestamp:
                result.first_timestamp = ts
            if result.last_timestamp is None or ts > result.last_timestamp:
                result.last_timestamp = ts
            block.append(line)
            result.lines += 1
            if len(block) >= block_lines:
                flush_block()
        flush_block()
        close_part()
    finally:
        idx.close()
        if part_fh is not None:
            part_fh.close()
    return result


@dataclass(frozen=True)
class KeyRange:
    """Index lines whose text lies in [start, end), further narrowed by a predicate on the key."""

    start: str
    end: str
    accept: Callable[[str], bool] | None = None

    def matches(self, capture: Capture) -> bool:
        """True when the capture's line falls in the range."""
        line = f"{capture.key} {capture.timestamp}"
        if not self.start <= line < self.end:
            return False
        return self.accept is None or self.accept(capture.key)


MATCH_TYPES = ("exact", "prefix", "host", "domain")


def key_range(url: str, match: str = "exact") -> KeyRange:
    """The range of index lines that match a URL (exact, prefix, host or domain match)."""
    if match not in MATCH_TYPES:
        raise ValueError(f"match must be one of {', '.join(MATCH_TYPES)}, not {match!r}")
    if match in ("host", "domain") and "://" not in url:
        url = "http://" + url
    key = surt_key(url if "://" in url else "http://" + url)
    if match == "exact":
        return KeyRange(key + " ", key + "!")
    host = key.split(")", 1)[0]
    if match == "prefix":
        # The key as text: "http://example.com/news" matches /news, /news/, /news-archive...
        return KeyRange(key, key + _HIGH)
    if match == "host":
        if ":" in host:
            return KeyRange(host + ")", host + ")" + _HIGH)
        # Without a port, the host on any port: "host)" and "host:port)" sort in [host), host;).
        return KeyRange(host + ")", host + ";", lambda k: k.startswith((host + ")", host + ":")))
    domain = host.split(":", 1)[0]
    # The domain and its subdomains, on any port: "dom)", "dom,sub" and "dom:port" all sort in
    # [dom), dom;); the predicate drops other domains sharing the text ("dom-other").
    return KeyRange(
        domain + ")",
        domain + ";",
        lambda k: k.startswith((domain + ")", domain + ",", domain + ":")),
    )


class ClusterIndex:
    """A parsed cluster.idx: which blocks can hold the lines of a key range."""

    def __init__(self, entries: Sequence[IdxEntry]) -> None:
        self.entries = list(entries)
        self._firsts = [e.first for e in self.entries]

    @classmethod
    def parse(cls, text: str) -> ClusterIndex:
        """Parse the text of a cluster.idx file."""
        return cls([IdxEntry.parse(line) for line in text.splitlines() if line.strip()])

    def blocks(self, rng: KeyRange) -> list[IdxEntry]:
        """The blocks whose lines may fall in the range, in order."""
        if not self.entries:
            return []
        # The block before the first one starting at or after `start` may hold the range's start.
        first = max(0, bisect.bisect_left(self._firsts, rng.start) - 1)
        last = bisect.bisect_left(self._firsts, rng.end)
        return self.entries[first:last]


@dataclass(frozen=True)
class ByteRange:
    """A contiguous span of one part file covering one or more blocks."""

    part: str
    offset: int
    length: int


def merge_ranges(blocks: Sequence[IdxEntry]) -> list[ByteRange]:
    """Adjacent blocks of one part joined, so each span is read with one range request."""
    spans: list[ByteRange] = []
    for block in blocks:
        last = spans[-1] if spans else None
        if (
            last is not None
            and last.part == block.part
            and last.offset + last.length == block.offset
        ):
            spans[-1] = ByteRange(last.part, last.offset, last.length + block.length)
        else:
            spans.append(ByteRange(block.part, block.offset, block.length))
    return spans


def block_lines(data: bytes) -> list[str]:
    """The lines of one or more concatenated gzip blocks."""
    return gzip.decompress(data).decode("utf-8").splitlines(keepends=True)


def search_zipnum(
    cluster: ClusterIndex, rng: KeyRange, read: Callable[[ByteRange], bytes]
) -> Iterator[Capture]:
    """Captures in the range, reading only the blocks that can hold them."""
    for span in merge_ranges(cluster.blocks(rng)):
        for line in block_lines(read(span)):
            head = line[: line.find(" {")] if " {" in line else line
            if head < rng.start:
                continue
            if head >= rng.end:
                return
            capture = Capture.parse(line)
            if rng.accept is None or rng.accept(capture.key):
                yield capture
