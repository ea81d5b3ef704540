"""Storage without a server: key naming, configuration, content types, digests and part sizes."""

from __future__ import annotations

import base64
import hashlib
import random
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from scrapy.settings import Settings

from archiver.config import SettingError
from archiver.storage import (
    MAX_COMPONENT_BYTES,
    S3Config,
    content_type_for,
    digest_file,
    object_key,
    part_size_for,
    written_digest,
)
from archiver.warc import RotatingWarcWriter
from tests.support.local_files import as_written, write_random
from tests.support.s3 import MIB
from tests.support.warc import FIELDS, exchange, failing_record, pinned

# --- object_key ---------------------------------------------------------------------------


def test_object_key_layout() -> None:
    key = object_key("news-archiver", "2024-05-17", "news-20240517T080000Z-a1b2c3", "x.warc.gz")
    assert key == "news-archiver/2024-05-17/news-20240517T080000Z-a1b2c3/x.warc.gz"
    assert object_key("", "2024-05-17", "c1", "f.json") == "2024-05-17/c1/f.json"
    assert object_key("/a/b/", "2024-05-17", "c1", "f.json") == "a/b/2024-05-17/c1/f.json"


@pytest.mark.parametrize(
    ("filename", "expect_prefix"),
    [
        ("../../etc/passwd", "___.._etc_passwd-"),
        ("a/b.warc.gz", "a_b-"),
        ("/abs.json", "_abs-"),
        ("..hidden", "__hidden-"),
        ("tab\there.txt", "tab_here-"),
        ("nul\x00byte", "nul_byte-"),
        ("rtl\u202eexe.txt", "rtl_exe-"),
        ("zero\u200bwidth", "zero_width-"),
        ("full\uff0fwidth", "full_width-"),
    ],
)
def test_object_key_sanitises_file_names(filename: str, expect_prefix: str) -> None:
    key = object_key("p", "2024-05-17", "c1", filename)
    assert key.startswith("p/2024-05-17/c1/")
    last = key.split("/")[-1]
    assert last.startswith(expect_prefix)
    # The digest that keeps sanitised names apart: 12 hex digits after the marker.
    assert len(key.split("/")) == 4


def test_object_key_keeps_extensions_and_normal_unicode() -> None:
    assert object_key("p", "2024-05-17", "c1", "Zürich-ニュース.json").endswith(
        "/Zürich-ニュース.json"
    )
    changed = object_key("p", "2024-05-17", "c1", "my file.warc.gz")
    assert changed.endswith(".warc.gz") and " " not in changed


def test_object_key_normalises_lookalikes_but_never_merges_them() -> None:
    nfc = unicodedata.normalize("NFC", "café.json")
    nfd = unicodedata.normalize("NFD", "café.json")
    key_nfc = object_key("p", "2024-05-17", "c1", nfc)
    key_nfd = object_key("p", "2024-05-17", "c1", nfd)
    assert key_nfc == "p/2024-05-17/c1/café.json"
    assert key_nfd != key_nfc
    assert unicodedata.is_normalized("NFC", key_nfd)


def test_object_key_bounds_long_names() -> None:
    long_a = "a" * 500 + ".warc.gz"
    long_b = "a" * 499 + "b.warc.gz"
    key_a = object_key("p", "2024-05-17", "c1", long_a)
    key_b = object_key("p", "2024-05-17", "c1", long_b)
    assert key_a != key_b
    for key in (key_a, key_b):
        last = key.split("/")[-1]
        assert len(last.encode()) <= MAX_COMPONENT_BYTES
        assert last.endswith(".warc.gz")
    multibyte = object_key("p", "2024-05-17", "c1", "ü" * 300)
    assert len(multibyte.split("/")[-1].encode()) <= MAX_COMPONENT_BYTES
    with pytest.raises(ValueError, match="longer than 1024"):
        object_key("/".join(["segment" * 20] * 8), "2024-05-17", "c1", "f")


@pytest.mark.parametrize("bad", ["", ".", "..", "....", "/", "\x00\x01", "   ", "\u200b"])
def test_object_key_rejects_names_that_cannot_be_made_safe(bad: str) -> None:
    with pytest.raises(ValueError):
        object_key("p", "2024-05-17", "c1", bad)
    with pytest.raises(ValueError):
        object_key("p", "2024-05-17", bad, "f.json")


@pytest.mark.parametrize("prefix", ["a/../b", "..", "./x", "a b", ".hidden", "x/\x00"])
def test_object_key_rejects_unsafe_prefixes(prefix: str) -> None:
    with pytest.raises(ValueError):
        object_key(prefix, "2024-05-17", "c1", "f.json")


@pytest.mark.parametrize("date", ["2024-5-17", "2024-02-30", "../2024-05-17", "20240517", ""])
def test_object_key_rejects_bad_dates(date: str) -> None:
    with pytest.raises(ValueError):
        object_key("p", date, "c1", "f.json")


def test_object_key_properties_on_random_hostile_names() -> None:
    alphabet = [*"ab.-_/\\ ~", "..", "\x00", "\x1f", "\x7f", "\u200b", "\u202e", "é", "\uff45"]
    alphabet += ["\u0301", "\uff0e", "\uff0f", "\ud7ff", "\U0001f600", "\n", "%2e", "?", "#"]
    rng = random.Random(20240517)
    seen: dict[str, str] = {}
    for _ in range(3000):
        name = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40)))
        try:
            key = object_key("base/pre", "2024-05-17", "crawl-1", name)
        except ValueError:
            assert not any(ch.isalnum() for ch in unicodedata.normalize("NFKC", name))
            continue
        parts = key.split("/")
        assert parts[:4] == ["base", "pre", "2024-05-17", "crawl-1"]
        assert len(parts) == 5, "a file name never adds a level"
        last = parts[-1]
        assert last not in {"", ".", ".."} and not last.startswith(".")
        assert all(unicodedata.category(ch)[0] != "C" for ch in last)
        assert "\\" not in last and " " not in last
        assert len(last.encode()) <= MAX_COMPONENT_BYTES
        assert seen.setdefault(key, name) == name, f"{name!r} and {seen[key]!r} share a key"


# --- configuration ------------------------------------------------------------------------


def test_config_from_scrapy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    settings = Settings(
        {
            "ARCHIVER_S3_BUCKET": " my-bucket ",
            "ARCHIVER_S3_PREFIX": "archive/news",
            "ARCHIVER_S3_ENDPOINT_URL": "",
            "ARCHIVER_S3_REGION": "eu-west-3",
            "ARCHIVER_S3_ADDRESSING_STYLE": "Virtual",
            "ARCHIVER_S3_MULTIPART_THRESHOLD": "10485760",
            "ARCHIVER_S3_MULTIPART_CHUNKSIZE": 8 * MIB,
            "ARCHIVER_S3_MAX_ATTEMPTS": 3,
            "ARCHIVER_S3_UPLOAD_THREADS": 4,
            "ARCHIVER_KEEP_LOCAL": "true",
        }
    )
    cfg = S3Config.from_settings(settings)
    assert cfg == S3Config(
        bucket="my-bucket",
        prefix="archive/news",
        endpoint_url=None,
        region="eu-west-3",
        addressing_style="virtual",
        multipart_threshold=10 * MIB,
        multipart_chunksize=8 * MIB,
        max_attempts=3,
        upload_threads=4,
        keep_local=True,
    )
    assert cfg.enabled
    assert not S3Config.from_settings(Settings({"ARCHIVER_S3_BUCKET": ""})).enabled


def test_config_endpoint_falls_back_to_aws_endpoint_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    assert S3Config.from_settings(Settings({})).endpoint_url == "http://127.0.0.1:9"
    explicit = Settings({"ARCHIVER_S3_ENDPOINT_URL": "http://127.0.0.1:10"})
    assert S3Config.from_settings(explicit).endpoint_url == "http://127.0.0.1:10"
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    assert S3Config.from_settings(Settings({})).endpoint_url is None


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ARCHIVER_S3_ADDRESSING_STYLE", "dns", "ADDRESSING_STYLE"),
        ("ARCHIVER_S3_MULTIPART_CHUNKSIZE", 1024, "5 MiB"),
        ("ARCHIVER_S3_MAX_ATTEMPTS", "many", "expected an integer"),
        ("ARCHIVER_S3_MAX_ATTEMPTS", 0, "1 or more"),
        ("ARCHIVER_S3_ENDPOINT_URL", "127.0.0.1:9000", "http"),
        ("ARCHIVER_S3_PREFIX", "a/../b", "'..'"),
        ("ARCHIVER_S3_BUCKET", "a b", "bucket name"),
        ("ARCHIVER_KEEP_LOCAL", "perhaps", "true or false"),
    ],
)
def test_config_rejects_bad_settings(name: str, value: Any, message: str) -> None:
    with pytest.raises(SettingError, match=message):
        S3Config.from_settings(Settings({"ARCHIVER_S3_BUCKET": "bucket", name: value}))


def test_config_refuses_credentials_in_the_endpoint_without_echoing_them() -> None:
    settings = Settings({"ARCHIVER_S3_ENDPOINT_URL": "http://key:hunter2@127.0.0.1:9000"})
    with pytest.raises(SettingError, match="must not hold credentials") as info:
        S3Config.from_settings(settings)
    assert "hunter2" not in str(info.value)


def test_content_types() -> None:
    assert content_type_for("a.warc.gz") == "application/warc"
    assert content_type_for("manifest.json") == "application/json"
    assert content_type_for("index.cdxj").startswith("text/plain")
    assert content_type_for("blob.bin") == "application/octet-stream"


# --- digests ------------------------------------------------------------------------------


def test_digest_file_whole_and_per_part(tmp_path: Path) -> None:
    path = tmp_path / "f"
    data = write_random(path, 13 * MIB + 17)
    digest = digest_file(path, 5 * MIB)
    assert digest.size == len(data)
    assert digest.sha256_hex == hashlib.sha256(data).hexdigest()
    parts = [hashlib.sha256(data[i : i + 5 * MIB]).digest() for i in range(0, len(data), 5 * MIB)]
    assert list(digest.part_sha256) == parts
    expected = base64.b64encode(hashlib.sha256(b"".join(parts)).digest()).decode() + "-3"
    assert digest.composite == expected
    assert digest_file(path).composite is None


def test_part_size_follows_s3transfer_limits() -> None:
    cfg = S3Config(bucket="bkt", multipart_threshold=8 * MIB, multipart_chunksize=8 * MIB)
    assert part_size_for(cfg, 8 * MIB - 1) is None
    assert part_size_for(cfg, 8 * MIB) == 8 * MIB
    # 10,000 parts at most: a 100 GiB file needs 16 MiB parts.
    assert part_size_for(cfg, 100 * 1024 * MIB) == 16 * MIB


def test_warc_writer_part_digests_survive_a_rolled_back_write(tmp_path: Path) -> None:
    writer = RotatingWarcWriter(
        tmp_path, prefix="news", max_size=10**9, warcinfo_fields=FIELDS, part_size=700
    )
    rng = random.Random(9)
    head = b"HTTP/1.1 200 OK\r\n\r\n"
    writer.write(list(pinned(exchange(head, rng.randbytes(3000)))))
    with pytest.raises(OSError, match="went away"):
        writer.write([failing_record()])
    writer.write(list(pinned(exchange(head, rng.randbytes(2000)))))
    closed = writer.close()
    assert closed is not None
    data = closed.path.read_bytes()
    assert len(closed.part_sha256) == -(-len(data) // 700) > 5
    assert written_digest(closed) == as_written(data, 700)
