"""Storage against SeaweedFS: verified uploads, the bucket check, the spool upload pass, memory."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import socket
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from archiver.cli import main
from archiver.devserver.s3server import SeaweedServer
from archiver.spool import CrawlDir, CrawlInfo
from archiver.storage import (
    Uploader,
    UploadError,
    bucket_check,
    digest_file,
    make_client,
    upload_spool,
    written_digest,
)
from archiver.warc import RotatingWarcWriter
from tests.support.local_files import as_written, write_random
from tests.support.s3 import MIB, S3Bucket
from tests.support.warc import FIELDS, exchange, pinned

STARTED = datetime(2024, 5, 17, 8, 0, tzinfo=UTC)


# --- uploads against SeaweedFS ------------------------------------------------------------


def count_calls(client: Any, operation: str) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **kwargs: Any) -> None:
        calls.append(params)

    client.meta.events.register(f"provide-client-params.s3.{operation}", record)
    return calls


@pytest.mark.s3
def test_small_upload_is_stored_and_verified(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    path = tmp_path / "small.warc.gz"
    data = write_random(path, 150_000)
    result = Uploader(s3_bucket.cfg).upload_file(path, "k/small.warc.gz", content_type="a/b")
    assert result.verified and not result.already_present
    assert result.size == len(data)
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert path.exists(), "upload_file never deletes"
    assert s3_bucket.read("k/small.warc.gz") == data
    head = s3_bucket.client.head_object(
        Bucket=s3_bucket.name, Key="k/small.warc.gz", ChecksumMode="ENABLED"
    )
    assert head["Metadata"]["sha256"] == result.sha256
    assert head["ContentType"] == "a/b"
    assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(data).digest()).decode()


@pytest.mark.s3
def test_empty_file_uploads_and_verifies(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    path = tmp_path / "empty.cdxj"
    path.write_bytes(b"")
    result = Uploader(s3_bucket.cfg).upload_file(path, "empty.cdxj")
    assert result.verified and result.size == 0
    assert result.sha256 == hashlib.sha256(b"").hexdigest()
    assert s3_bucket.read("empty.cdxj") == b""


@pytest.mark.s3
def test_multipart_upload_checks_every_part(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    path = tmp_path / "big.warc.gz"
    data = write_random(path, 20 * MIB + 12345)
    uploader = Uploader(s3_bucket.cfg)
    parts = count_calls(uploader.client, "UploadPart")
    result = uploader.upload_file(path, "k/big.warc.gz")
    assert result.verified and result.size == len(data)
    assert len(parts) == 3
    assert all(p.get("ChecksumAlgorithm") == "SHA256" for p in parts)
    head = s3_bucket.client.head_object(
        Bucket=s3_bucket.name, Key="k/big.warc.gz", ChecksumMode="ENABLED"
    )
    assert head["ChecksumSHA256"] == digest_file(path, 8 * MIB).composite
    assert head["ChecksumSHA256"].endswith("-3")
    assert hashlib.sha256(s3_bucket.read("k/big.warc.gz")).hexdigest() == result.sha256


@pytest.mark.s3
def test_reupload_of_the_same_file_sends_nothing(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    small, big = tmp_path / "s.bin", tmp_path / "b.bin"
    write_random(small, 1000)
    write_random(big, 9 * MIB)
    uploader = Uploader(s3_bucket.cfg)
    first = [uploader.upload_file(p, p.name) for p in (small, big)]
    puts = count_calls(uploader.client, "PutObject")
    multipart = count_calls(uploader.client, "CreateMultipartUpload")
    again = [uploader.upload_file(p, p.name) for p in (small, big)]
    assert [r.already_present for r in first] == [False, False]
    assert [r.already_present for r in again] == [True, True]
    assert all(r.verified for r in again)
    assert puts == [] and multipart == []


@pytest.mark.s3
def test_changed_local_file_replaces_the_object(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    write_random(path, 5000, seed=1)
    uploader = Uploader(s3_bucket.cfg)
    uploader.upload_file(path, "f.bin")
    new = write_random(path, 5000, seed=2)
    result = uploader.upload_file(path, "f.bin")
    assert not result.already_present and result.verified
    assert s3_bucket.read("f.bin") == new


def corrupt_body_once(client: Any, operation: str, *, part: int | None = None) -> list[int]:
    """Change one byte of a request body after boto3 computed its checksum header."""
    hits: list[int] = []

    def corrupt(request: Any, **kwargs: Any) -> None:
        if hits or (part is not None and f"partNumber={part}" not in request.url):
            return
        data = request.data if isinstance(request.data, bytes) else request.data.read()
        request.data = bytes([data[0] ^ 0xFF]) + data[1:]
        hits.append(1)

    client.meta.events.register(f"before-sign.s3.{operation}", corrupt)
    return hits


@pytest.mark.s3
def test_server_rejects_a_corrupted_single_upload(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    path = tmp_path / "f.warc.gz"
    write_random(path, 4000)
    uploader = Uploader(s3_bucket.cfg)
    hits = corrupt_body_once(uploader.client, "PutObject")
    with pytest.raises(UploadError, match="BadDigest") as info:
        uploader.upload_and_release(path, "f.warc.gz", keep_local=False)
    assert hits == [1]
    assert s3_bucket.name in str(info.value) and "f.warc.gz" in str(info.value)
    assert path.exists()
    assert s3_bucket.list_keys() == []


@pytest.mark.s3
def test_server_rejects_a_corrupted_part(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    path = tmp_path / "f.warc.gz"
    write_random(path, 17 * MIB)
    uploader = Uploader(replace(s3_bucket.cfg, upload_threads=1))
    hits = corrupt_body_once(uploader.client, "UploadPart", part=2)
    with pytest.raises(UploadError, match="BadDigest"):
        uploader.upload_and_release(path, "f.warc.gz", keep_local=False)
    assert hits == [1]
    assert path.exists()
    assert s3_bucket.list_keys() == []


@pytest.mark.s3
@pytest.mark.parametrize("size", [3000, 9 * MIB])
@pytest.mark.parametrize("copy_metadata", [False, True])
def test_verification_catches_an_object_replaced_after_upload(
    s3_bucket: S3Bucket, tmp_path: Path, size: int, copy_metadata: bool
) -> None:
    path = tmp_path / "f.warc.gz"
    write_random(path, size, seed=1)
    other = write_random(tmp_path / "other", size, seed=2)
    # With copy_metadata the intruder even claims our sha256: only the server checksum tells.
    extra: dict[str, Any] = {}
    if copy_metadata:
        local_hex = hashlib.sha256(path.read_bytes()).hexdigest()
        extra = {"ChecksumAlgorithm": "SHA256", "Metadata": {"sha256": local_hex}}
    uploader = Uploader(s3_bucket.cfg)
    admin = s3_bucket.server.client()
    uploaded = [False]

    def mark(**kwargs: Any) -> None:
        uploaded[0] = True

    def overwrite(**kwargs: Any) -> None:
        # Another writer puts different bytes of the same size at the key before the HEAD.
        if uploaded[0]:
            uploaded[0] = False
            admin.put_object(Bucket=s3_bucket.name, Key="f.warc.gz", Body=other, **extra)

    # A server whose answer to the upload names no checksum is asked again with a HEAD.
    answers_without_checksums(uploader.client)
    uploader.client.meta.events.register("after-call.s3.PutObject", mark)
    uploader.client.meta.events.register("after-call.s3.CompleteMultipartUpload", mark)
    uploader.client.meta.events.register("before-call.s3.HeadObject", overwrite)
    with pytest.raises(UploadError, match="does not match"):
        uploader.upload_and_release(path, "f.warc.gz", keep_local=False)
    assert path.exists(), "a file whose stored copy does not verify stays in the spool"
    assert s3_bucket.read("f.warc.gz") == other


def answers_without_checksums(client: Any) -> None:
    """Drop the checksum from the answers to uploads, as servers without checksums answer."""

    def strip(parsed: dict[str, Any], **kwargs: Any) -> None:
        for name in [k for k in parsed if k.startswith("Checksum")]:
            del parsed[name]

    for operation in ("PutObject", "CompleteMultipartUpload"):
        # First, so the uploader's own hook sees the answer without it.
        client.meta.events.register_first(f"after-call.s3.{operation}", strip)


def sent_checksums(client: Any) -> list[str]:
    """The x-amz-checksum-sha256 header of every PutObject and UploadPart request, in order."""
    sent: list[str] = []

    def record(request: Any, **kwargs: Any) -> None:
        sent.append(request.headers.get("x-amz-checksum-sha256", "none"))

    for operation in ("PutObject", "UploadPart"):
        client.meta.events.register(f"before-sign.s3.{operation}", record)
    return sent


def b64_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


@pytest.mark.s3
@pytest.mark.parametrize(
    ("size", "writer_parts"), [(3000, False), (20 * MIB + 12345, False), (20 * MIB + 12345, True)]
)
def test_written_digest_goes_with_the_upload_and_no_head_is_needed(
    s3_bucket: S3Bucket, tmp_path: Path, size: int, writer_parts: bool
) -> None:
    path = tmp_path / "f.warc.gz"
    data = write_random(path, size)
    part = 8 * MIB
    uploader = Uploader(replace(s3_bucket.cfg, upload_threads=1))
    heads = count_calls(uploader.client, "HeadObject")
    sent = sent_checksums(uploader.client)
    result = uploader.upload_and_release(
        path,
        "f.warc.gz",
        keep_local=False,
        written=as_written(data, part if writer_parts else None),
        check_existing=False,
    )
    assert result.verified and result.released and not result.already_present
    assert not path.exists()
    assert heads == [], "the server's answer to the upload verified it"
    assert s3_bucket.read("f.warc.gz") == data
    if size < s3_bucket.cfg.multipart_threshold:
        assert sent == [b64_sha256(data)], "the writer's digest itself goes with the body"
    else:
        assert sent == [b64_sha256(data[i : i + part]) for i in range(0, size, part)]


@pytest.mark.s3
@pytest.mark.parametrize(
    ("size", "writer_parts"), [(3000, False), (20 * MIB + 12345, False), (20 * MIB + 12345, True)]
)
@pytest.mark.parametrize("check_existing", [False, True])
def test_file_changed_after_it_was_written_is_never_stored_or_released(
    s3_bucket: S3Bucket, tmp_path: Path, size: int, writer_parts: bool, check_existing: bool
) -> None:
    path = tmp_path / "f.warc.gz"
    data = write_random(path, size)
    written = as_written(data, 8 * MIB if writer_parts else None)
    # One byte rots on disk after the writer closed the file: same size, other bytes.
    with open(path, "r+b") as fh:
        fh.seek(size // 2)
        fh.write(bytes([data[size // 2] ^ 0x01]))
    changed = path.read_bytes()
    uploader = Uploader(s3_bucket.cfg)
    with pytest.raises(UploadError) as info:
        uploader.upload_and_release(
            path, "f.warc.gz", keep_local=False, written=written, check_existing=check_existing
        )
    # With the writer's digest on the body (single PUT, or parts the writer hashed) the server
    # refuses it; otherwise the upload is aborted before it completes, once the pass beside
    # it has hashed the file.
    assert "BadDigest" in str(info.value) or "changed since it was written" in str(info.value)
    assert "f.warc.gz" in str(info.value) and s3_bucket.name in str(info.value)
    assert path.read_bytes() == changed, "the only copy stays in the spool, untouched"
    assert s3_bucket.list_keys() == []
    pending = s3_bucket.client.list_multipart_uploads(Bucket=s3_bucket.name).get("Uploads", [])
    assert pending == [], "the aborted multipart upload leaves no parts behind"


@pytest.mark.s3
def test_file_of_another_size_than_written_is_refused(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    path = tmp_path / "f.warc.gz"
    data = write_random(path, 5000)
    path.write_bytes(data[:-10])
    with pytest.raises(UploadError, match="changed since it was written: 4990 bytes, 5000 then"):
        Uploader(s3_bucket.cfg).upload_and_release(
            path, "f.warc.gz", keep_local=False, written=as_written(data)
        )
    assert path.exists() and s3_bucket.list_keys() == []


@pytest.mark.s3
def test_changed_file_is_refused_even_if_the_key_holds_the_written_bytes(
    s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    path = tmp_path / "f.warc.gz"
    data = write_random(path, 9 * MIB)
    uploader = Uploader(s3_bucket.cfg)
    written = as_written(data)
    uploader.upload_file(path, "f.warc.gz", written=written)
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 0x01]))
    with pytest.raises(UploadError, match="changed since it was written"):
        uploader.upload_and_release(path, "f.warc.gz", keep_local=False, written=written)
    assert path.exists()
    assert s3_bucket.read("f.warc.gz") == data


@pytest.mark.s3
@pytest.mark.parametrize("size", [3000, 9 * MIB])
def test_an_upload_answer_with_another_checksum_keeps_the_file(
    s3_bucket: S3Bucket, tmp_path: Path, size: int
) -> None:
    path = tmp_path / "f.warc.gz"
    data = write_random(path, size)
    uploader = Uploader(s3_bucket.cfg)

    def other_checksum(parsed: dict[str, Any], **kwargs: Any) -> None:
        # What a server that stored other bytes would answer.
        count = parsed["ChecksumSHA256"].partition("-")[2]
        parsed["ChecksumSHA256"] = b64_sha256(b"other") + (f"-{count}" if count else "")

    for operation in ("PutObject", "CompleteMultipartUpload"):
        uploader.client.meta.events.register_first(f"after-call.s3.{operation}", other_checksum)
    with pytest.raises(UploadError, match="does not match"):
        uploader.upload_and_release(path, "f.warc.gz", keep_local=False, written=as_written(data))
    assert path.exists()


@pytest.mark.s3
def test_warc_writer_part_digests_are_what_the_server_accepts(
    s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    part = 8 * MIB
    rng = random.Random(5)
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n"
    with RotatingWarcWriter(
        tmp_path, prefix="news", max_size=10**9, warcinfo_fields=FIELDS, part_size=part
    ) as writer:
        for _ in range(20):
            writer.write(list(pinned(exchange(head, rng.randbytes(MIB)))))
    (closed,) = writer.closed
    data = closed.path.read_bytes()
    assert closed.size == len(data) > 2 * part
    assert written_digest(closed) == as_written(data, part)
    # One thread: the parts go up in order.
    uploader = Uploader(replace(s3_bucket.cfg, upload_threads=1))
    sent = sent_checksums(uploader.client)
    result = uploader.upload_and_release(
        closed.path, closed.name, keep_local=False, written=written_digest(closed)
    )
    assert result.verified and result.released
    assert sent == [base64.b64encode(d).decode() for d in closed.part_sha256]
    assert s3_bucket.read(closed.name) == data


@pytest.mark.s3
def test_answers_without_checksums_are_verified_by_head(
    s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    uploader = Uploader(s3_bucket.cfg)
    answers_without_checksums(uploader.client)
    heads = count_calls(uploader.client, "HeadObject")
    for size in (3000, 9 * MIB):
        path = tmp_path / f"f{size}"
        data = write_random(path, size)
        result = uploader.upload_and_release(
            path,
            path.name,
            keep_local=False,
            written=as_written(data),
            check_existing=False,
        )
        assert result.verified and not path.exists()
    assert len(heads) == 2


@pytest.mark.s3
def test_verify_compares_with_the_local_file(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    uploader = Uploader(s3_bucket.cfg)
    original = tmp_path / "a"
    write_random(original, 2048, seed=1)
    uploader.upload_file(original, "a")
    assert uploader.verify(original, "a")
    same_size = tmp_path / "b"
    write_random(same_size, 2048, seed=2)
    with pytest.raises(UploadError, match="differs"):
        uploader.verify(same_size, "a")
    shorter = tmp_path / "c"
    shorter.write_bytes(original.read_bytes()[:-1])
    with pytest.raises(UploadError, match="size 2048 on the server, 2047 locally"):
        uploader.verify(shorter, "a")
    with pytest.raises(UploadError, match="missing"):
        uploader.verify(original, "never-uploaded")


@pytest.mark.s3
def test_upload_and_release(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    uploader = Uploader(s3_bucket.cfg)
    gone, kept = tmp_path / "gone.warc.gz", tmp_path / "kept.warc.gz"
    write_random(gone, 1000)
    write_random(kept, 1000, seed=3)
    released = uploader.upload_and_release(gone, "gone.warc.gz", keep_local=False)
    assert released.verified and released.released
    assert not gone.exists()
    held = uploader.upload_and_release(kept, "kept.warc.gz", keep_local=True)
    assert held.verified and not held.released
    assert kept.exists()
    assert s3_bucket.list_keys() == ["gone.warc.gz", "kept.warc.gz"]


@pytest.mark.s3
def test_upload_error_names_the_cause_but_never_the_secret(
    s3_bucket: S3Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret-value-42")
    with pytest.raises(UploadError) as info:
        Uploader(s3_bucket.cfg).upload_file(path, "f")
    message = str(info.value)
    assert "SignatureDoesNotMatch" in message or "403" in message
    assert s3_bucket.cfg.endpoint_url is not None and s3_bucket.cfg.endpoint_url in message
    assert "wrong-secret-value-42" not in message
    assert s3_bucket.server.env()["AWS_SECRET_ACCESS_KEY"] not in message


# --- bucket_check -----------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.s3
def test_bucket_check(s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch) -> None:
    bucket_check(s3_bucket.cfg, s3_bucket.client)

    missing = replace(s3_bucket.cfg, bucket="no-such-bucket-here")
    with pytest.raises(UploadError, match="does not exist"):
        bucket_check(missing, make_client(missing))

    down = replace(s3_bucket.cfg, endpoint_url=f"http://127.0.0.1:{closed_port()}", max_attempts=1)
    with pytest.raises(UploadError, match="cannot be reached"):
        bucket_check(down, make_client(down))

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKNOTAKNOWNKEY")
    with pytest.raises(UploadError, match="rejected the credentials") as info:
        bucket_check(s3_bucket.cfg, make_client(s3_bucket.cfg))
    assert "InvalidAccessKeyId" in str(info.value)


# --- upload_spool ---------------------------------------------------------------------------


def make_crawl(
    spool_root: Path, crawl_id: str, files: dict[str, int], *, finished: bool = True
) -> CrawlDir:
    crawl = CrawlDir.create(spool_root, CrawlInfo(crawl_id, "news", STARTED))
    for seed, (name, size) in enumerate(sorted(files.items())):
        write_random(crawl.root / name, size, seed=seed)
    if finished:
        crawl.mark_finished(STARTED)
    return crawl


def record_upload_order(client: Any) -> list[str]:
    order: list[str] = []

    def record(params: dict[str, Any], **kwargs: Any) -> None:
        order.append(params["Key"].rsplit("/", 1)[-1])

    for operation in ("PutObject", "CreateMultipartUpload"):
        client.meta.events.register(f"provide-client-params.s3.{operation}", record)
    return order


@pytest.mark.s3
def test_upload_spool_uploads_in_order_and_cleans_up(s3_bucket: S3Bucket, spool_root: Path) -> None:
    done = make_crawl(
        spool_root,
        "news-done",
        {
            "manifest.json": 300,
            "news-2.warc.gz": 9 * MIB,
            "news-1.warc.gz": 2000,
            "index.cdxj": 100,
            "stats.json": 50,
        },
    )
    running = make_crawl(spool_root, "news-running", {"r-1.warc.gz": 500}, finished=False)
    (running.root / "r-2.warc.gz.open").write_bytes(b"partial")
    order = record_upload_order(s3_bucket.client)

    report = upload_spool(s3_bucket.cfg, spool_root, client=s3_bucket.client)

    assert order == [
        "news-1.warc.gz",
        "news-2.warc.gz",
        "index.cdxj",
        "manifest.json",
        "stats.json",
        "r-1.warc.gz",
    ]
    assert report.failed == []
    assert report.waiting == [running.root / "r-2.warc.gz.open"]
    assert not report.ok
    assert report.bytes_uploaded == 9 * MIB + 2000 + 300 + 100 + 50 + 500
    assert all(r.verified and r.released for r in report.uploaded)
    assert not done.root.exists(), "a finished, fully uploaded crawl leaves no directory"
    assert sorted(p.name for p in running.root.iterdir()) == ["crawl.json", "r-2.warc.gz.open"]
    assert s3_bucket.list_keys() == sorted(
        f"test-archive/2024-05-17/{crawl}/{name}"
        for crawl, name in [
            ("news-done", "index.cdxj"),
            ("news-done", "manifest.json"),
            ("news-done", "news-1.warc.gz"),
            ("news-done", "news-2.warc.gz"),
            ("news-done", "stats.json"),
            ("news-running", "r-1.warc.gz"),
        ]
    )
    head = s3_bucket.client.head_object(
        Bucket=s3_bucket.name, Key="test-archive/2024-05-17/news-done/news-1.warc.gz"
    )
    assert head["ContentType"] == "application/warc"

    again = upload_spool(s3_bucket.cfg, spool_root, client=s3_bucket.client)
    assert again.uploaded == [] and again.failed == []


@pytest.mark.s3
def test_upload_spool_keep_local(s3_bucket: S3Bucket, spool_root: Path) -> None:
    crawl = make_crawl(spool_root, "keep", {"a.warc.gz": 100, "manifest.json": 10})
    cfg = replace(s3_bucket.cfg, keep_local=True)
    report = upload_spool(cfg, spool_root, client=s3_bucket.client)
    assert report.ok
    assert [r.released for r in report.uploaded] == [False, False]
    assert sorted(p.name for p in crawl.root.iterdir()) == [
        "a.warc.gz",
        "crawl.json",
        "manifest.json",
    ]
    again = upload_spool(cfg, spool_root, client=s3_bucket.client)
    assert [r.already_present for r in again.uploaded] == [True, True]
    assert again.bytes_uploaded == 0


@pytest.mark.s3
def test_upload_spool_partial_failure_holds_back_the_manifest(
    s3_bucket: S3Bucket, spool_root: Path
) -> None:
    bad = make_crawl(spool_root, "bad", {"a.warc.gz": 100, "b.warc.gz": 100, "manifest.json": 10})
    good = make_crawl(spool_root, "good", {"c.warc.gz": 100, "manifest.json": 10})
    uploader_client = s3_bucket.client
    corrupt_b = {"armed": True}

    def fail_b(request: Any, **kwargs: Any) -> None:
        if corrupt_b["armed"] and request.url.endswith("/b.warc.gz"):
            data = request.data if isinstance(request.data, bytes) else request.data.read()
            request.data = b"\x00" + data[1:]

    uploader_client.meta.events.register("before-sign.s3.PutObject", fail_b)
    report = upload_spool(s3_bucket.cfg, spool_root, client=uploader_client)

    assert [p.name for p, _ in report.failed] == ["b.warc.gz"]
    assert "BadDigest" in report.failed[0][1]
    assert report.waiting == [bad.root / "manifest.json"]
    assert sorted(k.split("/", 2)[-1] for k in s3_bucket.list_keys()) == [
        "bad/a.warc.gz",
        "good/c.warc.gz",
        "good/manifest.json",
    ]
    assert sorted(p.name for p in bad.root.iterdir()) == [
        "b.warc.gz",
        "crawl.json",
        "manifest.json",
    ]
    assert not good.root.exists()

    corrupt_b["armed"] = False
    retry = upload_spool(s3_bucket.cfg, spool_root, client=uploader_client)
    assert retry.ok
    assert [r.path.name for r in retry.uploaded] == ["b.warc.gz", "manifest.json"]
    assert not bad.root.exists()


@pytest.mark.s3
def test_upload_spool_survives_a_server_outage(
    s3_server: SeaweedServer, s3_bucket: S3Bucket, spool_root: Path
) -> None:
    files = {"n-1.warc.gz": 3000, "n-2.warc.gz": 9 * MIB, "manifest.json": 20}
    crawl = make_crawl(spool_root, "outage", files)
    cfg = replace(s3_bucket.cfg, max_attempts=1)
    s3_server.stop()
    try:
        report = upload_spool(cfg, spool_root, client=make_client(cfg))
        assert report.uploaded == []
        # The manifest is not even tried while its WARCs failed.
        assert [p.name for p, _ in report.failed] == ["n-1.warc.gz", "n-2.warc.gz"]
        assert all("connect" in error.lower() for _, error in report.failed)
        assert report.waiting == [crawl.root / "manifest.json"]
        assert sorted(p.name for p in crawl.root.iterdir()) == ["crawl.json", *sorted(files)]
    finally:
        s3_server.start()
    report = upload_spool(cfg, spool_root, client=make_client(cfg))
    assert report.ok
    assert [r.path.name for r in report.uploaded] == ["n-1.warc.gz", "n-2.warc.gz", "manifest.json"]
    assert not crawl.root.exists()
    assert len(s3_bucket.list_keys()) == 3


@pytest.mark.s3
def test_upload_spool_progress_bar_goes_to_stderr(
    s3_bucket: S3Bucket, spool_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_crawl(spool_root, "p", {"a.warc.gz": 3000})
    report = upload_spool(s3_bucket.cfg, spool_root, client=s3_bucket.client, progress=True)
    assert report.ok
    out, err = capsys.readouterr()
    assert out == ""
    assert "a.warc.gz" in err


# --- archiver upload ------------------------------------------------------------------------


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.s3
def test_cli_upload(
    s3_bucket: S3Bucket, spool_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = make_crawl(spool_root, "first", {"a.warc.gz": 2000, "manifest.json": 10})
    second = make_crawl(spool_root, "second", {"b.warc.gz": 1000}, finished=False)
    base = ["-s", f"ARCHIVER_S3_BUCKET={s3_bucket.name}", "-s", f"ARCHIVER_WARC_DIR={spool_root}"]

    code, out, _ = run_cli([*base, "upload", "--crawl", "second", "--json"], capsys)
    assert code == 0
    doc = json.loads(out)
    assert doc["files_uploaded"] == 1 and doc["bytes_uploaded"] == 1000
    assert doc["uploaded"][0]["key"] == "news-archiver/2024-05-17/second/b.warc.gz"
    assert doc["failed"] == [] and doc["waiting"] == []
    assert first.root.exists() and (first.root / "a.warc.gz").exists()

    (second.root / "b-2.warc.gz.open").write_bytes(b"still writing")
    code, out, err = run_cli([*base, "upload"], capsys)
    assert code == 1, "a file still being written is waiting"
    assert "uploaded 2 file(s)" in out and "1 waiting" in out
    assert "b-2.warc.gz.open" in err
    assert not first.root.exists()

    (second.root / "b-2.warc.gz.open").rename(second.root / "b-2.warc.gz")
    code, out, _ = run_cli([*base, "upload"], capsys)
    assert code == 0
    assert "uploaded 1 file(s)" in out and "0 failed; 0 waiting" in out


@pytest.mark.s3
def test_cli_upload_failures(
    s3_bucket: S3Bucket, spool_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_crawl(spool_root, "c", {"a.warc.gz": 10})
    spool = ["-s", f"ARCHIVER_WARC_DIR={spool_root}"]

    code, _, err = run_cli([*spool, "upload"], capsys)
    assert code == 2 and "ARCHIVER_S3_BUCKET" in err

    bucket = ["-s", f"ARCHIVER_S3_BUCKET={s3_bucket.name}"]
    code, _, err = run_cli([*spool, *bucket, "upload", "--crawl", "nope"], capsys)
    assert code == 2 and "no crawl 'nope'" in err

    code, _, err = run_cli([*spool, *bucket, "-s", "ARCHIVER_S3_MAX_ATTEMPTS=x", "upload"], capsys)
    assert code == 2 and "ARCHIVER_S3_MAX_ATTEMPTS" in err

    code, out, err = run_cli(
        [*spool, "-s", "ARCHIVER_S3_BUCKET=missing-bucket-x", "upload", "--json"], capsys
    )
    assert code == 1
    assert "does not exist" in json.loads(out)["error"] and "does not exist" in err
    assert (spool_root / "c" / "a.warc.gz").exists()


# --- memory ---------------------------------------------------------------------------------

MEMORY_PROBE = """
import resource, sys
from pathlib import Path
from archiver.storage import S3Config, Uploader
cfg = S3Config(bucket=sys.argv[1], endpoint_url=sys.argv[2], multipart_threshold=8 << 20,
               multipart_chunksize=8 << 20, upload_threads=2)
uploader = Uploader(cfg)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
result = uploader.upload_file(Path(sys.argv[3]), "memory-probe")
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
assert result.verified
print((after - before) * 1024)
"""


@pytest.mark.s3
def test_memory_does_not_grow_with_file_size(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    path = tmp_path / "large.warc.gz"
    with open(path, "wb") as out:
        for seed in range(96):
            out.write(random.Random(seed).randbytes(MIB))
    env = {**os.environ, **s3_bucket.server.env()}
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            MEMORY_PROBE,
            s3_bucket.name,
            s3_bucket.server.endpoint_url,
            str(path),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    growth = int(probe.stdout.strip())
    # Whole-file buffering would add 96 MiB; two threads with one 8 MiB part each stay far below.
    assert growth < 32 * MIB, f"peak RSS grew by {growth / MIB:.1f} MiB for a 96 MiB upload"
