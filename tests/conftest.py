"""Shared fixtures: one SeaweedFS S3 server per session, a fresh bucket per test."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from archiver.devserver.localredis import LocalRedis, RedisNotAvailable
from archiver.devserver.s3server import REGION, SeaweedServer
from archiver.storage import S3Config, make_client

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MIB = 1024 * 1024


@pytest.fixture(scope="session", autouse=True)
def _aws_stays_local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep boto3 away from ~/.aws and from the instance-metadata service (off this machine),
    and the index cache of find/get out of the runner's ~/.cache."""
    empty = tmp_path_factory.mktemp("aws-config")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        mp.setenv("AWS_CONFIG_FILE", str(empty / "config"))
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty / "credentials"))
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3", "AWS_REGION"):
            mp.delenv(name, raising=False)
        yield


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedServer]:
    """One SeaweedFS server for the whole session; AWS_* point boto3's standard chain at it."""
    server = SeaweedServer(
        tmp_path_factory.mktemp("seaweedfs"),
        access_key="AK" + secrets.token_hex(9).upper(),
        secret_key=secrets.token_urlsafe(30),
    )
    server.start()
    try:
        with pytest.MonkeyPatch.context() as mp:
            for name, value in server.env().items():
                mp.setenv(name, value)
            yield server
    finally:
        server.stop()


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


@pytest.fixture
def s3_bucket(s3_server: SeaweedServer) -> S3Bucket:
    """A newly created bucket; small multipart sizes so multipart paths run on small files."""
    name = "t-" + secrets.token_hex(6)
    s3_server.create_bucket(name)
    cfg = S3Config(
        bucket=name,
        prefix="test-archive",
        endpoint_url=s3_server.endpoint_url,
        region=REGION,
        multipart_threshold=8 * MIB,
        multipart_chunksize=8 * MIB,
        max_attempts=2,
        upload_threads=2,
    )
    # Buckets are left in place: weed's volume server takes up to half a minute to stop
    # while it is still dropping a deleted bucket's volumes, and tests stop the server.
    return S3Bucket(name, s3_server, cfg, make_client(cfg))


@pytest.fixture
def spool_root(tmp_path: Path) -> Path:
    """An empty spool directory."""
    root = tmp_path / "spool"
    root.mkdir()
    return root


# --- Redis (distributed mode) ------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRedis]:
    """Debian's redis-server, started once per session; missing it is a failure under CI."""
    import os

    server = LocalRedis(tmp_path_factory.mktemp("redis"))
    try:
        server.start()
    except RedisNotAvailable as exc:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    try:
        yield server
    finally:
        server.stop()
