"""Shared fixtures: one SeaweedFS per session, a fresh bucket per test, Redis, a flaky proxy.

Also marks each test by the folder it lives in (unit, integration, e2e), and with `s3`
when it uses the session's SeaweedFS server and `slow` when it is end to end, so that
`-m "not s3"` and `-m "not slow"` keep working however a file is marked.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from archiver.devserver.localredis import LocalRedis, RedisNotAvailable
from archiver.devserver.s3server import REGION, SeaweedServer
from archiver.storage import S3Config, make_client
from tests.support.ci import unavailable
from tests.support.flaky_storage import Action, FlakyProxy
from tests.support.s3 import MIB, S3Bucket

KINDS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test with its folder's kind; `s3` and `slow` where they apply."""
    tests = Path(__file__).parent
    for item in items:
        kind = item.path.relative_to(tests).parts[0] if item.path.is_relative_to(tests) else ""
        if kind in KINDS:
            item.add_marker(kind)
        if kind == "e2e":
            item.add_marker("slow")
        if "s3_server" in getattr(item, "fixturenames", ()):
            item.add_marker("s3")


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
    server = LocalRedis(tmp_path_factory.mktemp("redis"))
    try:
        server.start()
    except RedisNotAvailable as exc:
        unavailable(str(exc))
    try:
        yield server
    finally:
        server.stop()


# --- a misbehaving proxy in front of SeaweedFS ----------------------------------------------


@pytest.fixture
def make_proxy(
    s3_server: SeaweedServer,
) -> Iterator[Callable[[Callable[[int], Action]], FlakyProxy]]:
    """make(policy) starts a FlakyProxy in front of the session server; all stop after the test."""
    proxies: list[FlakyProxy] = []

    def make(policy: Callable[[int], Action]) -> FlakyProxy:
        proxy = FlakyProxy(s3_server.endpoint_url, policy)
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.close()
