"""Where the archive-wide index is stored: its keys under the storage prefix, and the
counted object reads, listings and checked writes the index makes in one bucket.

Scrapy-free.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from botocore.exceptions import ClientError

from archiver.index.runs import RUNS_DIR
from archiver.storage import S3Config, content_type_for

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

INDEX_DIR = "_index"


def index_root(prefix: str) -> str:
    """Key prefix of the archive-wide index: {prefix}/_index."""
    segments = [s for s in prefix.strip("/").split("/") if s]
    return "/".join([*segments, INDEX_DIR])


def storage_key(prefix: str, relative: str) -> str:
    """The key of a path relative to the storage prefix."""
    segments = [s for s in prefix.strip("/").split("/") if s]
    return "/".join([*segments, relative])


def _is_missing(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code", "")) in {"404", "NoSuchKey", "NotFound"}


class IndexStore:
    """One bucket and prefix holding an archive-wide index, and the requests made to it."""

    def __init__(self, client: S3Client, bucket: str, prefix: str) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.root = index_root(prefix)
        self.requests = 0
        self.bytes_read = 0

    @classmethod
    def for_config(cls, cfg: S3Config, client: S3Client) -> Self:
        """The index of the bucket and prefix an S3Config names."""
        return cls(client, cfg.bucket, cfg.prefix)

    def run_key(self, run_id: str, name: str) -> str:
        """Key of one file of a run."""
        return f"{self.root}/{RUNS_DIR}/{run_id}/{name}"

    def get(self, key: str, byte_range: tuple[int, int] | None = None) -> bytes:
        """An object, or the bytes [offset, offset+length) of it with one Range request."""
        extra: dict[str, Any] = {}
        if byte_range is not None:
            offset, length = byte_range
            extra["Range"] = f"bytes={offset}-{offset + length - 1}"
        body = self.client.get_object(Bucket=self.bucket, Key=key, **extra)["Body"].read()
        self.requests += 1
        self.bytes_read += len(body)
        return body

    def get_optional(self, key: str) -> bytes | None:
        """An object, None when there is none at the key."""
        try:
            return self.get(key)
        except ClientError as exc:
            if _is_missing(exc):
                return None
            raise

    def exists(self, key: str) -> bool:
        """Whether an object is stored at the key (one HEAD)."""
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _is_missing(exc):
                return False
            raise
        finally:
            self.requests += 1
        return True

    def stream_lines(self, key: str) -> Iterator[str] | None:
        """The lines of a text object as they arrive (None when there is none at the key)."""
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        except ClientError as exc:
            if _is_missing(exc):
                return None
            raise
        self.requests += 1

        def lines() -> Iterator[str]:
            with contextlib.closing(body):
                for raw in body.iter_lines(chunk_size=65536, keepends=True):
                    self.bytes_read += len(raw)
                    yield raw.decode("utf-8")

        return lines()

    def list_keys(self, prefix: str, delimiter: str | None = None) -> Iterator[str]:
        """Keys (or common prefixes, with a delimiter) under a prefix."""
        paginator = self.client.get_paginator("list_objects_v2")
        args: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        if delimiter:
            args["Delimiter"] = delimiter
        for page in paginator.paginate(**args):
            self.requests += 1
            if delimiter:
                for common in page.get("CommonPrefixes", []):
                    yield str(common["Prefix"])
            for obj in page.get("Contents", []):
                yield str(obj["Key"])

    def put_file(self, key: str, path: Path) -> None:
        """Upload a local file with a server-checked SHA-256."""
        self.client.upload_file(
            str(path),
            self.bucket,
            key,
            ExtraArgs={"ChecksumAlgorithm": "SHA256", "ContentType": content_type_for(path.name)},
        )

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        """Store a small object with a server-checked SHA-256."""
        self.client.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=data,
            ContentType=content_type,
            ChecksumAlgorithm="SHA256",
        )
