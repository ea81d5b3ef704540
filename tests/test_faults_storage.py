"""Storage faults against the real SeaweedFS: errors, slowness, outages, bad credentials, keys.

A small proxy on 127.0.0.1 sits between the uploader and SeaweedFS and misbehaves on
demand: it answers 503 or 500 for the first N requests, answers slowly, or refuses
everything (the server is down) until told otherwise.  Retries must get through
transient trouble, give up within the bound the settings promise, and never delete a
local file that is not verified in storage.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from warcio.archiveiterator import ArchiveIterator

from archiver.devserver.s3server import SeaweedServer
from archiver.devserver.samplesite.generated import GeneratedSite
from archiver.spool import CrawlDir, CrawlInfo
from archiver.storage import S3Config, make_client, object_key, upload_spool
from tests.conftest import S3Bucket

ROOT = Path(__file__).resolve().parent.parent

# What the proxy does with one request: forward it, answer with a status, wait then
# forward, or drop the connection as a server that is down would.
Action = tuple[str, float]
FORWARD: Action = ("forward", 0)
DOWN: Action = ("down", 0)


def status(code: int) -> Action:
    return ("status", code)


def slow(seconds: float) -> Action:
    return ("slow", seconds)


_S3_ERRORS = {
    500: ("InternalError", "We encountered an internal error. Please try again."),
    503: ("SlowDown", "Please reduce your request rate."),
}


class FlakyProxy:
    """An HTTP proxy on 127.0.0.1 in front of one S3 endpoint; policy(n) decides request n."""

    def __init__(self, upstream: str, policy: Callable[[int], Action]) -> None:
        host_port = upstream.split("://", 1)[1].rstrip("/")
        host, _, port = host_port.rpartition(":")
        self.upstream = (host, int(port))
        self.policy = policy
        self.requests: list[tuple[str, Action]] = []
        self._lock = threading.Lock()
        self._sock = socket.create_server(("127.0.0.1", 0))
        # accept() wakes up now and then, so close() does not wait on it.
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        self._thread.join(timeout=5)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(30)
            try:
                head = b""
                while b"\r\n\r\n" not in head:
                    data = conn.recv(65536)
                    if not data:
                        return
                    head += data
            except OSError:
                return
            head, _, rest = head.partition(b"\r\n\r\n")
            line = head.split(b"\r\n", 1)[0].decode("latin-1")
            with self._lock:
                n = len(self.requests)
                action = self.policy(n)
                self.requests.append((line, action))
            kind, value = action
            if kind == "down":
                return
            if kind == "status":
                self._answer(conn, head, rest, int(value))
                return
            if kind == "slow":
                time.sleep(value)
            self._forward(conn, head, rest)

    def _answer(self, conn: socket.socket, head: bytes, rest: bytes, code: int) -> None:
        headers = head.lower()
        if b"expect: 100-continue" not in headers:
            # Read the body the client is sending, so the answer is not a connection reset.
            length = 0
            for header in headers.split(b"\r\n")[1:]:
                name, _, value = header.partition(b":")
                if name.strip() == b"content-length":
                    length = int(value)
            while len(rest) < length:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                rest += chunk
        error, message = _S3_ERRORS[code]
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{error}</Code>'
            f"<Message>{message}</Message></Error>"
        ).encode()
        reason = {500: "Internal Server Error", 503: "Service Unavailable"}[code]
        conn.sendall(
            f"HTTP/1.1 {code} {reason}\r\nContent-Type: application/xml\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )

    def _forward(self, conn: socket.socket, head: bytes, rest: bytes) -> None:
        lines = [h for h in head.split(b"\r\n") if not h.lower().startswith(b"connection:")]
        # One request per upstream connection, so the relay ends when the answer does.
        lines.append(b"Connection: close")
        try:
            upstream = socket.create_connection(self.upstream, timeout=60)
        except OSError:
            return
        with upstream:
            upstream.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + rest)

            def client_to_upstream() -> None:
                try:
                    while data := conn.recv(65536):
                        upstream.sendall(data)
                except OSError:
                    pass

            pump = threading.Thread(target=client_to_upstream, daemon=True)
            pump.start()
            try:
                while data := upstream.recv(65536):
                    conn.sendall(data)
            except OSError:
                pass


@pytest.fixture
def make_proxy(
    s3_server: SeaweedServer,
) -> Iterator[Callable[[Callable[[int], Action]], FlakyProxy]]:
    proxies: list[FlakyProxy] = []

    def make(policy: Callable[[int], Action]) -> FlakyProxy:
        proxy = FlakyProxy(s3_server.endpoint_url, policy)
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.close()


def _spool_with_files(root: Path, sizes: list[int]) -> tuple[CrawlDir, dict[str, bytes]]:
    info = CrawlInfo("news-20261125T170259Z-" + secrets.token_hex(3), "news", _started())
    crawl = CrawlDir.create(root, info)
    files = {}
    for i, size in enumerate(sizes):
        name = f"news-2026112517030{i}000-00000-host-1.warc.gz"
        data = secrets.token_bytes(size)
        (crawl.root / name).write_bytes(data)
        files[name] = data
    return crawl, files


def _started() -> datetime:
    return datetime(2026, 11, 25, 17, 2, 59, tzinfo=UTC)


def _via(bucket: S3Bucket, proxy: FlakyProxy, **changes: Any) -> S3Config:
    return replace(bucket.cfg, endpoint_url=proxy.url, **changes)


# --- 500, 503 and slow answers --------------------------------------------------------------


@pytest.mark.s3
@pytest.mark.parametrize("code", [503, 500])
def test_transient_errors_are_retried_with_backoff_until_the_upload_succeeds(
    tmp_path: Path, s3_bucket: S3Bucket, make_proxy: Any, code: int
) -> None:
    proxy = make_proxy(lambda n: status(code) if n < 3 else FORWARD)
    crawl, files = _spool_with_files(tmp_path, [200_000])
    cfg = _via(s3_bucket, proxy, max_attempts=5)
    report = upload_spool(cfg, tmp_path, client=make_client(cfg))
    assert report.failed == [] and report.waiting == []
    (name,) = files
    stored = s3_bucket.read(object_key(cfg.prefix, "2026-11-25", crawl.info.crawl_id, name))
    assert stored == files[name]
    answered = [a for _, a in proxy.requests]
    assert answered[:3] == [status(code)] * 3 and FORWARD in answered


@pytest.mark.s3
@pytest.mark.parametrize("code", [503, 500])
def test_an_endpoint_that_keeps_failing_is_given_up_on_within_the_bound(
    tmp_path: Path, s3_bucket: S3Bucket, make_proxy: Any, code: int
) -> None:
    proxy = make_proxy(lambda n: status(code))
    crawl, files = _spool_with_files(tmp_path, [10_000, 20_000])
    cfg = _via(s3_bucket, proxy, max_attempts=3, connect_timeout=2, read_timeout=2)
    started = time.monotonic()
    report = upload_spool(cfg, tmp_path, client=make_client(cfg))
    elapsed = time.monotonic() - started
    # Two files, one failing call each (the first HEAD), each call bounded.
    assert elapsed < 2 * cfg.worst_case_seconds
    assert [p.name for p, _ in report.failed] == sorted(files)
    # The first call is a HEAD: its answer has no body, so the status is all botocore reports.
    assert all(f"(HTTP {code})" in error for _, error in report.failed)
    assert len(proxy.requests) == 2 * cfg.max_attempts
    # Nothing left the spool.
    assert {p.name: p.read_bytes() for p in crawl.root.glob("*.warc.gz")} == files


@pytest.mark.s3
def test_a_slow_endpoint_times_out_retries_and_gets_through(
    tmp_path: Path, s3_bucket: S3Bucket, make_proxy: Any
) -> None:
    proxy = make_proxy(lambda n: slow(3) if n < 2 else FORWARD)
    crawl, _ = _spool_with_files(tmp_path, [50_000])
    cfg = _via(s3_bucket, proxy, max_attempts=4, read_timeout=1)
    report = upload_spool(cfg, tmp_path, client=make_client(cfg))
    assert report.failed == [], report.failed
    assert [a for _, a in proxy.requests][:2] == [slow(3), slow(3)]
    assert list(crawl.root.glob("*.warc.gz")) == []


@pytest.mark.s3
def test_an_endpoint_that_never_answers_in_time_fails_within_the_bound(
    tmp_path: Path, s3_bucket: S3Bucket, make_proxy: Any
) -> None:
    proxy = make_proxy(lambda n: slow(30))
    crawl, files = _spool_with_files(tmp_path, [50_000])
    cfg = _via(s3_bucket, proxy, max_attempts=2, connect_timeout=1, read_timeout=1)
    started = time.monotonic()
    report = upload_spool(cfg, tmp_path, client=make_client(cfg))
    elapsed = time.monotonic() - started
    assert elapsed <= cfg.worst_case_seconds + 1
    assert len(report.failed) == 1 and "timeout" in report.failed[0][1].lower()
    assert {p.name: p.read_bytes() for p in crawl.root.glob("*.warc.gz")} == files


# --- wrong credentials, missing bucket -------------------------------------------------------


def _archiver_upload(
    spool: Path, bucket: str, endpoint: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "archiver",
            "-s",
            f"ARCHIVER_WARC_DIR={spool}",
            "-s",
            f"ARCHIVER_S3_BUCKET={bucket}",
            "-s",
            f"ARCHIVER_S3_ENDPOINT_URL={endpoint}",
            "-s",
            "ARCHIVER_S3_MAX_ATTEMPTS=2",
            "upload",
            "--json",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.s3
def test_wrong_credentials_give_a_clear_error_and_delete_nothing(
    tmp_path: Path, s3_bucket: S3Bucket
) -> None:
    crawl, files = _spool_with_files(tmp_path, [1000, 2000])
    wrong_secret = "wrong-" + secrets.token_hex(16)
    env = {**os.environ, "AWS_SECRET_ACCESS_KEY": wrong_secret}
    proc = _archiver_upload(tmp_path, s3_bucket.name, s3_bucket.cfg.endpoint_url or "", env)
    assert proc.returncode == 1
    assert "rejected the credentials" in proc.stderr
    assert "SignatureDoesNotMatch" in proc.stderr or "InvalidAccessKeyId" in proc.stderr
    assert wrong_secret not in proc.stdout + proc.stderr
    assert {p.name: p.read_bytes() for p in crawl.root.glob("*.warc.gz")} == files
    assert s3_bucket.list_keys() == []


@pytest.mark.s3
def test_a_missing_bucket_gives_a_clear_error_and_deletes_nothing(
    tmp_path: Path, s3_bucket: S3Bucket
) -> None:
    crawl, files = _spool_with_files(tmp_path, [1000])
    missing = "no-such-bucket-" + secrets.token_hex(4)
    proc = _archiver_upload(tmp_path, missing, s3_bucket.cfg.endpoint_url or "", dict(os.environ))
    assert proc.returncode == 1
    assert "the bucket does not exist" in proc.stderr and missing in proc.stderr
    assert json.loads(proc.stdout)["error"]
    assert {p.name: p.read_bytes() for p in crawl.root.glob("*.warc.gz")} == files


# --- storage down in the middle of a crawl ----------------------------------------------------


def _warc_records(data: bytes) -> list[tuple[str, str, str]]:
    out = []
    for record in ArchiveIterator(io.BytesIO(data)):
        if record.rec_type == "response":
            out.append(
                (
                    record.rec_headers.get_header("WARC-Record-ID"),
                    record.rec_headers.get_header("WARC-Target-URI"),
                    record.rec_headers.get_header("WARC-Payload-Digest"),
                )
            )
    return out


@pytest.mark.s3
@pytest.mark.slow
def test_storage_going_down_mid_crawl_loses_nothing(
    tmp_path: Path, s3_bucket: S3Bucket, make_proxy: Any
) -> None:
    down = threading.Event()
    proxy = make_proxy(lambda n: DOWN if down.is_set() else FORWARD)
    spool = tmp_path / "spool"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")}
    pages = 300
    with GeneratedSite(pages, fanout=8) as site:
        command = [
            sys.executable,
            "-m",
            "scrapy",
            "crawl",
            "news",
            "-a",
            f"urls={site.url}/",
            "-s",
            f"ARCHIVER_WARC_DIR={spool}",
            "-s",
            f"ARCHIVER_S3_BUCKET={s3_bucket.name}",
            "-s",
            f"ARCHIVER_S3_ENDPOINT_URL={proxy.url}",
            "-s",
            "ARCHIVER_S3_MAX_ATTEMPTS=2",
            "-s",
            "ARCHIVER_ALLOWED_NETWORKS=127.0.0.0/8",
            "-s",
            "DOWNLOAD_DELAY=0",
            "-s",
            "AUTOTHROTTLE_ENABLED=false",
            "-s",
            "ARCHIVER_CLEAN_ENABLED=false",
            "-s",
            "ARCHIVER_WARC_MAX_SIZE=60000",
            "-s",
            "CONCURRENT_REQUESTS_PER_DOMAIN=4",
        ]
        crawl = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and crawl.poll() is None:
            if len([k for k in s3_bucket.list_keys() if k.endswith(".warc.gz")]) >= 2:
                break
            time.sleep(0.1)
        down.set()
        _, log = crawl.communicate(timeout=300)
    assert crawl.returncode == 0, log[-3000:]
    stored_before = {k for k in s3_bucket.list_keys() if k.endswith(".warc.gz")}
    assert len(stored_before) >= 2
    assert "event=upload_failed" in log and "event=uploads_waiting" in log
    (crawl_dir,) = [p for p in spool.iterdir() if p.is_dir() and not p.name.startswith("_")]
    manifest = json.loads((crawl_dir / "manifest.json").read_text(encoding="utf-8"))
    waiting = manifest["uploads_waiting"]
    assert waiting and manifest["stats"]["archiver/upload/failed"] >= 1
    local = {n: (crawl_dir / n).read_bytes() for n in waiting if n.endswith(".warc.gz")}
    assert local, "some WARCs should wait in the spool"

    # Storage is back: `archiver upload` sends everything, verified.
    down.clear()
    proc = _archiver_upload(spool, s3_bucket.name, proxy.url, dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["failed"] == [] and report["waiting"] == []

    # Captures before equal captures after: every WARC of the manifest is stored with its
    # digest, each page's response exactly once.
    keys = s3_bucket.list_keys()
    stored = {Path(k).name: k for k in keys}
    records = []
    for entry in manifest["files"]:
        data = s3_bucket.read(stored[entry["name"]])
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        if entry["name"] in local:
            assert data == local[entry["name"]]
        records.extend(_warc_records(data))
    uris = [uri for _, uri, _ in records if "/p/" in uri]
    assert len(uris) == len(set(uris)) == pages
    assert len({rid for rid, _, _ in records}) == len(records)
    assert "manifest.json" in stored


# --- keys cannot leave the prefix -------------------------------------------------------------

_names = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=400
)
_dangerous = st.sampled_from(
    [
        "..",
        ".",
        "../../etc/passwd",
        "..\\..\\boot.ini",
        "/absolute",
        "a/../../b",
        "\u2025",  # two-dot leader
        "\uff0e\uff0e",  # fullwidth dots, NFKC "..": must still stay one component
        "\u2215evil",  # division slash
        "\uff0fevil",  # fullwidth solidus, NFKC "/"
        "\u202eexe.warc.gz",  # right-to-left override
        "nul\x00byte",
        "line\nbreak",
        "x" * 5000,
        "é" * 300,
    ]
)


def _check_key(prefix: str, crawl_id: str, filename: str) -> str | None:
    try:
        key = object_key(prefix, "2026-11-25", crawl_id, filename)
    except ValueError:
        return None
    assert key.startswith(prefix + "/2026-11-25/")
    parts = key.split("/")
    assert len(parts) == len(prefix.split("/")) + 3, key
    assert all(p and p not in {".", ".."} and not p.startswith(".") for p in parts)
    assert len(key.encode("utf-8")) <= 1024
    for ch in key:
        assert ch == "/" or unicodedata.category(ch)[0] in "LMN" or ch in "-_.~+=@,", repr(ch)
    return key


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(crawl_id=st.one_of(_names, _dangerous), filename=st.one_of(_names, _dangerous))
@example(crawl_id="news-20261125T170259Z-abcdef", filename="../../../etc/passwd")
@example(crawl_id="..", filename="news.warc.gz")
def test_keys_never_leave_the_prefix(crawl_id: str, filename: str) -> None:
    _check_key("archive/news", crawl_id, filename)


@settings(max_examples=300, deadline=None)
@given(a=st.one_of(_names, _dangerous), b=st.one_of(_names, _dangerous))
def test_different_names_never_share_a_key(a: str, b: str) -> None:
    key_a = _check_key("p", "crawl-1", a)
    key_b = _check_key("p", "crawl-1", b)
    if key_a is not None and key_b is not None and a != b:
        assert key_a != key_b, (a, b)


@pytest.mark.parametrize("prefix", ["../up", "a/../b", ".hidden", "a//../b", "x/\u2025/y", "a b"])
def test_an_unsafe_prefix_is_a_configuration_error(prefix: str) -> None:
    with pytest.raises(ValueError):
        object_key(prefix, "2026-11-25", "crawl", "f.warc.gz")
