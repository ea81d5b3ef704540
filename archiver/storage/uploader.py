"""Verified uploads of spooled files to S3-compatible storage (AWS, MinIO, SeaweedFS, Ceph, R2)."""

from __future__ import annotations

import base64
import enum
import hashlib
import logging
import os
import re
import threading
import unicodedata
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Self
from urllib.parse import urlsplit

import boto3
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
)
from s3transfer.utils import ChunksizeAdjuster

from archiver import SOFTWARE
from archiver.config import SettingError
from archiver.spool import FINAL_FILES, CrawlDir, CrawlInfo, iter_crawl_dirs, recover_crawl
from archiver.warc import CORRUPT_SUFFIX, ClosedWarc

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import HeadObjectOutputTypeDef

logger = logging.getLogger(__name__)

# S3's own limits: parts between 5 MiB and 5 GiB, keys up to 1024 bytes of UTF-8.
MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PART_SIZE = 5 * 1024 * 1024 * 1024
MAX_KEY_BYTES = 1024
# One key component stays under the 255-byte name limit of common filesystems, so a bucket
# can be mirrored to disk (rclone, aws s3 sync) without renaming.
MAX_COMPONENT_BYTES = 200
# Connecting to a live endpoint takes milliseconds; a part upload may wait on a slow disk.
CONNECT_TIMEOUT = 10
READ_TIMEOUT = 120
# 1 MiB reads keep hashing at disk speed while memory stays constant whatever the file size.
READ_BLOCK = 1024 * 1024
METADATA_SHA256 = "sha256"

_ADDRESSING_STYLES = ("path", "virtual", "auto")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MD5_ETAG = re.compile(r"[0-9a-f]{32}")
_EXTENSION = re.compile(r"(?:\.[A-Za-z0-9]{1,10}){1,3}$")
_SAFE_ASCII_PUNCT = frozenset("-_.~+=@,")
_CONTENT_TYPES = {
    ".warc.gz": "application/warc",
    ".warc": "application/warc",
    ".json": "application/json",
    ".cdxj": "text/plain; charset=utf-8",
    ".cdx": "text/plain; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}


class SettingsLike(Protocol):
    """The part of Scrapy's Settings that S3Config reads."""

    def get(self, name: str, default: Any = None) -> Any:
        """A raw setting value."""

    def getint(self, name: str, default: int = 0) -> int:
        """A setting as an integer."""

    def getbool(self, name: str, default: bool = False) -> bool:
        """A setting as a boolean."""


class UploadError(Exception):
    """A failed upload, verification or bucket check; the message names server, bucket and key."""

    def __init__(self, message: str, *, server: str, bucket: str, key: str | None = None) -> None:
        where = f"server {server}, bucket {bucket!r}"
        if key is not None:
            where += f", key {key!r}"
        super().__init__(f"{message} ({where})")
        self.server = server
        self.bucket = bucket
        self.key = key


# --- configuration ------------------------------------------------------------------------


@dataclass(frozen=True)
class S3Config:
    """Where and how to upload: bucket, key prefix, endpoint and transfer tuning."""

    bucket: str
    prefix: str = "news-archiver"
    endpoint_url: str | None = None
    region: str | None = None
    addressing_style: str = "path"
    multipart_threshold: int = 64 * 1024 * 1024
    multipart_chunksize: int = 64 * 1024 * 1024
    max_attempts: int = 5
    upload_threads: int = 2
    keep_local: bool = False
    connect_timeout: float = CONNECT_TIMEOUT
    read_timeout: float = READ_TIMEOUT

    def __post_init__(self) -> None:
        if self.bucket and (len(self.bucket) < 3 or re.search(r"[\s/]", self.bucket)):
            raise SettingError(
                f"ARCHIVER_S3_BUCKET: {self.bucket!r} is not a bucket name "
                "(3 or more characters, no spaces or slashes)"
            )
        if self.endpoint_url is not None:
            if not re.match(r"https?://[^/\s]+", self.endpoint_url):
                raise SettingError(
                    f"ARCHIVER_S3_ENDPOINT_URL: {self.endpoint_url!r} is not an http(s):// URL"
                )
            if "@" in urlsplit(self.endpoint_url).netloc:
                # Never echo it: the part before "@" is a credential.
                raise SettingError(
                    "ARCHIVER_S3_ENDPOINT_URL must not hold credentials (user:password@); "
                    "use the AWS chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile, a role)"
                )
        if self.addressing_style not in _ADDRESSING_STYLES:
            raise SettingError(
                f"ARCHIVER_S3_ADDRESSING_STYLE: expected one of {', '.join(_ADDRESSING_STYLES)}, "
                f"got {self.addressing_style!r}"
            )
        if not MIN_PART_SIZE <= self.multipart_chunksize <= MAX_PART_SIZE:
            raise SettingError(
                "ARCHIVER_S3_MULTIPART_CHUNKSIZE: S3 parts must be between 5 MiB and 5 GiB, "
                f"got {self.multipart_chunksize}"
            )
        if self.multipart_threshold < 1:
            raise SettingError(
                f"ARCHIVER_S3_MULTIPART_THRESHOLD: must be positive, got {self.multipart_threshold}"
            )
        if self.max_attempts < 1:
            raise SettingError(
                f"ARCHIVER_S3_MAX_ATTEMPTS: must be 1 or more, got {self.max_attempts}"
            )
        if self.connect_timeout <= 0 or self.read_timeout <= 0:
            raise SettingError(
                "ARCHIVER_S3_CONNECT_TIMEOUT and ARCHIVER_S3_READ_TIMEOUT must be positive, "
                f"got {self.connect_timeout} and {self.read_timeout}"
            )
        if self.upload_threads < 1:
            raise SettingError(
                f"ARCHIVER_S3_UPLOAD_THREADS: must be 1 or more, got {self.upload_threads}"
            )
        try:
            _prefix_segments(self.prefix)
        except ValueError as exc:
            raise SettingError(f"ARCHIVER_S3_PREFIX: {exc}") from None

    @classmethod
    def from_settings(cls, settings: SettingsLike) -> Self:
        """Read the ARCHIVER_S3_* settings; raises SettingError for values that cannot work."""

        def text(name: str, default: str = "") -> str:
            return str(settings.get(name) or default).strip()

        def number(name: str, default: int) -> int:
            try:
                return settings.getint(name, default)
            except (TypeError, ValueError):
                raise SettingError(
                    f"{name}: expected an integer, got {settings.get(name)!r}"
                ) from None

        try:
            keep_local = settings.getbool("ARCHIVER_KEEP_LOCAL", False)
        except (TypeError, ValueError):
            raise SettingError(
                f"ARCHIVER_KEEP_LOCAL: expected true or false, got "
                f"{settings.get('ARCHIVER_KEEP_LOCAL')!r}"
            ) from None

        def seconds(name: str, default: float) -> float:
            try:
                return float(settings.get(name) or default)
            except (TypeError, ValueError):
                raise SettingError(
                    f"{name}: expected a number of seconds, got {settings.get(name)!r}"
                ) from None

        endpoint = text("ARCHIVER_S3_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL", "")
        return cls(
            bucket=text("ARCHIVER_S3_BUCKET"),
            prefix=text("ARCHIVER_S3_PREFIX"),
            endpoint_url=endpoint.strip() or None,
            region=text("ARCHIVER_S3_REGION") or None,
            addressing_style=text("ARCHIVER_S3_ADDRESSING_STYLE", "path").lower(),
            multipart_threshold=number("ARCHIVER_S3_MULTIPART_THRESHOLD", 64 << 20),
            multipart_chunksize=number("ARCHIVER_S3_MULTIPART_CHUNKSIZE", 64 << 20),
            max_attempts=number("ARCHIVER_S3_MAX_ATTEMPTS", 5),
            upload_threads=number("ARCHIVER_S3_UPLOAD_THREADS", 2),
            keep_local=keep_local,
            connect_timeout=seconds("ARCHIVER_S3_CONNECT_TIMEOUT", CONNECT_TIMEOUT),
            read_timeout=seconds("ARCHIVER_S3_READ_TIMEOUT", READ_TIMEOUT),
        )

    @property
    def worst_case_seconds(self) -> float:
        """The longest one S3 call can take: every attempt timing out, plus retry backoff."""
        # botocore's standard mode sleeps up to min(20, 2**(n-1)) s before attempt n + 1.
        backoff = sum(min(20.0, 2.0 ** (n - 1)) for n in range(1, self.max_attempts))
        return self.max_attempts * (self.connect_timeout + self.read_timeout) + backoff

    @property
    def enabled(self) -> bool:
        """True when a bucket is configured, i.e. uploads are on."""
        return bool(self.bucket)

    @property
    def server(self) -> str:
        """The endpoint as shown in messages (never with credentials)."""
        return self.endpoint_url or f"AWS S3 ({self.region or 'default region'})"


def _as_config(settings: SettingsLike | S3Config) -> S3Config:
    return settings if isinstance(settings, S3Config) else S3Config.from_settings(settings)


def make_client(cfg: S3Config) -> S3Client:
    """A boto3 S3 client for cfg; credentials come only from the standard AWS chain."""
    session = boto3.session.Session()
    region = cfg.region or session.region_name or "us-east-1"
    # Checked against the allowed styles in S3Config; botocore types it as a Literal.
    s3_options: Any = {"addressing_style": cfg.addressing_style}
    config = Config(
        region_name=region,
        signature_version="s3v4",
        s3=s3_options,
        retries={"mode": "standard", "total_max_attempts": cfg.max_attempts},
        connect_timeout=cfg.connect_timeout,
        read_timeout=cfg.read_timeout,
        # One connection per concurrent part, plus room for the HEAD requests.
        max_pool_connections=max(10, cfg.upload_threads * 2),
        user_agent_extra=SOFTWARE,
    )
    return session.client("s3", endpoint_url=cfg.endpoint_url, config=config)


def client_from_settings(settings: SettingsLike | S3Config) -> S3Client:
    """make_client for Scrapy settings (or an S3Config)."""
    return make_client(_as_config(settings))


# --- keys -------------------------------------------------------------------------------


def _is_safe_char(ch: str) -> bool:
    if ch.isascii():
        return ch.isalnum() or ch in _SAFE_ASCII_PUNCT
    # Letters, combining marks and digits of any script; never controls, format or space chars.
    return unicodedata.category(ch)[0] in "LMN"


def _truncate_utf8(text: str, limit: int) -> str:
    return text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")


def _safe_component(value: str, what: str) -> str:
    """One key component that cannot hold a path separator, control char or dot-only name."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, got {type(value).__name__}")
    norm = unicodedata.normalize("NFKC", value)
    clean = "".join(ch if _is_safe_char(ch) else "_" for ch in norm)
    if not any(ch.isalnum() for ch in clean):
        raise ValueError(f"{what} {value!r} has no letter or digit to build a key from")
    # A leading dot would make a hidden file when the bucket is mirrored to disk.
    stripped = clean.lstrip(".")
    clean = "_" * (len(clean) - len(stripped)) + stripped
    if clean == value and len(clean.encode("utf-8")) <= MAX_COMPONENT_BYTES:
        return clean
    # Changed or shortened: a digest of the original keeps two different names from ever
    # landing on the same key (one would overwrite the other in the bucket).
    tag = "-" + hashlib.sha256(value.encode("utf-8", errors="surrogatepass")).hexdigest()[:12]
    match = _EXTENSION.search(clean)
    ext = match.group(0) if match and match.start() > 0 else ""
    stem = clean[: len(clean) - len(ext)]
    room = MAX_COMPONENT_BYTES - len(tag.encode()) - len(ext.encode())
    return _truncate_utf8(stem, room) + tag + ext


def _prefix_segments(prefix: str) -> list[str]:
    segments = [s for s in prefix.strip().strip("/").split("/") if s]
    for segment in segments:
        if segment in {".", ".."}:
            raise ValueError(f"prefix {prefix!r} must not contain '.' or '..' segments")
        try:
            ok = _safe_component(segment, "prefix segment") == segment
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(
                f"prefix segment {segment!r} may only use letters, digits and -_.~+=@, "
                "and must not start with a dot"
            )
    return segments


def object_key(prefix: str, crawl_date: str, crawl_id: str, filename: str) -> str:
    """The storage key "{prefix}/{crawl_date}/{crawl_id}/{filename}", every part made safe."""
    if not _DATE.fullmatch(crawl_date or ""):
        raise ValueError(f"crawl date must be YYYY-MM-DD, got {crawl_date!r}")
    try:
        datetime.strptime(crawl_date, "%Y-%m-%d")
    except ValueError:
        raise ValueError(f"crawl date {crawl_date!r} is not a calendar date") from None
    parts = [
        *_prefix_segments(prefix),
        crawl_date,
        _safe_component(crawl_id, "crawl id"),
        _safe_component(filename, "file name"),
    ]
    key = "/".join(parts)
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise ValueError(f"key would be longer than {MAX_KEY_BYTES} bytes; shorten the prefix")
    return key


def content_type_for(filename: str) -> str:
    """The Content-Type stored with a spooled file (never a Content-Encoding: WARCs stay gzip)."""
    lower = filename.lower()
    for suffix, ctype in _CONTENT_TYPES.items():
        if lower.endswith(suffix):
            return ctype
    return "application/octet-stream"


# --- digests and verification -------------------------------------------------------------------


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


class _FileHasher:
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
    return _FileHasher(path, part_size).run()


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


# --- uploads --------------------------------------------------------------------------------


@dataclass
class UploadResult:
    """One file's upload: where it went, its digest, and whether the stored copy was verified."""

    path: Path
    key: str
    size: int
    sha256: str
    verified: bool
    already_present: bool
    released: bool = False

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "path": str(self.path),
            "key": self.key,
            "size": self.size,
            "sha256": self.sha256,
            "verified": self.verified,
            "already_present": self.already_present,
            "released": self.released,
        }


def describe_error(exc: BaseException) -> str:
    """A short cause for an S3 failure, without request signatures or credentials."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code", "?")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        message = error.get("Message") or ""
        return f"{code} (HTTP {status}) {message}".strip()
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return (
            "no usable credentials in the AWS chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
            "AWS_PROFILE and ~/.aws, instance role)"
        )
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError):
        return f"cannot connect: {exc}"
    if isinstance(exc, S3UploadFailedError) and isinstance(exc.__context__, ClientError):
        return describe_error(exc.__context__)
    return f"{type(exc).__name__}: {exc}"


# The request context entry that ties a PutObject / CompleteMultipartUpload to its upload.
_CONTEXT_KEY = "archiver_upload"


class _Transfer:
    """One upload in flight: the digests its requests carry and the server's final answer."""

    def __init__(
        self, path: Path, size: int, part_size: int | None, written: LocalDigest | None
    ) -> None:
        self.path = path
        self.size = size
        self.part_size = part_size
        # The whole-file SHA-256 the caller vouches for (a WARC's, computed as it was written).
        self.known = written.sha256 if written is not None else None
        # The writer's part digests, when they were taken with this upload's part size.
        self.written_parts: tuple[bytes, ...] = ()
        if (
            written is not None
            and part_size is not None
            and written.part_size == part_size
            and len(written.part_sha256) == -(-size // part_size)
        ):
            self.written_parts = written.part_sha256
        self.hasher: _FileHasher | None = None
        self.answer: dict[str, Any] | None = None
        self._read: LocalDigest | None = None

    @property
    def hashes_parts_itself(self) -> bool:
        """True for a multipart upload whose part digests must be read from the file."""
        return self.part_size is not None and not self.written_parts

    def start_hashing(self) -> None:
        """Hash the file in the background while its parts go up."""
        self.hasher = _FileHasher(self.path, self.part_size, self.size)
        self.hasher.start()

    def stop(self) -> None:
        """End a background pass that is still running (the upload failed)."""
        if self.hasher is not None:
            self.hasher.stop()

    def read_digest(self) -> LocalDigest:
        """The digest of the bytes on disk (read now, or by the background pass)."""
        if self._read is None:
            if self.hasher is not None:
                self._read = self.hasher.result()
            else:
                self._read = _FileHasher(self.path, self.part_size, self.size).run()
            if self.known is not None and self._read.sha256 != self.known:
                raise FileChanged(
                    f"{self.path.name} changed since it was written: its SHA-256 is "
                    f"{self._read.sha256_hex}, the writer's was {self.known.hex()}"
                )
        return self._read

    def whole_sha256(self) -> bytes:
        """The whole-file SHA-256 this upload declares."""
        return self.known if self.known is not None else self.read_digest().sha256

    def claimed_digest(self) -> LocalDigest:
        """What the stored object must match: the writer's digests, or those read from disk."""
        if self.known is not None and not self.hashes_parts_itself:
            return LocalDigest(self.size, self.known, self.part_size, self.written_parts)
        return self.read_digest()

    def before_complete(self) -> None:
        """Raise FileChanged if the pass beside the upload read other bytes than were written."""
        if self.hasher is not None:
            self.read_digest()

    def part_sha256(self, number: int) -> bytes | None:
        """Part `number`'s SHA-256: the writer's, or from a pass over the file."""
        if self.written_parts:
            return self.written_parts[number - 1]
        if self.hasher is not None:
            return self.hasher.part(number)
        if self._read is not None and self._read.part_size is not None:
            return self._read.part_sha256[number - 1]
        return None


class _Transfers:
    """The uploads in flight on one client, found by bucket and key from botocore's events."""

    def __init__(self) -> None:
        self._active: dict[tuple[str, str], _Transfer] = {}
        self._changed = threading.Condition()

    def install(self, client: S3Client) -> None:
        events = client.meta.events
        events.register("before-parameter-build.s3.PutObject", self._put_params)
        events.register("before-parameter-build.s3.UploadPart", self._part_params)
        events.register("before-parameter-build.s3.CompleteMultipartUpload", self._complete_params)
        events.register("after-call.s3.PutObject", self._answer)
        events.register("after-call.s3.CompleteMultipartUpload", self._answer)

    @contextmanager
    def hold(self, bucket: str, key: str, transfer: _Transfer) -> Iterator[None]:
        """Mark `transfer` as the upload of bucket/key; another one of that key waits."""
        slot = (bucket, key)
        with self._changed:
            while slot in self._active:
                self._changed.wait()
            self._active[slot] = transfer
        try:
            yield
        finally:
            with self._changed:
                del self._active[slot]
                self._changed.notify_all()

    def _find(self, params: Mapping[str, Any]) -> _Transfer | None:
        with self._changed:
            return self._active.get((str(params.get("Bucket")), str(params.get("Key"))))

    # The server checks each body against the SHA-256 sent with it (BadDigest otherwise).
    # Sending ours means botocore does not read and hash the body a second time.
    def _put_params(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        transfer = self._find(params)
        if transfer is not None:
            params["ChecksumSHA256"] = _b64(transfer.whole_sha256())
            context[_CONTEXT_KEY] = transfer

    def _part_params(self, params: dict[str, Any], **_: Any) -> None:
        transfer = self._find(params)
        if transfer is not None:
            digest = transfer.part_sha256(int(params["PartNumber"]))
            if digest is not None:
                params["ChecksumSHA256"] = _b64(digest)

    def _complete_params(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        transfer = self._find(params)
        if transfer is not None:
            # Raising here makes s3transfer abort the upload: a file that differs from the
            # writer's digest is never stored under its key.
            transfer.before_complete()
            context[_CONTEXT_KEY] = transfer

    def _answer(
        self, http_response: Any, parsed: Mapping[str, Any], context: Mapping[str, Any], **_: Any
    ) -> None:
        transfer = context.get(_CONTEXT_KEY)
        if isinstance(transfer, _Transfer) and getattr(http_response, "status_code", 500) < 300:
            transfer.answer = dict(parsed)


_transfers_by_client: weakref.WeakKeyDictionary[Any, _Transfers] = weakref.WeakKeyDictionary()
_transfers_lock = threading.Lock()


def _transfers_for(client: S3Client) -> _Transfers:
    """The one _Transfers of a client, its event hooks installed on first use."""
    with _transfers_lock:
        transfers = _transfers_by_client.get(client)
        if transfers is None:
            transfers = _Transfers()
            transfers.install(client)
            _transfers_by_client[client] = transfers
        return transfers


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def written_digest(closed: ClosedWarc) -> LocalDigest:
    """The digests a WARC's writer computed as it wrote the file, for Uploader.upload_file."""
    return LocalDigest(
        closed.size, bytes.fromhex(closed.sha256), closed.part_size, closed.part_sha256
    )


class Uploader:
    """Uploads files with a server-side SHA-256 check per request and verifies what was stored."""

    def __init__(self, cfg: S3Config, client: S3Client | None = None) -> None:
        self.cfg = cfg
        self.client = client if client is not None else make_client(cfg)
        self.transfer_config = TransferConfig(
            multipart_threshold=cfg.multipart_threshold,
            multipart_chunksize=cfg.multipart_chunksize,
            # Parts of one file go up in parallel; each thread holds at most one part's reads,
            # so memory follows upload_threads, not file size.
            max_concurrency=cfg.upload_threads,
            use_threads=cfg.upload_threads > 1,
            preferred_transfer_client="classic",
        )
        self._transfers = _transfers_for(self.client)

    def _error(
        self, message: str, key: str | None, exc: BaseException | None = None
    ) -> UploadError:
        if exc is not None:
            message = f"{message}: {describe_error(exc)}"
        return UploadError(message, server=self.cfg.server, bucket=self.cfg.bucket, key=key)

    def head(self, key: str) -> HeadObjectOutputTypeDef | None:
        """HeadObject with checksums, or None when the key does not exist."""
        try:
            return self.client.head_object(Bucket=self.cfg.bucket, Key=key, ChecksumMode="ENABLED")
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise self._error("cannot read the stored object", key, exc) from exc
        except BotoCoreError as exc:
            raise self._error("cannot read the stored object", key, exc) from exc

    def verify(self, path: Path, key: str, digest: LocalDigest | None = None) -> bool:
        """Check the stored object against the local file; raise UploadError on a mismatch."""
        if digest is None:
            digest = self._digest(path, key)
        head = self.head(key)
        if head is None:
            raise self._error("object is missing after upload", key)
        verdict, detail = compare_object(head, digest, path)
        if verdict is Verdict.MISMATCH:
            raise self._error(f"stored object does not match {path.name}: {detail}", key)
        if verdict is Verdict.METADATA_ONLY:
            logger.warning(
                "%s gave no comparable checksum for %s; checked %s",
                self.cfg.server,
                key,
                detail,
            )
        elif verdict is Verdict.UNVERIFIABLE:
            logger.warning("cannot verify %s on %s: %s", key, self.cfg.server, detail)
        else:
            logger.debug("verified %s by %s", key, detail)
        return verdict is not Verdict.UNVERIFIABLE

    def _digest(self, path: Path, key: str) -> LocalDigest:
        try:
            size = path.stat().st_size
            return digest_file(path, part_size_for(self.cfg, size))
        except OSError as exc:
            raise self._error(f"cannot read local file {path}", key, exc) from exc

    def _read_digest(self, transfer: _Transfer, key: str) -> LocalDigest:
        try:
            return transfer.read_digest()
        except FileChanged as exc:
            raise self._error(str(exc), key) from exc
        except OSError as exc:
            raise self._error(f"cannot read local file {transfer.path}", key, exc) from exc

    def upload_file(
        self,
        path: Path,
        key: str,
        *,
        content_type: str | None = None,
        callback: Callable[[int], None] | None = None,
        written: LocalDigest | None = None,
        check_existing: bool = True,
    ) -> UploadResult:
        """Upload one file (unless an identical object is already there), then verify it.

        `written` is the file's digest when the caller already knows it (a WARC's, computed as
        it was written, see written_digest): the file must still match it.
        `check_existing=False` skips the look for an identical object, for a file that cannot
        have been uploaded before.
        """
        path = Path(path)
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise self._error(f"cannot read local file {path}", key, exc) from exc
        if written is not None and written.size != size:
            message = f"{path.name} changed since it was written: {size} bytes, {written.size} then"
            raise self._error(message, key)
        transfer = _Transfer(path, size, part_size_for(self.cfg, size), written)
        with self._transfers.hold(self.cfg.bucket, key, transfer):
            try:
                return self._upload(transfer, key, content_type, callback, check_existing)
            finally:
                transfer.stop()

    def _upload(
        self,
        transfer: _Transfer,
        key: str,
        content_type: str | None,
        callback: Callable[[int], None] | None,
        check_existing: bool,
    ) -> UploadResult:
        path = transfer.path
        if transfer.known is not None and transfer.hashes_parts_itself:
            # The parts' digests come from a pass that runs beside the upload: each part
            # waits only until the pass has read it.
            transfer.start_hashing()
        if check_existing:
            existing = self.head(key)
            if existing is not None:
                digest = self._read_digest(transfer, key)
                verdict, detail = compare_object(existing, digest, path)
                if verdict in {Verdict.MATCH, Verdict.METADATA_ONLY}:
                    logger.info("%s is already stored as %s (%s)", path.name, key, detail)
                    if callback is not None:
                        callback(digest.size)
                    return UploadResult(path, key, digest.size, digest.sha256_hex, True, True)
                logger.info("replacing %s: %s", key, detail)
        # The metadata goes out with the first request, so an unknown digest is read first.
        sha256_hex = (
            self._read_digest(transfer, key).sha256_hex
            if transfer.known is None
            else transfer.known.hex()
        )
        extra: dict[str, Any] = {
            "ChecksumAlgorithm": "SHA256",
            "Metadata": {METADATA_SHA256: sha256_hex},
        }
        if content_type:
            extra["ContentType"] = content_type
        try:
            self.client.upload_file(
                str(path),
                self.cfg.bucket,
                key,
                ExtraArgs=extra,
                Config=self.transfer_config,
                Callback=callback,
            )
        except FileChanged as exc:
            raise self._error(str(exc), key) from exc
        except (ClientError, BotoCoreError, S3UploadFailedError, OSError) as exc:
            message = f"upload of {path.name} failed"
            if transfer.known is not None and "BadDigest" in describe_error(exc):
                message += " (its bytes no longer match the SHA-256 it was written with?)"
            raise self._error(message, key, exc) from exc
        verified = self._verify_upload(transfer, key)
        logger.info("uploaded %s to %s (%d bytes, verified=%s)", path, key, transfer.size, verified)
        return UploadResult(path, key, transfer.size, sha256_hex, verified, False)

    def _verify_upload(self, transfer: _Transfer, key: str) -> bool:
        """Verify by the server's answer to the upload when it carries a checksum, else a HEAD."""
        checksum = (transfer.answer or {}).get("ChecksumSHA256")
        if checksum:
            # The server computed this from the bodies it accepted, each checked against the
            # SHA-256 sent with it: the same statement a HEAD would read back.
            found = checksum_verdict(str(checksum), transfer.claimed_digest())
            if found is not None:
                verdict, detail = found
                if verdict is Verdict.MISMATCH:
                    message = f"stored object does not match {transfer.path.name}: {detail}"
                    raise self._error(message, key)
                logger.debug("verified %s by the upload's answer: %s", key, detail)
                return True
        # No checksum in the answer (MinIO, Ceph and R2 releases without it): read back what
        # the server holds and compare it with the bytes on disk.
        return self.verify(transfer.path, key, self._read_digest(transfer, key))

    def upload_and_release(
        self,
        path: Path,
        key: str,
        *,
        keep_local: bool,
        content_type: str | None = None,
        callback: Callable[[int], None] | None = None,
        written: LocalDigest | None = None,
        check_existing: bool = True,
    ) -> UploadResult:
        """Upload, then delete the local file only if the stored copy was verified."""
        result = self.upload_file(
            path,
            key,
            content_type=content_type,
            callback=callback,
            written=written,
            check_existing=check_existing,
        )
        if result.verified and not keep_local:
            Path(path).unlink(missing_ok=True)
            result.released = True
        return result


def bucket_check(cfg: S3Config, client: S3Client) -> None:
    """Raise UploadError with a clear message unless the bucket is reachable and ours to use."""

    def fail(message: str) -> UploadError:
        return UploadError(message, server=cfg.server, bucket=cfg.bucket)

    try:
        client.head_bucket(Bucket=cfg.bucket)
        return
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in {"404", "NoSuchBucket", "NotFound"}:
            raise fail("the bucket does not exist") from exc
        if code in {"301", "PermanentRedirect"} or status == 301:
            raise fail("the bucket is in another region; set ARCHIVER_S3_REGION") from exc
        if code not in {"403", "Forbidden", "AccessDenied"} and status != 403:
            raise fail(f"bucket check failed: {describe_error(exc)}") from exc
        head_error = exc
    except (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError) as exc:
        raise fail(f"the endpoint cannot be reached: {describe_error(exc)}") from exc
    except BotoCoreError as exc:
        raise fail(f"bucket check failed: {describe_error(exc)}") from exc
    # A HEAD answer has no body, so a 403 does not say why; a listing request does.
    try:
        client.list_objects_v2(Bucket=cfg.bucket, MaxKeys=1)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken"}:
            raise fail(f"the server rejected the credentials from the AWS chain ({code})") from exc
        raise fail(f"access denied: {describe_error(exc)}") from exc
    except BotoCoreError as exc:
        raise fail(f"access denied: {describe_error(head_error)}") from exc
    raise fail(f"access denied to HeadBucket: {describe_error(head_error)}")


# --- the spool ---------------------------------------------------------------------------


@dataclass
class SpoolReport:
    """What one pass over the spool did and what is left."""

    uploaded: list[UploadResult] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    waiting: list[Path] = field(default_factory=list)
    # WARCs of dead crawls recovered from *.open in this pass (uploaded like any other).
    recovered: list[Path] = field(default_factory=list)
    # Open WARCs with no complete record, kept locally as *.corrupt and never uploaded.
    corrupt: list[Path] = field(default_factory=list)

    @property
    def bytes_uploaded(self) -> int:
        """Bytes sent in this pass (files that were already stored do not count)."""
        return sum(r.size for r in self.uploaded if not r.already_present)

    @property
    def ok(self) -> bool:
        """True when nothing failed and nothing is left waiting."""
        return not self.failed and not self.waiting

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary for `archiver upload --json`."""
        return {
            "files_uploaded": sum(1 for r in self.uploaded if not r.already_present),
            "files_already_present": sum(1 for r in self.uploaded if r.already_present),
            "bytes_uploaded": self.bytes_uploaded,
            "uploaded": [r.to_json() for r in self.uploaded],
            "failed": [{"path": str(p), "error": e} for p, e in self.failed],
            "waiting": [str(p) for p in self.waiting],
            "recovered": [str(p) for p in self.recovered],
            "corrupt": [str(p) for p in self.corrupt],
        }


class _Progress:
    """A rich progress bar on stderr, or nothing."""

    def __init__(self, enabled: bool, total: int) -> None:
        self._bar: Any = None
        self._task: Any = None
        if enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
            )
            self._task = self._bar.add_task("uploading", total=total)
            self._bar.start()

    def describe(self, text: str) -> None:
        if self._bar is not None:
            self._bar.update(self._task, description=text)

    def advance(self, amount: int) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, amount)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


# Called as hook(cfg, client, crawl) once a pass has stored a crawl's manifest.json, i.e. the
# crawl is complete in storage; archiver.index.archive registers the archive-wide index update here.
CrawlStoredHook = Callable[[S3Config, "S3Client", CrawlInfo], None]
_crawl_stored_hooks: list[CrawlStoredHook] = []


def add_crawl_stored_hook(hook: CrawlStoredHook) -> None:
    """Run hook(cfg, client, crawl) after upload_spool stores a crawl's manifest.json."""
    if hook not in _crawl_stored_hooks:
        _crawl_stored_hooks.append(hook)


def _crawl_stored(cfg: S3Config, client: S3Client, crawl: CrawlInfo) -> None:
    for hook in list(_crawl_stored_hooks):
        try:
            hook(cfg, client, crawl)
        except Exception as exc:
            # The files are stored and verified; a failing follower must not fail the upload.
            logger.error("event=crawl_stored_hook_failed crawl=%s error=%r", crawl.crawl_id, exc)


def upload_spool(
    cfg: S3Config,
    spool_root: Path,
    *,
    client: S3Client | None = None,
    progress: bool = False,
    crawl_id: str | None = None,
) -> SpoolReport:
    """Upload what waits in the spool, crawl by crawl; one failure does not stop the rest."""
    uploader = Uploader(cfg, client)
    report = SpoolReport()
    crawls = [c for c in iter_crawl_dirs(Path(spool_root)) if crawl_id in (None, c.info.crawl_id)]
    for crawl in crawls:
        # Files of crashed crawls first become closed WARCs; live writers' files are left alone.
        report.recovered.extend(recover_crawl(crawl).recovered)
    plans = [(crawl, _uploadable(crawl, report)) for crawl in crawls]
    bar = _Progress(progress, sum(_file_size(p) for _, files in plans for p in files))
    try:
        for crawl, files in plans:
            _upload_crawl(uploader, crawl, files, report, bar)
    finally:
        bar.stop()
    return report


def _uploadable(crawl: CrawlDir, report: SpoolReport) -> list[Path]:
    files = []
    for path in crawl.pending_uploads():
        if path.name.endswith(CORRUPT_SUFFIX):
            # Nothing in it could be read back; storage must hold no corrupt record.
            logger.info("event=corrupt_file_kept file=%s", path)
            report.corrupt.append(path)
            continue
        files.append(path)
    return files


def _upload_crawl(
    uploader: Uploader, crawl: CrawlDir, files: list[Path], report: SpoolReport, bar: _Progress
) -> None:
    cfg = uploader.cfg
    incomplete = False
    manifest_stored = False
    for path in files:
        size = _file_size(path)
        if path.name in FINAL_FILES and incomplete:
            # The manifest marks a crawl as complete in the bucket; it waits for its WARCs.
            report.waiting.append(path)
            bar.advance(size)
            continue
        bar.describe(path.name)
        sent = 0

        def tick(amount: int) -> None:
            nonlocal sent
            sent += amount
            bar.advance(amount)

        try:
            key = object_key(cfg.prefix, crawl.info.crawl_date, crawl.info.crawl_id, path.name)
            result = uploader.upload_and_release(
                path,
                key,
                keep_local=cfg.keep_local,
                content_type=content_type_for(path.name),
                callback=tick,
            )
        except (UploadError, ValueError) as exc:
            bar.advance(size - sent)
            if not path.exists():
                # Another process (a running crawl) uploaded and released it meanwhile.
                logger.info("%s left the spool while this pass ran", path)
                continue
            logger.warning("could not upload %s: %s", path, exc)
            report.failed.append((path, str(exc)))
            incomplete = True
            continue
        bar.advance(size - sent)
        report.uploaded.append(result)
        if not result.verified:
            report.waiting.append(path)
            incomplete = True
        elif path.name == FINAL_FILES[0]:
            manifest_stored = True
    if manifest_stored:
        _crawl_stored(cfg, uploader.client, crawl.info)
    report.waiting.extend(crawl.open_files())
    if not cfg.keep_local:
        crawl.remove_if_drained()
