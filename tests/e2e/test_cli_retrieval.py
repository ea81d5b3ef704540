"""The researcher's commands against a real crawl in SeaweedFS: ls, find, get, fetch, verify, reindex."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.cli import main
from archiver.devserver.s3server import SeaweedServer
from archiver.spool import CRAWL_FILE
from tests.support.retrieval import ArchivedCrawl, archived_crawl, run

pytestmark = [pytest.mark.s3, pytest.mark.slow]


@pytest.fixture(scope="module")
def crawl(s3_server: SeaweedServer, tmp_path_factory: pytest.TempPathFactory) -> ArchivedCrawl:
    return archived_crawl(s3_server, tmp_path_factory.mktemp("retrieval"))


def copy_bucket(crawl: ArchivedCrawl, name: str, *, skip: str = "\0") -> str:
    """A copy of the crawl's bucket (server-side copies), for tests that damage it."""
    crawl.server.create_bucket(name)
    client = crawl.server.client()
    for key in crawl.list_keys():
        if skip not in key:
            client.copy_object(
                Bucket=name, Key=key, CopySource={"Bucket": crawl.bucket, "Key": key}
            )
    return name


def test_the_crawl_itself_put_its_sidecars_and_its_run_in_storage(crawl: ArchivedCrawl) -> None:
    keys = crawl.list_keys()
    warcs = [k for k in keys if k.endswith(".warc.gz")]
    assert len(warcs) >= 3, "the small WARC size should have made several files"
    for key in warcs:
        assert key + ".cdxj" in keys
    for entry in crawl.manifest["files"]:
        assert entry["sidecars"] == [entry["name"] + ".cdxj"]
    runs = [k for k in keys if k.endswith("/run.json")]
    assert runs == [f"{crawl.prefix}/_index/runs/c-{crawl.crawl_id}/run.json"]
    assert "event=index_run_published" in crawl.log


def test_ls_lists_the_crawl_and_filters_by_site_and_date(
    capsys: pytest.CaptureFixture[str], crawl: ArchivedCrawl
) -> None:
    code, out, err = run(capsys, crawl, "ls", "--json")
    assert code == 0, err
    (listed,) = json.loads(out)["crawls"]
    assert listed["crawl_id"] == crawl.crawl_id and listed["complete"] is True
    assert [f["name"] for f in listed["files"]] == [f["name"] for f in crawl.manifest["files"]]
    assert listed["start_urls"] == [crawl.site_url + "/"]
    code, out, _ = run(capsys, crawl, "ls", "--json", "--site", "127.0.0.1")
    assert len(json.loads(out)["crawls"]) == 1
    code, out, _ = run(capsys, crawl, "ls", "--json", "--site", "other.example")
    assert json.loads(out)["crawls"] == []
    code, out, _ = run(capsys, crawl, "ls", "--json", "--from", "1999-01-01", "--to", "1999-12-31")
    assert json.loads(out)["crawls"] == []
    code, out, _ = run(capsys, crawl, "ls", "--from", crawl.date, "--to", crawl.date)
    assert code == 0 and crawl.crawl_id in out and crawl.manifest["files"][0]["name"] in out


def test_find_lists_captures_with_what_a_citation_needs(
    capsys: pytest.CaptureFixture[str], crawl: ArchivedCrawl
) -> None:
    code, out, _ = run(capsys, crawl, "find", crawl.seed_url, "--json")
    assert code == 0
    (capture,) = [json.loads(line) for line in out.splitlines()]
    assert capture["url"] == crawl.seed_url and capture["status"] == "200"
    assert capture["title"] == crawl.seed["title"]
    assert capture["warc_record_id"].startswith("<urn:uuid:")
    assert capture["payload_digest"].startswith("sha1:")
    assert capture["filename"].startswith(f"{crawl.date}/{crawl.crawl_id}/")
    assert capture["timestamp"][:8] == crawl.date.replace("-", "")
    code, out, _ = run(capsys, crawl, "find", crawl.seed_url)
    assert code == 0 and crawl.seed["title"][:20] in out


def test_find_by_host_prefix_and_domain_with_limits_and_dates(
    capsys: pytest.CaptureFixture[str], crawl: ArchivedCrawl
) -> None:
    host = crawl.site_url.split("://", 1)[1]
    code, out, _ = run(capsys, crawl, "find", host, "--match", "host", "--json")
    everything = [json.loads(line) for line in out.splitlines()]
    # Everything the site's own host served (its CDN host is another host).
    archived = {
        p.url for p in crawl.pages if p.kind != "private" and p.url.startswith(crawl.site_url + "/")
    }
    assert code == 0 and archived <= {c["url"] for c in everything}
    code, out, _ = run(capsys, crawl, "find", "127.0.0.1", "--match", "domain", "--json")
    assert len(out.splitlines()) == len(everything)
    code, out, _ = run(
        capsys, crawl, "find", crawl.site_url + "/en/news/", "--match", "prefix", "--json"
    )
    prefixed = {json.loads(line)["url"] for line in out.splitlines()}
    assert crawl.seed_url in prefixed
    assert all(u.startswith(crawl.site_url + "/en/news/") for u in prefixed)
    code, out, _ = run(capsys, crawl, "find", host, "--match", "host", "--limit", "3", "--json")
    assert len(out.splitlines()) == 3
    code, out, err = run(capsys, crawl, "find", crawl.seed_url, "--from", "2999-01-01")
    assert code == 1 and out == "" and "no captures" in err
    code, _, _ = run(capsys, crawl, "find", "http://not-archived.example/")
    assert code == 1
    code, _, err = run(capsys, crawl, "find", crawl.seed_url, "--from", "soon")
    assert code == 2 and "date" in err


def test_get_text_is_exactly_the_seed_articles_clean_text(
    capsys: pytest.CaptureFixture[str], crawl: ArchivedCrawl
) -> None:
    code, out, err = run(capsys, crawl, "get", crawl.seed_url, "--text")
    assert code == 0
    assert out == f"{crawl.seed['title']}\n\n{crawl.seed['body'].strip()}\n"
    assert crawl.seed_url in err and "<urn:uuid:" in err and "sha1:" in err


def test_get_html_is_the_payload_decoded_and_warc_the_raw_records(
    capsys: pytest.CaptureFixture[str], crawl: ArchivedCrawl, tmp_path: Path
) -> None:
    gzipped = next(p for p in crawl.articles() if p.content_encoding == "gzip")
    out_file = tmp_path / "page.html"
    code, _, _ = run(capsys, crawl, "get", gzipped.url, "--html", "-o", str(out_file))
    assert code == 0
    html = out_file.read_bytes()
    assert html.startswith(b"<!DOCTYPE html") and (gzipped.title or "?").encode() in html
    # The same bytes as the stored payload, gunzipped: Content-Encoding undone, nothing else.
    raw_file = tmp_path / "gzipped.warc.gz"
    run(capsys, crawl, "get", gzipped.url, "--warc", "-o", str(raw_file))
    with open(raw_file, "rb") as fh:
        stored = next(r for r in ArchiveIterator(fh) if r.rec_type == "response").raw_stream.read()
    assert stored[:2] == b"\x1f\x8b" and gzip.decompress(stored) == html

    warc_file = tmp_path / "capture.warc.gz"
    code, _, _ = run(capsys, crawl, "get", crawl.seed_url, "--warc", "-o", str(warc_file))
    assert code == 0
    with open(warc_file, "rb") as fh:
        types = []
        for record in ArchiveIterator(fh, check_digests=True):
            record.content_stream().read()
            types.append(record.rec_type)
            assert record.rec_headers.get_header("WARC-Target-URI") == crawl.seed_url
            assert record.digest_checker.passed is not False
    assert types == ["request", "response", "metadata"]
    code, _, err = run(capsys, crawl, "get", "http://not-archived.example/")
    assert code == 1 and "no capture" in err


def test_fetch_downloads_a_crawl_checked_against_its_manifest(
    capsys: pytest.CaptureFixture[str], crawl: ArchivedCrawl, tmp_path: Path
) -> None:
    code, out, _ = run(
        capsys, crawl, "fetch", "--crawl", crawl.crawl_id, "-o", str(tmp_path), "--json"
    )
    assert code == 0
    report = json.loads(out)
    assert report["problems"] == [] and len(report["files"]) == len(crawl.manifest["files"])
    target = tmp_path / crawl.date / crawl.crawl_id
    for entry in crawl.manifest["files"]:
        data = (target / entry["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert (target / (entry["name"] + ".cdxj")).exists()
    assert json.loads((target / "manifest.json").read_text())["crawl_id"] == crawl.crawl_id
    code, _, err = run(capsys, crawl, "fetch", "--site", "127.0.0.1", "-o", str(tmp_path))
    assert code == 2 and "--from" in err
    code, out, _ = run(
        capsys, crawl, "fetch", "--site", "127.0.0.1", "--from", crawl.date, "--to", crawl.date,
        "-o", str(tmp_path / "slice"),
    )  # fmt: skip
    assert code == 0 and len(list((tmp_path / "slice").rglob("*.warc.gz"))) == len(
        crawl.manifest["files"]
    )


def test_verify_passes_on_the_crawl_and_catches_a_damaged_record(
    capsys: pytest.CaptureFixture[str], crawl: ArchivedCrawl
) -> None:
    code, out, _ = run(capsys, crawl, "verify", "--crawl", crawl.crawl_id, "--json")
    report = json.loads(out)
    assert code == 0, report["problems"]
    assert report["files"] == len(crawl.manifest["files"])
    assert report["records"] == sum(sum(f["records"].values()) for f in crawl.manifest["files"])

    damaged = copy_bucket(crawl, "ret-damaged-" + crawl.bucket[-8:])
    client = crawl.server.client()
    entry = crawl.manifest["files"][0]
    key = f"{crawl.prefix}/{crawl.date}/{crawl.crawl_id}/{entry['name']}"
    data = client.get_object(Bucket=damaged, Key=key)["Body"].read()
    # Change one byte of a response body inside its gzip member, keeping the framing valid.
    members = _members(data)
    index = next(i for i, m in enumerate(members) if b"WARC-Type: response" in gzip.decompress(m))
    text = gzip.decompress(members[index])
    tail = text.rindex(b"\r\n\r\n", 0, len(text) - 4) + 4
    flipped = text[:tail] + bytes([text[tail] ^ 0x01]) + text[tail + 1 :]
    members[index] = gzip.compress(flipped)
    client.put_object(Bucket=damaged, Key=key, Body=b"".join(members))
    code, out, err = main_with_bucket(capsys, crawl, damaged, "verify", "--json")
    report = json.loads(out)
    assert code == 1
    problems = "\n".join(report["problems"])
    assert "digest" in problems and "sha256 differs from manifest.json" in problems
    assert "MISMATCH" in err


def _members(data: bytes) -> list[bytes]:
    members = []
    pos = 0
    while pos < len(data):
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        inflater.decompress(data[pos:])
        end = len(data) - len(inflater.unused_data)
        members.append(data[pos:end])
        pos = end
    return members


def main_with_bucket(
    capsys: pytest.CaptureFixture[str], crawl: ArchivedCrawl, bucket: str, *args: str
) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(
        ["-s", f"ARCHIVER_S3_BUCKET={bucket}", "-s", f"ARCHIVER_S3_PREFIX={crawl.prefix}", *args]
    )
    out, err = capsys.readouterr()
    return code, out, err


def test_reindex_rebuilds_the_index_from_the_warcs(
    capsys: pytest.CaptureFixture[str], crawl: ArchivedCrawl
) -> None:
    bucket = copy_bucket(crawl, "ret-reindex-" + crawl.bucket[-8:], skip="/_index/")
    code, _, _ = main_with_bucket(capsys, crawl, bucket, "find", crawl.seed_url)
    assert code == 1, "without an index nothing is found"
    code, out, _ = main_with_bucket(capsys, crawl, bucket, "reindex", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["crawls"] == [crawl.crawl_id] and result["run"].startswith("r-")
    _, expected, _ = run(capsys, crawl, "find", crawl.site_url, "--match", "host", "--json")
    code, out, _ = main_with_bucket(
        capsys, crawl, bucket, "find", crawl.site_url, "--match", "host", "--json"
    )
    assert code == 0 and out == expected
    code, out, _ = main_with_bucket(
        capsys, crawl, bucket, "reindex", "--crawl", crawl.crawl_id, "--json"
    )
    assert code == 0 and json.loads(out)["run"] == f"c-{crawl.crawl_id}"
    code, out, _ = main_with_bucket(capsys, crawl, bucket, "find", crawl.seed_url, "--json")
    assert len(out.splitlines()) == 1, "a record indexed by two runs is listed once"


def test_archiver_upload_of_a_waiting_crawl_brings_the_index_current(
    capsys: pytest.CaptureFixture[str], crawl: ArchivedCrawl, tmp_path: Path
) -> None:
    # What a crawl leaves in the spool when storage was down: its files, crawl.json, manifest.
    spool = tmp_path / "spool"
    crawl_dir = spool / crawl.crawl_id
    crawl_dir.mkdir(parents=True)
    client = crawl.server.client()
    base = f"{crawl.prefix}/{crawl.date}/{crawl.crawl_id}/"
    for key in crawl.list_keys():
        if key.startswith(base):
            body = client.get_object(Bucket=crawl.bucket, Key=key)["Body"].read()
            (crawl_dir / key[len(base) :]).write_bytes(body)
    info = {
        "crawl_id": crawl.crawl_id,
        "spider": "news",
        "started": crawl.manifest["started"],
        "finished": crawl.manifest["finished"],
        "start_urls": crawl.manifest["start_urls"],
    }
    (crawl_dir / CRAWL_FILE).write_text(json.dumps(info), encoding="utf-8")
    bucket = "ret-upload-" + crawl.bucket[-8:]
    crawl.server.create_bucket(bucket)
    code, _, _ = main_with_bucket(
        capsys, crawl, bucket, "-s", f"ARCHIVER_WARC_DIR={spool}", "upload"
    )
    assert code == 0
    code, out, _ = main_with_bucket(capsys, crawl, bucket, "find", crawl.seed_url, "--json")
    assert code == 0 and json.loads(out)["title"] == crawl.seed["title"]


def test_get_reads_with_range_requests_only(crawl: ArchivedCrawl) -> None:
    from archiver.access import closest, find, open_archive, parse_response, read_capture
    from archiver.crawler.project import load_settings

    _cfg, client, index = open_archive(load_settings(crawl.settings()[1::2]))
    ranges: list[str | None] = []
    client.meta.events.register(
        "before-call.s3.GetObject",
        lambda params, **_: ranges.append(params["headers"].get("Range")),
    )
    capture = closest(find(index, crawl.seed_url), None)
    assert capture is not None
    before = index.bytes_read
    ranges.clear()
    body = parse_response(read_capture(index, capture)).body
    assert ranges == [f"bytes={capture.offset}-{capture.offset + capture.length - 1}"]
    assert index.bytes_read - before == capture.length
    assert crawl.seed["title"].encode() in body
    assert io.BytesIO(body).read(15).lower().startswith(b"<!doctype html")


def _s3_calls(client: object) -> list[tuple[str, str, str | None]]:
    """(operation, key or prefix, Range) of every S3 call the client makes from now on."""
    calls: list[tuple[str, str, str | None]] = []

    def record(params: dict[str, object], model: object, **_: object) -> None:
        where = params.get("Key") or params.get("Prefix") or ""
        byte_range = params.get("Range")
        name = str(getattr(model, "name", ""))
        calls.append((name, str(where), None if byte_range is None else str(byte_range)))

    client.meta.events.register("before-parameter-build.s3", record)  # type: ignore[attr-defined]
    return calls


def test_a_warm_get_lists_once_and_reads_at_most_one_block_and_one_record(
    crawl: ArchivedCrawl, tmp_path: Path
) -> None:
    from archiver.access import closest, find, open_archive, parse_response, read_capture
    from archiver.crawler.project import load_settings
    from archiver.index import CachedArchiveIndex

    settings = load_settings([*crawl.settings()[1::2], f"ARCHIVER_INDEX_CACHE_DIR={tmp_path}"])
    _cfg, client, cold = open_archive(settings)
    calls = _s3_calls(client)
    assert closest(find(cold, crawl.seed_url), None) is not None
    assert [c[0] for c in calls].count("ListObjectsV2") == 1
    assert any(c[1].endswith("/cluster.idx") for c in calls), "a cold cache reads cluster.idx"
    assert list(tmp_path.rglob("cluster-*.idx")), "and keeps it"

    # A new process: the cache on disk is all it shares with the first. The seed's index
    # block is cached too, so what is left is the listing and the record.
    def warm_get() -> tuple[CachedArchiveIndex, list[tuple[str, str]], list[str | None]]:
        _cfg, client, warm = open_archive(settings)
        calls = _s3_calls(client)
        capture = closest(find(warm, crawl.seed_url), None)
        assert capture is not None
        body = parse_response(read_capture(warm, capture)).body
        assert crawl.seed["title"].encode() in body
        warm.close()
        where = sorted((op, "run" if "/_index/runs/" in key else "warc") for op, key, _ in calls)
        return warm, where, [r for op, _, r in calls if op == "GetObject"]

    warm, operations, ranges = warm_get()
    assert operations == [("GetObject", "warc"), ("ListObjectsV2", "run")]
    assert all(r is not None for r in ranges), "only Range reads"
    assert warm.cache_hits == 1 and warm.block_hits == 1 and warm.cache_misses == 0
    # Without the block (another URL's, or evicted): one block Range read more.
    for block in tmp_path.rglob("blocks/*"):
        block.unlink()
    warm, operations, ranges = warm_get()
    assert operations == [("GetObject", "run"), ("GetObject", "warc"), ("ListObjectsV2", "run")]
    assert all(r is not None for r in ranges), "only Range reads"
    assert warm.cache_hits == 1 and warm.block_hits == 0 and warm.cache_misses == 0
    cold.close()


def test_the_cache_sees_new_and_rewritten_runs_and_drops_merged_ones(
    capsys: pytest.CaptureFixture[str], crawl: ArchivedCrawl, tmp_path: Path
) -> None:
    from archiver.index import ArchiveIndex

    bucket = copy_bucket(crawl, "ret-cache-" + crawl.bucket[-8:], skip="/_index/")
    cache = f"ARCHIVER_INDEX_CACHE_DIR={tmp_path}"

    def find_seed() -> tuple[int, list[dict[str, object]]]:
        code, out, _ = main_with_bucket(
            capsys, crawl, bucket, "-s", cache, "find", crawl.seed_url, "--json"
        )
        return code, [json.loads(line) for line in out.splitlines()]

    assert find_seed()[0] == 1, "no index yet"
    code, out, _ = main_with_bucket(capsys, crawl, bucket, "reindex", "--json")
    first_run = json.loads(out)["run"]
    code, found = find_seed()
    assert code == 0 and len(found) == 1, "a run published after a lookup is seen by the next"
    assert (tmp_path / "index").exists() and any(
        p.parent.name == first_run for p in tmp_path.rglob("cluster-*.idx")
    )
    # A full rebuild replaces the run: the old one's cached copy goes, answers stay right.
    code, out, _ = main_with_bucket(capsys, crawl, bucket, "reindex", "--json")
    second_run = json.loads(out)["run"]
    assert second_run != first_run
    code, again = find_seed()
    assert code == 0 and again == found
    cached_runs = {p.parent.name for p in tmp_path.rglob("cluster-*.idx")}
    assert cached_runs == {second_run}
    # The same run id written again with other lines (as `reindex --crawl` may): the cached
    # cluster.idx no longer matches the listing, so the new one is read.
    index = ArchiveIndex(crawl.server.client(), bucket, crawl.prefix)
    lines = [line for line in index.iter_run_lines(second_run) if crawl.seed_url not in line]
    other_lines = [f"zz,example)/{i:05d} 20200101000000 {{}}\n" for i in range(3000)]
    index.publish_run(second_run, sorted(lines + other_lines), crawls=[crawl.crawl_id])
    code, after = find_seed()
    assert code == 1 and after == [], "the rewritten run no longer holds the seed"


def test_processes_sharing_a_cache_agree_and_leave_no_partial_files(
    crawl: ArchivedCrawl, tmp_path: Path
) -> None:
    host = crawl.site_url.split("://", 1)[1]
    argv = [*crawl.settings(), "-s", f"ARCHIVER_INDEX_CACHE_DIR={tmp_path}",
            "find", host, "--match", "host", "--json"]  # fmt: skip
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "archiver", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outputs]
    assert len({out for out, _ in outputs}) == 1 and outputs[0][0].count("\n") > 10
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".tmp-")]
    (cached,) = tmp_path.rglob("cluster-*.idx")
    key = f"{crawl.prefix}/_index/runs/{cached.parent.name}/cluster.idx"
    stored = crawl.server.client().get_object(Bucket=crawl.bucket, Key=key)["Body"].read()
    assert cached.read_bytes() == stored


def test_an_unusable_cache_directory_costs_requests_not_answers(
    capsys: pytest.CaptureFixture[str], crawl: ArchivedCrawl, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache should be", encoding="utf-8")
    capsys.readouterr()
    code = main([*crawl.settings(), "-s", f"ARCHIVER_INDEX_CACHE_DIR={blocker}",
                 "get", crawl.seed_url, "--text"])  # fmt: skip
    out, _ = capsys.readouterr()
    assert code == 0 and out.startswith(crawl.seed["title"])
    assert blocker.read_text(encoding="utf-8") == "a file where the cache should be"
