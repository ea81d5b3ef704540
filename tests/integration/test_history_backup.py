"""The capture history backed up to SeaweedFS, restored into an empty spool; damage refused."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from archiver.operations import (
    ArticleEvent,
    CaptureHistory,
    backup_history,
    history_key,
    restore_history,
)
from archiver.storage import Uploader, UploadError
from tests.support.history import URL, capture
from tests.support.s3 import S3Bucket


@pytest.mark.s3
def test_backup_then_restore_on_an_empty_spool(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    history = CaptureHistory(tmp_path / "a" / "history.sqlite3")
    history.create()
    history.apply([capture(), ArticleEvent(URL, "2026-11-24T08:00:00+00:00")])
    key = history_key(s3_bucket.cfg.prefix, "ledger")
    assert backup_history(history, Uploader(s3_bucket.cfg, s3_bucket.client), key)
    assert s3_bucket.list_keys() == [key]
    assert not list(history.path.parent.glob(".*.tmp"))

    fresh = tmp_path / "b" / "history.sqlite3"
    assert restore_history(s3_bucket.cfg, s3_bucket.client, key, fresh)
    restored = CaptureHistory(fresh).snapshot()
    assert restored.pages == history.snapshot().pages
    assert restored.payloads == history.snapshot().payloads
    with pytest.raises(FileExistsError):
        restore_history(s3_bucket.cfg, s3_bucket.client, key, fresh)
    assert not restore_history(
        s3_bucket.cfg, s3_bucket.client, history_key("x", "none"), tmp_path / "c" / "h.sqlite3"
    )
    assert not (tmp_path / "c" / "h.sqlite3").exists()


@pytest.mark.s3
def test_a_damaged_backup_is_not_restored(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    key = history_key(s3_bucket.cfg.prefix, "ledger")
    data = b"SQLite format 3\x00" + b"\x00" * 4000
    s3_bucket.client.put_object(
        Bucket=s3_bucket.name,
        Key=key,
        Body=data,
        Metadata={"sha256": hashlib.sha256(b"something else").hexdigest()},
    )
    dest = tmp_path / "history.sqlite3"
    with pytest.raises(UploadError, match="does not match its recorded SHA-256"):
        restore_history(s3_bucket.cfg, s3_bucket.client, key, dest)
    assert not dest.exists()
    assert not list(tmp_path.iterdir())
