"""Crashes: a crawl killed with SIGKILL mid-write loses nothing it had written.

Every record the writer finished is readable in the ``.open`` file it leaves; the next
run (a crawl's start, or `archiver upload`) cuts that file after its last complete
record, renames it and uploads it, and storage ends up with no duplicate and no corrupt
record.  A file whose writer still runs is never touched.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.devserver.samplesite.generated import GeneratedSite
from archiver.spool import CrawlDir, CrawlInfo, Writer, process_start, recover_crawl, writer_state
from archiver.storage import upload_spool
from archiver.warc import HttpExchange, RotatingWarcWriter, build_exchange_records
from tests.conftest import S3Bucket

ROOT = Path(__file__).resolve().parent.parent
HOST = socket.gethostname()


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _open_name(pid: int, host: str = HOST, serial: int = 0) -> str:
    return f"news-20261125170259308-{serial:05d}-{host}-{pid}.warc.gz.open"


def _crawl_dir(spool: Path, crawl_id: str = "news-20261125T170259Z-abcdef") -> CrawlDir:
    info = CrawlInfo(crawl_id, "news", datetime(2026, 11, 25, 17, 2, 59, tzinfo=UTC))
    return CrawlDir.create(spool, info)


def _write_open_warc(directory: Path, records: int) -> Path:
    """A real WARC left open by this process's writer, as a crash would leave it."""
    writer = RotatingWarcWriter(
        directory, prefix="news", max_size=10**9, warcinfo_fields={"isPartOf": "t"}
    )
    for i in range(records):
        body = f"<html><body>page {i}</body></html>".encode()
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        exchange = HttpExchange(
            target_uri=f"http://news.example/p/{i}.html",
            request_head=f"GET /p/{i}.html HTTP/1.1\r\nHost: news.example\r\n\r\n".encode(),
            request_body=b"",
            response_head=head,
            response_body=body,
            ip_address="93.184.216.34",
            date=datetime(2026, 11, 25, 17, 3, i, tzinfo=UTC),
        )
        writer.write(build_exchange_records(exchange))
    assert writer._current is not None
    writer._current.raw.flush()
    (path,) = directory.glob("*.open")
    return path


def _responses(data: bytes) -> list[tuple[str, str]]:
    """(record id, target URI) of the complete response records at the start of a WARC."""
    found = []
    try:
        for record in ArchiveIterator(io.BytesIO(data), check_digests="raise"):
            if record.rec_type == "response":
                record.raw_stream.read()
                found.append(
                    (
                        record.rec_headers.get_header("WARC-Record-ID"),
                        record.rec_headers.get_header("WARC-Target-URI"),
                    )
                )
    except Exception:
        pass  # the cut tail
    return found


# --- deciding whether a writer is alive ---------------------------------------------------


def test_a_file_this_process_writes_is_alive(tmp_path: Path) -> None:
    path = tmp_path / _open_name(os.getpid())
    path.write_bytes(b"")
    assert writer_state(path) is Writer.ALIVE


def test_a_file_whose_writer_is_gone_is_dead(tmp_path: Path) -> None:
    path = tmp_path / _open_name(_dead_pid())
    path.write_bytes(b"")
    assert writer_state(path) is Writer.DEAD


def test_a_recycled_pid_is_told_from_the_writer(tmp_path: Path) -> None:
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        path = tmp_path / _open_name(sleeper.pid)
        path.write_bytes(b"")
        # Last written an hour before this process existed: its pid is someone else's now.
        hour_ago = time.time() - 3600
        os.utime(path, (hour_ago, hour_ago))
        started = process_start(sleeper.pid)
        assert started is not None and started > hour_ago
        assert writer_state(path) is Writer.DEAD
        # Written after the process started: that process may well be the writer.
        os.utime(path, None)
        assert writer_state(path) is Writer.ALIVE
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_file_from_another_host_is_left_alone_unless_its_crawl_finished(
    tmp_path: Path,
) -> None:
    crawl = _crawl_dir(tmp_path)
    src = _write_open_warc(tmp_path / "w", 2)
    path = crawl.root / _open_name(_dead_pid(), host="other-host")
    src.rename(path)
    assert writer_state(path) is Writer.UNKNOWN
    assert recover_crawl(crawl).left == [path]
    assert path.exists()
    crawl.mark_finished(datetime.now(UTC))
    result = recover_crawl(crawl)
    assert [p.name for p in result.recovered] == [path.name.removesuffix(".open")]


@pytest.mark.s3
def test_upload_never_touches_a_file_that_is_still_being_written(
    tmp_path: Path, s3_bucket: S3Bucket
) -> None:
    spool = tmp_path / "spool"
    crawl = _crawl_dir(spool)
    path = _write_open_warc(crawl.root, 3)
    before = path.read_bytes()
    report = upload_spool(s3_bucket.cfg, spool, client=s3_bucket.client)
    assert report.recovered == [] and path in report.waiting
    assert path.read_bytes() == before
    assert s3_bucket.list_keys() == []


@pytest.mark.s3
def test_archiver_upload_recovers_a_dead_writers_file_cut_mid_record(
    tmp_path: Path, s3_bucket: S3Bucket
) -> None:
    spool = tmp_path / "spool"
    crawl = _crawl_dir(spool)
    written = _write_open_warc(tmp_path / "w", 5)
    data = written.read_bytes()
    complete = _responses(data)
    assert len(complete) == 5
    # The kill came while the last record's gzip member was half written.
    last_member = data.rindex(b"\x1f\x8b\x08")
    torn = crawl.root / _open_name(_dead_pid())
    torn.write_bytes(data[: last_member + (len(data) - last_member) // 2])
    report = upload_spool(s3_bucket.cfg, spool, client=s3_bucket.client)
    assert report.failed == [] and report.waiting == []
    (recovered,) = report.recovered
    assert recovered.name == torn.name.removesuffix(".open")
    (key,) = [k for k in s3_bucket.list_keys() if k.endswith(".warc.gz")]
    stored = s3_bucket.read(key)
    # Cut exactly after the last complete record: every record but the torn one, once.
    assert stored == data[:last_member]
    assert _responses(stored) == complete[:-1]
    # Idempotent: nothing is recovered or sent twice.
    again = upload_spool(s3_bucket.cfg, spool, client=s3_bucket.client)
    assert again.recovered == [] and again.uploaded == []


# --- a real crawl, killed -------------------------------------------------------------------


def _crawl_command(url: str, spool: Path, bucket: str, endpoint: str, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "scrapy",
        "crawl",
        "news",
        "-a",
        f"urls={url}/",
        "-s",
        f"ARCHIVER_WARC_DIR={spool}",
        "-s",
        f"ARCHIVER_S3_BUCKET={bucket}",
        "-s",
        f"ARCHIVER_S3_ENDPOINT_URL={endpoint}",
        "-s",
        "ARCHIVER_S3_PREFIX=crash",
        "-s",
        "ARCHIVER_ALLOWED_NETWORKS=127.0.0.0/8",
        "-s",
        "DOWNLOAD_DELAY=0",
        "-s",
        "AUTOTHROTTLE_ENABLED=false",
        "-s",
        "CONCURRENT_REQUESTS_PER_DOMAIN=8",
        "-s",
        "ARCHIVER_CLEAN_ENABLED=false",
        "-s",
        "ARCHIVER_WARC_MAX_SIZE=100000",
        *extra,
    ]


def _wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.s3
@pytest.mark.slow
def test_sigkill_mid_crawl_then_the_next_crawl_recovers_and_uploads_everything(
    tmp_path: Path, s3_bucket: S3Bucket
) -> None:
    spool = tmp_path / "spool"
    endpoint = s3_bucket.cfg.endpoint_url or ""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")}
    with GeneratedSite(20_000, fanout=20) as site:
        log = open(tmp_path / "killed.log", "w", encoding="utf-8")  # noqa: SIM115
        crawl = subprocess.Popen(
            _crawl_command(site.url, spool, s3_bucket.name, endpoint),
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:

            def mid_write() -> bool:
                opened = list(spool.glob("*/*.warc.gz.open"))
                closed = len([k for k in s3_bucket.list_keys() if k.endswith(".warc.gz")])
                return closed >= 2 and any(p.stat().st_size > 30_000 for p in opened)

            _wait_for(mid_write, 120, "a crawl with uploaded WARCs and one half-written")
            os.killpg(crawl.pid, signal.SIGKILL)
            crawl.wait(timeout=30)
        finally:
            if crawl.poll() is None:
                os.killpg(crawl.pid, signal.SIGKILL)
                crawl.wait()
            log.close()
        assert crawl.returncode == -signal.SIGKILL

        (killed_dir,) = [p for p in spool.iterdir() if p.is_dir() and not p.name.startswith("_")]
        left_open = sorted(killed_dir.glob("*.warc.gz.open"))
        assert left_open, "the kill should leave the file being written"
        left_closed = sorted(killed_dir.glob("*.warc.gz"))
        in_open = [r for p in left_open for r in _responses(p.read_bytes())]
        assert in_open, "records written before the kill must be readable"
        uploaded_before = set(s3_bucket.list_keys())

        # The next crawl of the same spool uploads leftovers first, recovering dead files.
        next_run = subprocess.run(
            [*_crawl_command(site.url, spool, s3_bucket.name, endpoint), "-a", "max_pages=1"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        served = site.served_pages()
    assert next_run.returncode == 0, next_run.stderr[-3000:]
    assert next_run.stderr.count("event=open_file_recovered") == len(left_open)
    assert f"'archiver/upload/leftover_recovered': {len(left_open)}" in next_run.stderr
    assert not list(killed_dir.glob("*.open"))

    keys = s3_bucket.list_keys()
    warc_keys = [k for k in keys if k.endswith(".warc.gz") and f"/{killed_dir.name}/" in k]
    names = {Path(k).name for k in warc_keys}
    assert {p.name.removesuffix(".open") for p in left_open} <= names
    assert {Path(k).name for k in uploaded_before if k.endswith(".warc.gz")} <= names
    stored: list[tuple[str, str]] = []
    warcio = Path(sys.executable).with_name("warcio")
    for key in warc_keys:
        data = s3_bucket.read(key)
        local = tmp_path / "check" / Path(key).name
        local.parent.mkdir(exist_ok=True)
        local.write_bytes(data)
        check = subprocess.run([str(warcio), "check", str(local)], capture_output=True, text=True)
        assert check.returncode == 0, f"{key}: {check.stdout}{check.stderr}"
        stored.extend(_responses(data))
    ids = Counter(record_id for record_id, _ in stored)
    uris = Counter(uri for _, uri in stored)
    assert max(ids.values()) == 1, "a record is stored twice"
    assert max(uris.values()) == 1, "a page is stored twice"
    # Nothing that was on disk at the kill is missing from storage.
    assert set(in_open) <= set(stored)
    for path in left_closed:
        assert any(k.endswith("/" + path.name) for k in warc_keys), path.name
    # Every stored page was really fetched (once: the crawl never retried it).
    page_paths = {uri.split("/", 3)[3] for _, uri in stored if "/p/" in uri}
    assert all(served["/" + p] == 1 for p in page_paths)
