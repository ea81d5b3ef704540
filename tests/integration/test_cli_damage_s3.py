"""A stored WARC damaged in the middle (50 bytes flipped after it was indexed): `verify` lists
the damaged record with its offset and goes on to the records after it, `--json` holds the
same report, and `get` of the damaged capture says so in one line; both exit 1.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.s3 import S3Bucket
from tests.support.stored_crawl import (
    CRAWL_ID,
    StoredCrawl,
    archiver,
    bucket_settings,
    flip,
    store_crawl,
)

PAGES = 40


def _damaged(bucket: S3Bucket, tmp_path: Path) -> StoredCrawl:
    def middle(data: bytes) -> tuple[bytes, int]:
        at = len(data) // 2
        return flip(data, at), at

    return store_crawl(bucket, tmp_path, PAGES, damage=middle)


@pytest.mark.s3
def test_verify_lists_the_damaged_record_goes_on_and_exits_1(
    s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    crawl = _damaged(s3_bucket, tmp_path)
    damaged = crawl.damaged_capture()

    proc = archiver(*bucket_settings(s3_bucket), "verify")
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    problems = [line for line in proc.stderr.splitlines() if "damaged record" in line]
    assert problems, proc.stderr
    assert any(f"{CRAWL_ID}/{crawl.warc.name}@{damaged.offset}:" in p for p in problems), problems
    assert "problem(s)" in proc.stdout

    proc = archiver(*bucket_settings(s3_bucket), "verify", "--json")
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert report["ok"] is False
    offsets = [d["offset"] for d in report["damaged"]]
    assert damaged.offset in offsets
    assert all(d["problem"] and d["problem"].isprintable() for d in report["damaged"])
    # It went on: every record but the damaged ones was read (a request, response and, for
    # every other page, a metadata record per page; the warcinfo record).
    whole = 1 + 2 * PAGES + PAGES // 2
    assert whole - 2 * len(offsets) <= report["records"] < whole


@pytest.mark.s3
def test_get_of_a_damaged_record_says_so_in_one_line_and_others_still_read(
    s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    crawl = _damaged(s3_bucket, tmp_path)
    damaged = crawl.damaged_capture()
    for mode in ("--html", "--warc"):
        proc = archiver(*bucket_settings(s3_bucket), "get", damaged.url, mode)
        assert proc.returncode == 1, proc.stderr
        (line,) = proc.stderr.splitlines()
        assert line.startswith("Error: damaged WARC record at "), line
        assert f"{crawl.warc.name}@{damaged.offset}" in line and line.isprintable()
        assert proc.stdout == ""
    later = [
        c for c in crawl.whole_captures() if c.offset > damaged.offset and c.url != damaged.url
    ]
    proc = archiver(*bucket_settings(s3_bucket), "get", later[0].url)
    assert proc.returncode == 0, proc.stderr
    assert "<title>" in proc.stdout


def _replace(bucket: S3Bucket, suffix: str, damage: str) -> str:
    """Damage the one stored object whose key ends with suffix; its key."""
    (key,) = [k for k in bucket.list_keys() if k.endswith(suffix)]
    good = bucket.read(key)
    bad = good[: len(good) // 2] if damage == "half" else bytes(b ^ 0xA5 for b in good)
    bucket.client.put_object(Bucket=bucket.name, Key=key, Body=bad)
    return key


# A damaged index or manifest, and the commands that read it: one line, exit 1, saying what
# is damaged (never "unexpected", never a usage error).
INDEX_DAMAGE = [
    ("cluster.idx", "half", ["find", "get"], "the archive-wide index is damaged"),
    ("cluster.idx", "garbage", ["find", "get"], "the archive-wide index is damaged"),
    (".cdxj.gz", "garbage", ["find", "get"], "the archive-wide index is damaged"),
    ("manifest.json", "half", ["ls", "fetch", "export-wacz"], "damaged data in storage"),
]


@pytest.mark.s3
@pytest.mark.parametrize(("suffix", "damage", "commands", "says"), INDEX_DAMAGE)
def test_a_damaged_index_or_manifest_is_one_line_and_exit_1(
    s3_bucket: S3Bucket,
    tmp_path: Path,
    suffix: str,
    damage: str,
    commands: list[str],
    says: str,
) -> None:
    crawl = store_crawl(s3_bucket, tmp_path, 10)
    _replace(s3_bucket, suffix, damage)
    arguments = {
        "find": ["find", crawl.captures[3].url],
        "get": ["get", crawl.captures[3].url],
        "ls": ["ls"],
        "fetch": ["fetch", "--crawl", CRAWL_ID, "-o", str(tmp_path / "out")],
        "export-wacz": ["export-wacz", "--crawl", CRAWL_ID, "-o", str(tmp_path / "out.wacz")],
    }
    for command in commands:
        proc = archiver(*bucket_settings(s3_bucket), *arguments[command])
        assert proc.returncode == 1, proc.stderr
        (line,) = proc.stderr.splitlines()
        assert line.startswith(f"Error: {says}") and "reindex" in line, line
        assert line.isprintable()


@pytest.mark.s3
def test_verify_reports_a_damaged_index_part_and_goes_on(
    s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    store_crawl(s3_bucket, tmp_path, 10)
    _replace(s3_bucket, ".cdxj.gz", "half")
    proc = archiver(*bucket_settings(s3_bucket), "verify", "--json")
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["files"] == 1 and report["records"] == 1 + 2 * 10 + 5
    (problem,) = report["problems"]
    assert problem.startswith("index run ") and "damaged" in problem and "reindex" in problem
