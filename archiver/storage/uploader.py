"""Verified uploads of spooled files to S3-compatible storage (AWS, MinIO, SeaweedFS, Ceph, R2)."""

from __future__ import annotations

import base64
import logging
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from archiver.storage.config import S3Config, make_client
from archiver.storage.digests import (
    METADATA_SHA256,
    FileChanged,
    FileHasher,
    LocalDigest,
    Verdict,
    checksum_verdict,
    compare_object,
    digest_file,
    part_size_for,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import HeadObjectOutputTypeDef

logger = logging.getLogger(__name__)


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
        self.hasher: FileHasher | None = None
        self.answer: dict[str, Any] | None = None
        self._read: LocalDigest | None = None

    @property
    def hashes_parts_itself(self) -> bool:
        """True for a multipart upload whose part digests must be read from the file."""
        return self.part_size is not None and not self.written_parts

    def start_hashing(self) -> None:
        """Hash the file in the background while its parts go up."""
        self.hasher = FileHasher(self.path, self.part_size, self.size)
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
                self._read = FileHasher(self.path, self.part_size, self.size).run()
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
