"""Every read-side subcommand against each storage fault, with the real SeaweedFS: the server
down, a wrong secret key, a missing bucket, no credentials at all (and, through a proxy, a
server too slow to answer or answering 503). Each must answer with one
line on stderr that names the problem and what to do, no traceback, and exit code 1 (the
command ran and storage failed; docs/operations.md, "Errors and exit codes").
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.flaky_storage import slow, status
from tests.support.s3 import S3Bucket
from tests.support.stored_crawl import CRAWL_ID, archiver, bucket_settings

URL = "http://example.com/news/1.html"
WRONG_SECRET = "wrong-" + secrets.token_hex(12)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Each read-side subcommand with the arguments it needs, given a scratch directory and the
# bucket; extract reads an s3:// source rather than ARCHIVER_S3_BUCKET.
COMMANDS: dict[str, Callable[[Path, str], list[str]]] = {
    "ls": lambda tmp, bucket: ["ls"],
    "find": lambda tmp, bucket: ["find", URL],
    "get": lambda tmp, bucket: ["get", URL],
    "verify": lambda tmp, bucket: ["verify"],
    "fetch": lambda tmp, bucket: ["fetch", "--crawl", CRAWL_ID, "-o", str(tmp / "out")],
    "export-wacz": lambda tmp, bucket: [
        "export-wacz",
        "--crawl",
        CRAWL_ID,
        "-o",
        str(tmp / "out.wacz"),
    ],
    "reindex": lambda tmp, bucket: ["reindex"],
    "replay": lambda tmp, bucket: ["replay", "--dir", str(tmp / "replay")],
    "extract": lambda tmp, bucket: ["extract", f"s3://{bucket}/test-archive/a.warc.gz"],
}

# fault -> (what the message must say, how the environment and settings are changed)
FAULTS = {
    "server-down": "cannot connect",
    "wrong-secret": "rejected the credentials",
    "missing-bucket": "the bucket does not exist",
    "no-credentials": "no usable credentials",
}


def _fault(
    fault: str, bucket: S3Bucket, env: dict[str, str]
) -> tuple[str, list[str], dict[str, str]]:
    """The bucket name to use, extra -s options and the environment, for one fault."""
    name = bucket.name
    settings = ["-s", "ARCHIVER_S3_MAX_ATTEMPTS=2"]
    if fault == "server-down":
        settings += ["-s", f"ARCHIVER_S3_ENDPOINT_URL=http://127.0.0.1:{_closed_port()}"]
    elif fault == "wrong-secret":
        env["AWS_SECRET_ACCESS_KEY"] = WRONG_SECRET
    elif fault == "missing-bucket":
        name = "no-such-bucket-" + secrets.token_hex(4)
    else:
        env.pop("AWS_ACCESS_KEY_ID", None)
        env.pop("AWS_SECRET_ACCESS_KEY", None)
    return name, settings, env


@pytest.mark.s3
@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_storage_fault_is_one_line_naming_it_and_exit_1(
    s3_bucket: S3Bucket, tmp_path: Path, command: str, fault: str
) -> None:
    name, settings, env = _fault(fault, s3_bucket, os.environ.copy())
    args = [*bucket_settings(s3_bucket, name), *settings, *COMMANDS[command](tmp_path, name)]
    proc = archiver(*args, env=env)
    lines = proc.stderr.splitlines()
    assert proc.returncode == 1, proc.stderr
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    (line,) = lines
    assert line.startswith("Error: ") and FAULTS[fault] in line, line
    if fault == "missing-bucket":
        assert name in line
    if fault == "server-down":
        assert "is the server running?" in line
    assert WRONG_SECRET not in proc.stdout + proc.stderr
    assert not (tmp_path / "out.wacz").exists() and not (tmp_path / "out.wacz.part").exists()


@pytest.mark.s3
def test_verbose_shows_the_traceback_then_the_same_line(
    s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    missing = "no-such-bucket-" + secrets.token_hex(4)
    proc = archiver("-v", *bucket_settings(s3_bucket, missing), "ls")
    assert proc.returncode == 1
    assert "Traceback (most recent call last)" in proc.stderr
    assert "NoSuchBucket" in proc.stderr
    last = proc.stderr.rstrip().splitlines()[-1]
    assert last.startswith("Error: storage: the bucket does not exist") and missing in last


# A server that answers too slowly, or keeps answering 503, as seen through a proxy.
SLOW_OR_FAILING = {
    "timeout": (slow(30), "did not answer within 1 s"),
    "503": (status(503), "failed on the server"),
}


@pytest.mark.s3
@pytest.mark.parametrize("fault", sorted(SLOW_OR_FAILING))
@pytest.mark.parametrize("command", ["ls", "get", "verify"])
def test_a_slow_or_failing_server_is_one_line_and_exit_1(
    s3_bucket: S3Bucket, tmp_path: Path, make_proxy: Any, command: str, fault: str
) -> None:
    action, says = SLOW_OR_FAILING[fault]
    proxy = make_proxy(lambda n: action)
    proc = archiver(
        *bucket_settings(s3_bucket),
        "-s",
        f"ARCHIVER_S3_ENDPOINT_URL={proxy.url}",
        "-s",
        "ARCHIVER_S3_MAX_ATTEMPTS=1",
        "-s",
        "ARCHIVER_S3_READ_TIMEOUT=1",
        *COMMANDS[command](tmp_path, s3_bucket.name),
    )
    assert proc.returncode == 1, proc.stderr
    (line,) = proc.stderr.splitlines()
    assert line.startswith("Error: storage: ") and says in line, line
    assert "try again later" in line
