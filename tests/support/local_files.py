"""Local files for the storage tests: seeded random bytes, and the digests a writer hands over."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

from archiver.storage import LocalDigest


def write_random(path: Path, size: int, seed: int = 1) -> bytes:
    """Write size seeded random bytes to path; return them."""
    data = random.Random(seed).randbytes(size)
    path.write_bytes(data)
    return data


def as_written(data: bytes, part_size: int | None = None) -> LocalDigest:
    """The digests a WARC writer hands over: whole file, and per part when it hashed parts."""
    parts = () if part_size is None else tuple(
        hashlib.sha256(data[i : i + part_size]).digest() for i in range(0, len(data), part_size)
    )  # fmt: skip
    return LocalDigest(len(data), hashlib.sha256(data).digest(), part_size, parts)
