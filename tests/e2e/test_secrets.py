"""Credentials never leave the AWS chain: not in logs, stats, WARC headers, manifests or output.

A SeaweedFS server of this test's own is given a recognisable secret key; a crawl with
uploads and several `archiver` commands run with it, and then every file they wrote,
every object in the bucket (WARCs decompressed) and everything they printed is searched.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from archiver.devserver.s3server import SeaweedServer
from archiver.devserver.samplesite import SampleSite
from tests.support.crawl import PREFIX, crawl_command, run_crawl
from tests.support.paths import ROOT

SECRET = "CANARY-secret-" + secrets.token_hex(12)
ACCESS_KEY = "AKCANARY" + secrets.token_hex(6).upper()

pytestmark = [pytest.mark.s3, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedServer]:
    server = SeaweedServer(
        tmp_path_factory.mktemp("s3-secrets"), access_key=ACCESS_KEY, secret_key=SECRET
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _archiver(
    server: SeaweedServer, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "archiver", *args],
        cwd=ROOT,
        env=env or {**os.environ, **server.env()},
        capture_output=True,
        text=True,
        timeout=300,
    )


def _texts(data: bytes) -> list[bytes]:
    """The bytes themselves, and their gzip members inflated when they are gzip."""
    out = [data]
    if data[:2] == b"\x1f\x8b":
        with contextlib.suppress(OSError, EOFError):
            out.append(gzip.decompress(data))
    return out


def _leaks(data: bytes, needles: list[str]) -> list[str]:
    return [n for n in needles if any(n.encode() in t for t in _texts(data))]


def test_no_output_holds_the_credentials(server: SeaweedServer, tmp_path: Path) -> None:
    bucket = "secrets-" + secrets.token_hex(4)
    server.create_bucket(bucket)
    spool = tmp_path / "spool"
    outputs: dict[str, bytes] = {}

    with SampleSite() as site:
        # INFO, as deployed: neither the secret nor the key id may show.
        proc = run_crawl(
            crawl_command(
                site.url, spool, bucket, server.endpoint_url, "-a", "max_pages=12",
                "-s", "ARCHIVER_OPERATOR=Secrets Test <ops@example.org>",
            ),
            server,
            tmp_path / "crawl-info.log",
        )  # fmt: skip
        assert proc.returncode == 0, (tmp_path / "crawl-info.log").read_text()[-3000:]
        # DEBUG, botocore included: the secret still may not show (SigV4 never sends it).
        proc = run_crawl(
            crawl_command(
                site.url, spool, bucket, server.endpoint_url, "-a", "max_pages=6",
                "-s", "LOG_LEVEL=DEBUG", "-s", "ARCHIVER_S3_UPLOAD_THREADS=1",
            ),
            server,
            tmp_path / "crawl-debug.log",
        )  # fmt: skip
        assert proc.returncode == 0, (tmp_path / "crawl-debug.log").read_text()[-3000:]

    settings = ["-s", f"ARCHIVER_WARC_DIR={spool}", "-s", f"ARCHIVER_S3_BUCKET={bucket}"]
    settings += ["-s", f"ARCHIVER_S3_PREFIX={PREFIX}"]
    runs = {
        "upload": _archiver(server, *settings, "upload"),
        "upload-json": _archiver(server, *settings, "upload", "--json"),
        "upload-debug": _archiver(server, "-vv", *settings, "upload"),
        "missing-bucket": _archiver(
            server, "-s", f"ARCHIVER_WARC_DIR={spool}", "-s", "ARCHIVER_S3_BUCKET=no-such-bucket-x",
            "upload", "--json",
        ),
        "wrong-secret": _archiver(
            server, *settings, "upload",
            env={**os.environ, **server.env(), "AWS_SECRET_ACCESS_KEY": SECRET + "-wrong"},
        ),
        "help": _archiver(server, "--help"),
    }  # fmt: skip
    assert runs["upload"].returncode == 0, runs["upload"].stderr
    assert runs["missing-bucket"].returncode == 1
    assert runs["wrong-secret"].returncode == 1
    for name, run in runs.items():
        outputs[f"{name}.stdout"] = run.stdout.encode()
        outputs[f"{name}.stderr"] = run.stderr.encode()
    for path in tmp_path.rglob("*"):
        if path.is_file():
            outputs[str(path.relative_to(tmp_path))] = path.read_bytes()
    client = server.client()
    keys = [
        obj["Key"]
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for obj in page.get("Contents", [])
    ]
    assert any(k.endswith(".warc.gz") for k in keys) and any(
        k.endswith("manifest.json") for k in keys
    )
    for key in keys:
        outputs[f"s3://{bucket}/{key}"] = client.get_object(Bucket=bucket, Key=key)["Body"].read()

    # The outputs are real: the crawl logs, WARCs with warcinfo, manifests with stats.
    assert b"event=upload_verified" in outputs["crawl-info.log"]
    assert b"botocore" in outputs["crawl-debug.log"]
    warcinfo = b"".join(t for k, v in outputs.items() if k.endswith(".warc.gz") for t in _texts(v))
    assert b"WARC-Type: warcinfo" in warcinfo and b"Secrets Test" in warcinfo

    leaks = {name: _leaks(data, [SECRET]) for name, data in outputs.items()}
    assert not {n: found for n, found in leaks.items() if found}, "secret key leaked"
    quiet = {
        name: data for name, data in outputs.items() if "debug" not in name and "-vv" not in name
    }
    key_leaks = {name: _leaks(data, [ACCESS_KEY]) for name, data in quiet.items()}
    assert not {n: found for n, found in key_leaks.items() if found}, "access key id shown"
