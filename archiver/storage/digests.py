"""Digests and verification: SHA-256 of local files (whole and per upload part, in one pass),
and how a stored object compares with the local file."""

from __future__ import annotations

import base64
import enum
import hashlib
import logging
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from s3transfer.utils import ChunksizeAdjuster

from archiver.storage.config import S3Config
from archiver.warc import ClosedWarc

logger = logging.getLogger(__name__)

# 1 MiB reads keep hashing at disk speed while memory stays constant whatever the file size.
READ_BLOCK = 1024 * 1024
METADATA_SHA256 = "sha256"

_MD5_ETAG = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class LocalDigest:
    """SHA-256 of a local file, whole and per upload part, computed in one streaming pass."""

    size: int
    sha256: bytes
    part_size: int | None = None
    part_sha256: tuple[bytes, ...] = ()

    @property
    def sha256_hex(self) -> str:
        """Hex SHA-256 of the whole file (what goes in x-amz-meta-sha256)."""
        return self.sha256.hex()

    @property
    def sha256_b64(self) -> str:
        """Base64 SHA-256, as S3 reports a full-object ChecksumSHA256."""
        return base64.b64encode(self.sha256).decode("ascii")

    @property
    def composite(self) -> str | None:
        """The multipart ChecksumSHA256 S3 reports: base64(sha256(part digests))-N."""
        if self.part_size is None:
            return None
        combined = hashlib.sha256(b"".join(self.part_sha256)).digest()
        return f"{base64.b64encode(combined).decode('ascii')}-{len(self.part_sha256)}"


def part_size_for(cfg: S3Config, size: int) -> int | None:
    """The part size s3transfer will use for a file of this size, None for a single PUT."""
    if size < cfg.multipart_threshold:
        return None
    return int(ChunksizeAdjuster().adjust_chunksize(cfg.multipart_chunksize, size))


class FileChanged(Exception):
    """The local file is not the one expected: its bytes or size changed."""


class FileHasher:
    """SHA-256 of a file, whole and per part, in one read in order; parts can be awaited."""

    def __init__(self, path: Path, part_size: int | None, expect_size: int | None = None) -> None:
        self.path = path
        self.part_size = part_size
        self.expect_size = expect_size
        self._parts: list[bytes] = []
        self._result: LocalDigest | None = None
        self._error: Exception | None = None
        self._stop = False
        self._done = threading.Condition()
        self._thread: threading.Thread | None = None

    def run(self) -> LocalDigest:
        """Hash the file in this thread and return its digest."""
        try:
            result = self._hash()
        except Exception as exc:
            with self._done:
                self._error = exc
                self._done.notify_all()
            raise
        with self._done:
            self._result = result
            self._done.notify_all()
        return result

    def start(self) -> None:
        """Hash in a thread of its own; part() and result() wait for it."""
        self._thread = threading.Thread(target=self._run_kept, name="archiver-hash", daemon=True)
        self._thread.start()

    def _run_kept(self) -> None:
        try:
            self.run()
        except Exception:
            logger.debug("hashing %s failed", self.path, exc_info=True)  # kept for result()

    def stop(self) -> None:
        """Stop a background pass early (the upload ended) and wait for its thread."""
        self._stop = True
        if self._thread is not None:
            self._thread.join()

    def part(self, number: int) -> bytes:
        """The SHA-256 of part `number` (1-based), once the pass has read it."""
        with self._done:
            while len(self._parts) < number and self._result is None and self._error is None:
                self._done.wait()
            if len(self._parts) >= number:
                return self._parts[number - 1]
            if self._error is not None:
                raise self._error
        raise FileChanged(f"{self.path.name} has fewer than {number} parts")

    def result(self) -> LocalDigest:
        """The digest of the whole pass (waits for a background pass)."""
        with self._done:
            while self._result is None and self._error is None:
                self._done.wait()
            if self._error is not None:
                raise self._error
            assert self._result is not None
            return self._result

    def _hash(self) -> LocalDigest:
        part_size = self.part_size
        whole = hashlib.sha256()
        part = hashlib.sha256()
        in_part = 0
        size = 0
        buf = bytearray(READ_BLOCK)
        view = memoryview(buf)
        with open(self.path, "rb", buffering=0) as fh:
            while not self._stop:
                want = READ_BLOCK if part_size is None else min(READ_BLOCK, part_size - in_part)
                n = fh.readinto(view[:want])
                if not n:
                    break
                chunk = view[:n]
                whole.update(chunk)
                size += n
                if part_size is not None:
                    part.update(chunk)
                    in_part += n
                    if in_part == part_size:
                        self._add_part(part.digest())
                        part = hashlib.sha256()
                        in_part = 0
        if self._stop:
            raise FileChanged(f"hashing {self.path.name} was stopped")
        if part_size is not None and (in_part or not self._parts):
            self._add_part(part.digest())
        if self.expect_size is not None and size != self.expect_size:
            raise FileChanged(
                f"{self.path.name} changed while it was read: {size} bytes, "
                f"{self.expect_size} when the upload began"
            )
        return LocalDigest(size, whole.digest(), part_size, tuple(self._parts))

    def _add_part(self, digest: bytes) -> None:
        with self._done:
            self._parts.append(digest)
            self._done.notify_all()


def digest_file(path: Path, part_size: int | None = None) -> LocalDigest:
    """Hash a file in fixed-size reads, also per part when part_size is given."""
    return FileHasher(path, part_size).run()


def _md5_file(path: Path) -> str:
    md5 = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(READ_BLOCK), b""):
            md5.update(block)
    return md5.hexdigest()


class Verdict(enum.Enum):
    """How a stored object compares with the local file."""

    MATCH = "match"  # a server checksum (SHA-256 or MD5 ETag) equals ours
    METADATA_ONLY = "metadata-only"  # size and our x-amz-meta-sha256 agree; no server checksum
    UNVERIFIABLE = "unverifiable"  # size agrees but the server returned nothing to compare
    MISMATCH = "mismatch"


def compare_object(head: Mapping[str, Any], digest: LocalDigest, path: Path) -> tuple[Verdict, str]:
    """Compare a HeadObject(ChecksumMode=ENABLED) answer with the local file's digest."""
    remote_size = head.get("ContentLength")
    if remote_size != digest.size:
        return Verdict.MISMATCH, f"size {remote_size} on the server, {digest.size} locally"
    metadata = {k.lower(): v for k, v in (head.get("Metadata") or {}).items()}
    remote_meta = str(metadata.get(METADATA_SHA256, "")).lower() or None
    if remote_meta is not None and remote_meta != digest.sha256_hex:
        return Verdict.MISMATCH, f"x-amz-meta-sha256 {remote_meta} differs from {digest.sha256_hex}"
    checksum = head.get("ChecksumSHA256")
    if checksum:
        found = checksum_verdict(str(checksum), digest)
        if found is not None:
            return found
    else:
        etag = str(head.get("ETag", "")).strip('"').lower()
        if _MD5_ETAG.fullmatch(etag):
            local_md5 = _md5_file(path)
            if etag == local_md5:
                return Verdict.MATCH, "MD5 ETag"
            return Verdict.MISMATCH, f"ETag {etag} differs from local MD5 {local_md5}"
    if remote_meta is not None:
        return Verdict.METADATA_ONLY, "size and x-amz-meta-sha256 only"
    return Verdict.UNVERIFIABLE, "the server returned no checksum, MD5 ETag or sha256 metadata"


def checksum_verdict(checksum: str, digest: LocalDigest) -> tuple[Verdict, str] | None:
    """Compare a server's ChecksumSHA256 with a digest; None when it cannot be compared."""
    value, sep, count = checksum.partition("-")
    if not sep:
        if value == digest.sha256_b64:
            return Verdict.MATCH, "full-object SHA-256"
        return Verdict.MISMATCH, f"ChecksumSHA256 {checksum} differs from {digest.sha256_b64}"
    composite = digest.composite
    if composite is not None and count == str(len(digest.part_sha256)):
        if checksum == composite:
            return Verdict.MATCH, f"composite SHA-256 of {count} parts"
        return Verdict.MISMATCH, f"composite ChecksumSHA256 {checksum} differs from {composite}"
    # Uploaded with another part size: the composite cannot be recomputed from here.
    logger.debug("composite checksum %s has a part count we cannot reproduce", checksum)
    return None


def written_digest(closed: ClosedWarc) -> LocalDigest:
    """The digests a WARC's writer computed as it wrote the file, for Uploader.upload_file."""
    return LocalDigest(
        closed.size, bytes.fromhex(closed.sha256), closed.part_size, closed.part_sha256
    )
