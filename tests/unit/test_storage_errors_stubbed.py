"""Server answers SeaweedFS will not give on demand (503s, missing checksums), via botocore's Stubber."""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import NoCredentialsError
from botocore.stub import ANY, Stubber

from archiver.spool import CrawlDir, CrawlInfo
from archiver.storage import (
    LocalDigest,
    S3Config,
    Uploader,
    UploadError,
    bucket_check,
    describe_error,
    upload_spool,
)

BUCKET = "stub-bucket"
DATA = b"WARC/1.1 stand-in bytes" * 10
SHA_HEX = hashlib.sha256(DATA).hexdigest()
SHA_B64 = base64.b64encode(hashlib.sha256(DATA).digest()).decode()
MD5 = hashlib.md5(DATA).hexdigest()
# The crawl starts on the day of KEY.
STARTED = datetime(2024, 3, 9, 23, 30, 5, tzinfo=UTC)
KEY = "p/2024-03-09/c/f.warc.gz"


@pytest.fixture
def cfg() -> S3Config:
    # One thread: s3transfer then calls the client in this thread, in the stubbed order.
    return S3Config(bucket=BUCKET, prefix="p", endpoint_url="http://127.0.0.1:9", upload_threads=1)


@pytest.fixture
def stubbed(cfg: S3Config) -> Iterator[tuple[Any, Stubber]]:
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=cfg.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="AKSTUB",
        aws_secret_access_key="stub-secret",
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def local_file(tmp_path: Path) -> Path:
    path = tmp_path / "f.warc.gz"
    path.write_bytes(DATA)
    return path


def head(**fields: Any) -> dict[str, Any]:
    return {"ContentLength": len(DATA), **fields}


def expect_upload(stubber: Stubber, stored: dict[str, Any] | None = None, **extra_put: Any) -> None:
    """HEAD (absent), PUT, then the verifying HEAD answering `stored` (unless None)."""
    stubber.add_client_error("head_object", "404", http_status_code=404)
    stubber.add_response(
        "put_object",
        {"ETag": f'"{MD5}"'},
        {
            "Bucket": BUCKET,
            "Key": KEY,
            "Body": ANY,
            "ChecksumAlgorithm": "SHA256",
            "Metadata": {"sha256": SHA_HEX},
            **extra_put,
        },
    )
    if stored is not None:
        stubber.add_response("head_object", stored)


def test_503_on_the_verifying_head_keeps_the_file(
    cfg: S3Config, stubbed: tuple[Any, Stubber], local_file: Path
) -> None:
    client, stubber = stubbed
    expect_upload(stubber)
    stubber.add_client_error(
        "head_object", "503", "Slow Down", http_status_code=503, expected_params=None
    )
    with pytest.raises(UploadError, match="503") as info:
        Uploader(cfg, client).upload_and_release(local_file, KEY, keep_local=False)
    assert "http://127.0.0.1:9" in str(info.value) and KEY in str(info.value)
    assert local_file.exists()


def test_head_without_checksum_falls_back_to_md5_etag(
    cfg: S3Config, stubbed: tuple[Any, Stubber], local_file: Path
) -> None:
    client, stubber = stubbed
    expect_upload(stubber, head(ETag=f'"{MD5}"'))
    result = Uploader(cfg, client).upload_and_release(local_file, KEY, keep_local=False)
    assert result.verified and result.released
    assert not local_file.exists()


def test_wrong_md5_etag_is_a_mismatch(
    cfg: S3Config, stubbed: tuple[Any, Stubber], local_file: Path
) -> None:
    client, stubber = stubbed
    expect_upload(stubber, head(ETag='"' + "0" * 32 + '"', Metadata={"sha256": SHA_HEX}))
    with pytest.raises(UploadError, match=r"ETag 0+ differs"):
        Uploader(cfg, client).upload_and_release(local_file, KEY, keep_local=False)
    assert local_file.exists()


def test_metadata_only_verification_warns(
    cfg: S3Config,
    stubbed: tuple[Any, Stubber],
    local_file: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, stubber = stubbed
    # A multipart-style ETag is no MD5 of the file, and there is no checksum: only metadata.
    expect_upload(stubber, head(ETag='"abc-2"', Metadata={"sha256": SHA_HEX}))
    with caplog.at_level(logging.WARNING, logger="archiver.storage.uploader"):
        result = Uploader(cfg, client).upload_and_release(local_file, KEY, keep_local=False)
    assert result.verified and result.released
    assert "no comparable checksum" in caplog.text


def test_nothing_to_compare_is_unverified_and_kept(
    cfg: S3Config,
    stubbed: tuple[Any, Stubber],
    local_file: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, stubber = stubbed
    expect_upload(stubber, head(ETag='"opaque"'))
    with caplog.at_level(logging.WARNING, logger="archiver.storage.uploader"):
        result = Uploader(cfg, client).upload_and_release(local_file, KEY, keep_local=False)
    assert not result.verified and not result.released
    assert local_file.exists()
    assert "cannot verify" in caplog.text


@pytest.mark.parametrize(
    ("stored", "message"),
    [
        (head(ContentLength=len(DATA) - 1, ChecksumSHA256=SHA_B64), "size"),
        (head(ChecksumSHA256=base64.b64encode(b"x" * 32).decode()), "ChecksumSHA256"),
        (head(ChecksumSHA256=SHA_B64, Metadata={"sha256": "0" * 64}), "x-amz-meta-sha256"),
    ],
)
def test_mismatches_raise(
    cfg: S3Config,
    stubbed: tuple[Any, Stubber],
    local_file: Path,
    stored: dict[str, Any],
    message: str,
) -> None:
    client, stubber = stubbed
    expect_upload(stubber, stored)
    with pytest.raises(UploadError, match=message):
        Uploader(cfg, client).upload_and_release(local_file, KEY, keep_local=False)
    assert local_file.exists()


def test_changed_file_is_caught_where_the_server_checks_no_checksum(
    cfg: S3Config, stubbed: tuple[Any, Stubber], local_file: Path
) -> None:
    client, stubber = stubbed
    # The writer hashed other bytes than the file now holds; this server stores the body
    # without checking the SHA-256 sent with it and answers with no checksum.
    written = hashlib.sha256(b"the bytes the writer wrote").hexdigest()
    digest = LocalDigest(len(DATA), bytes.fromhex(written))
    stubber.add_response(
        "put_object",
        {"ETag": f'"{MD5}"'},
        {
            "Bucket": BUCKET,
            "Key": KEY,
            "Body": ANY,
            "ChecksumAlgorithm": "SHA256",
            "Metadata": {"sha256": written},
        },
    )
    with pytest.raises(UploadError, match="changed since it was written"):
        Uploader(cfg, client).upload_and_release(
            local_file, KEY, keep_local=False, written=digest, check_existing=False
        )
    assert local_file.read_bytes() == DATA


def test_forbidden_head_before_upload_is_an_error(
    cfg: S3Config, stubbed: tuple[Any, Stubber], local_file: Path
) -> None:
    client, stubber = stubbed
    stubber.add_client_error("head_object", "403", http_status_code=403)
    with pytest.raises(UploadError, match="cannot read the stored object: 403"):
        Uploader(cfg, client).upload_file(local_file, KEY)


def test_existing_object_with_metadata_only_counts_as_present(
    cfg: S3Config, stubbed: tuple[Any, Stubber], local_file: Path
) -> None:
    client, stubber = stubbed
    stubber.add_response("head_object", head(ETag='"abc-3"', Metadata={"sha256": SHA_HEX}))
    result = Uploader(cfg, client).upload_file(local_file, KEY)
    assert result.already_present and result.verified


def test_unverified_upload_waits_in_the_spool_report(
    cfg: S3Config, stubbed: tuple[Any, Stubber], tmp_path: Path
) -> None:
    client, stubber = stubbed
    crawl = CrawlDir.create(tmp_path, CrawlInfo("c", "news", STARTED))
    (crawl.root / "f.warc.gz").write_bytes(DATA)
    (crawl.root / "manifest.json").write_text("{}")
    crawl.mark_finished(STARTED)
    expect_upload(stubber, head(ETag='"opaque"'), ContentType="application/warc")
    report = upload_spool(cfg, tmp_path, client=client)
    assert [r.verified for r in report.uploaded] == [False]
    assert report.waiting == [crawl.root / "f.warc.gz", crawl.root / "manifest.json"]
    assert not report.ok
    assert crawl.root.exists()


@pytest.mark.parametrize(
    ("head_error", "list_error", "message"),
    [
        ("404", None, "does not exist"),
        ("301", None, "another region"),
        ("403", "InvalidAccessKeyId", "rejected the credentials"),
        ("403", "SignatureDoesNotMatch", "rejected the credentials"),
        ("403", "AccessDenied", "access denied"),
        ("500", None, "bucket check failed"),
    ],
)
def test_bucket_check_messages(
    cfg: S3Config,
    stubbed: tuple[Any, Stubber],
    head_error: str,
    list_error: str | None,
    message: str,
) -> None:
    client, stubber = stubbed
    stubber.add_client_error("head_bucket", head_error, http_status_code=int(head_error))
    if list_error is not None:
        stubber.add_client_error("list_objects_v2", list_error, http_status_code=403)
    with pytest.raises(UploadError, match=message) as info:
        bucket_check(cfg, client)
    assert BUCKET in str(info.value)
    assert "stub-secret" not in str(info.value)


def test_missing_credentials_are_explained() -> None:
    text = describe_error(NoCredentialsError())
    assert "AWS_ACCESS_KEY_ID" in text and "instance role" in text
