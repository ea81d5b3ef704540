"""Shared fixtures: one SeaweedFS S3 server per session, a fresh bucket per test."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from archiver.s3server import REGION, SeaweedServer
from archiver.storage import S3Config, make_client

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MIB = 1024 * 1024


@pytest.fixture(scope="session", autouse=True)
def _aws_stays_local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep boto3 away from ~/.aws and from the instance-metadata service (off this machine)."""
    empty = tmp_path_factory.mktemp("aws-config")
    with pytest.MonkeyPatch.context() as mp:
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


@dataclass
class RedisServer:
    """A redis-server of the test session's own, on 127.0.0.1."""

    port: int

    @property
    def url(self) -> str:
        """redis:// URL of the server."""
        return f"redis://127.0.0.1:{self.port}/0"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """Debian's redis-server, started once per session; missing it is a failure under CI."""
    import os
    import shutil
    import socket
    import subprocess
    import time

    binary = shutil.which("redis-server")
    if binary is None:
        message = "redis-server is not installed (Debian package redis-server; .ci/run installs it)"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message)
        pytest.skip(message)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
            "--protected-mode",
            "yes",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"redis-server did not start on 127.0.0.1:{port}")
        time.sleep(0.05)
    try:
        yield RedisServer(port)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
