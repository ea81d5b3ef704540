"""The S3 side of the tests: a bucket on the session's SeaweedFS server, or a server of its own.

The session server and the buckets are fixtures in tests/conftest.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from archiver.devserver.s3server import SeaweedServer
from archiver.storage import S3Config

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MIB = 1024 * 1024


@dataclass
class S3Bucket:
    """A fresh bucket on the session server with a config and an uploader-style client."""

    name: str
    server: SeaweedServer
    cfg: S3Config
    client: S3Client

    def list_keys(self) -> list[str]:
        """Every key in the bucket, sorted."""
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name)
        return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))

    def read(self, key: str) -> bytes:
        """The stored bytes of one object."""
        return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()


def new_server(tmp_path: Path, s3_port: int = 0) -> SeaweedServer:
    """A SeaweedFS server of its own (not the session's), not started, with test credentials."""
    return SeaweedServer(
        tmp_path / "weed",
        access_key="AKTESTSERVER1",
        secret_key="test-only-secret-1",
        s3_port=s3_port,
    )
