"""Tests for archiver.warc: golden records, file naming, rotation, the writer thread, recovery."""

from __future__ import annotations

import base64
import gzip
import hashlib
import os
import random
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.warcwriter import WARCWriter

from archiver.warc import (
    ClosedWarc,
    HttpExchange,
    RecordLocation,
    RotatingWarcWriter,
    WarcWriterThread,
    build_exchange_records,
    build_metadata_record,
    build_revisit_record,
    build_warcinfo_record,
    dechunk,
    digest,
    new_record_id,
    parse_digest_algorithm,
    recover_open_file,
    warc_date,
    warc_filename,
)
from tests.support.warc import (
    DATE,
    FIELDS,
    GET_HEAD,
    REQ_ID,
    RESP_ID,
    URL,
    exchange,
    failing_record,
    pinned,
)

WARCIO = Path(sys.executable).with_name("warcio")

META_ID = "<urn:uuid:00000000-0000-4000-8000-000000000003>"
INFO_ID = "<urn:uuid:00000000-0000-4000-8000-000000000004>"
HTML = b"<!doctype html><html><body><h1>Story</h1><p>Text of the story.</p></body></html>\n"


def b32(algorithm: str, data: bytes) -> str:
    """The expected WARC digest, computed independently of archiver.warc."""
    raw = hashlib.new(algorithm, data).digest()
    return f"{algorithm}:{base64.b32encode(raw).decode('ascii')}"


def serialize(record: Any) -> bytes:
    """A record as warcio writes it, uncompressed."""
    out = BytesIO()
    WARCWriter(out, gzip=False, warc_version="WARC/1.1").write_record(record)
    return out.getvalue()


def response_golden(
    block: bytes,
    payload: bytes,
    *,
    algorithm: str = "sha1",
    extra: bytes = b"",
    uri: str = URL,
) -> bytes:
    return (
        b"WARC/1.1\r\n"
        b"WARC-Type: response\r\n"
        b"WARC-Record-ID: " + RESP_ID.encode() + b"\r\n"
        b"WARC-Date: 2026-11-25T17:02:59.308400Z\r\n"
        b"WARC-Target-URI: " + uri.encode() + b"\r\n"
        b"WARC-IP-Address: 127.0.0.1\r\n"
        + extra
        + b"WARC-Payload-Digest: "
        + b32(algorithm, payload).encode()
        + b"\r\n"
        b"WARC-Block-Digest: " + b32(algorithm, block).encode() + b"\r\n"
        b"Content-Type: application/http; msgtype=response\r\n"
        b"Content-Length: " + str(len(block)).encode() + b"\r\n"
        b"\r\n" + block + b"\r\n\r\n"
    )


def read_all(path: Path) -> list[Any]:
    """Every record of a WARC file, with its content read (headers parsed by warcio)."""
    records = []
    with open(path, "rb") as fh:
        for record in ArchiveIterator(fh):
            record.content = record.content_stream().read()
            records.append(record)
    return records


def warcio_check(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(WARCIO), "check", "-v", *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def ticking_clock(
    start: datetime = DATE, step: timedelta = timedelta(seconds=1)
) -> Callable[[], datetime]:
    now = [start]

    def clock() -> datetime:
        now[0] += step
        return now[0]

    return clock


# --- dates, names, digests ---------------------------------------------------------------


def test_warc_date_is_utc_with_microseconds() -> None:
    assert warc_date(DATE) == "2026-11-25T17:02:59.308400Z"
    assert warc_date(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05.000000Z"
    cet = timezone(timedelta(hours=1))
    assert (
        warc_date(datetime(2026, 11, 25, 18, 2, 59, 308400, tzinfo=cet))
        == "2026-11-25T17:02:59.308400Z"
    )
    with pytest.raises(ValueError, match="naive"):
        warc_date(datetime(2026, 11, 25, 17, 2, 59))


def test_warc_filename_format_and_host_sanitising() -> None:
    name = warc_filename("news", DATE, 3, "crawler_01.example/x y", 4242)
    assert name == "news-20261125170259308-00003-crawler-01.example-x-y-4242.warc.gz"
    with pytest.raises(ValueError):
        warc_filename("news/../x", DATE, 0, "host", 1)
    with pytest.raises(ValueError):
        warc_filename("news", DATE, 0, "", 1)


def test_warc_filenames_sort_by_time_then_serial() -> None:
    base = datetime(2026, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)
    cases = [
        (base - timedelta(days=400), 99),
        (base - timedelta(milliseconds=1), 7),
        (base, 0),
        (base, 1),
        (base + timedelta(milliseconds=1), 0),  # the next year
        (base + timedelta(hours=30), 2),
    ]
    names = [warc_filename("news", when, serial, "host", 77) for when, serial in cases]
    shuffled = names[:]
    random.Random(5).shuffle(shuffled)
    assert sorted(shuffled) == names
    assert names[4].startswith("news-20270101000000000-")


def test_digest_is_base32_for_both_algorithms() -> None:
    data = b"payload bytes"
    assert digest(data, "sha1") == b32("sha1", data)
    assert digest(data, "sha256") == b32("sha256", data)
    assert parse_digest_algorithm(" SHA256 ") == "sha256"
    with pytest.raises(ValueError):
        parse_digest_algorithm("md5")


def test_new_record_id_is_a_urn_uuid() -> None:
    first, second = new_record_id(), new_record_id()
    assert first.startswith("<urn:uuid:") and first.endswith(">") and len(first) == 47
    assert first != second


def test_record_ids_are_random_v4_uuids_unique_across_batches() -> None:
    ids = [new_record_id() for _ in range(2000)]  # several refills of the random pool
    assert len(set(ids)) == len(ids)
    parsed = [uuid.UUID(i[len("<urn:uuid:") : -1]) for i in ids]
    assert {u.version for u in parsed} == {4}
    assert {u.variant for u in parsed} == {uuid.RFC_4122}


def test_a_forked_child_never_repeats_its_parents_record_ids() -> None:
    new_record_id()  # the parent now holds unused random bytes
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read)
        os.write(write, "\n".join(new_record_id() for _ in range(50)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        child = set(pipe.read().decode().splitlines())
    os.waitpid(pid, 0)
    parent = {new_record_id() for _ in range(50)}
    assert len(child) == 50
    assert not child & parent


# --- dechunk -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", (b"hello world", True)),
        (b"5;ext=1\r\nhello\r\n0\r\nExpires: never\r\n\r\n", (b"hello", True)),  # trailers
        (b"5\nhello\n0\n\n", (b"hello", True)),  # bare LF line ends
        (b"A \r\n0123456789\r\n0\r\n\r\n", (b"0123456789", True)),  # upper case, blank after size
        (b"0\r\n\r\n", (b"", True)),
        (b"5\r\nhel", (b"hel", False)),  # cut inside a chunk
        (b"5\r\nhello\r\n", (b"hello", False)),  # no last chunk
        (b"5\r\nhello", (b"hello", False)),
        (b"5\r\nhello\r\n1", (b"hello", False)),  # cut inside a size line
        (b"<!doctype html><p>not chunked</p>\n", (b"", False)),
        (b"5\r\nhelloXX0\r\n\r\n", (b"hello", False)),  # chunk longer than its size
        (b"0x5\r\nhello\r\n0\r\n\r\n", (b"", False)),  # int(..., 16) would accept these
        (b"1_0\r\n0123456789abcdef\r\n0\r\n\r\n", (b"", False)),
        (b"", (b"", False)),
    ],
)
def test_dechunk(body: bytes, expected: tuple[bytes, bool]) -> None:
    assert dechunk(body) == expected


def chunked(data: bytes, sizes: list[int]) -> bytes:
    out, pos = b"", 0
    for size in sizes:
        out += b"%x\r\n" % size + data[pos : pos + size] + b"\r\n"
        pos += size
    return out + b"0\r\n\r\n"


def test_dechunk_of_every_prefix_is_a_prefix_and_incomplete() -> None:
    entity = bytes(range(256)) * 3
    body = chunked(entity, [100, 1, 300, 367])
    last_chunk = body.rindex(b"0\r\n\r\n")
    for cut in range(len(body)):
        decoded, complete = dechunk(body[:cut])
        assert entity.startswith(decoded)
        assert complete is (cut >= last_chunk + len(b"0\r\n"))
    assert dechunk(body) == (entity, True)


def test_dechunk_never_raises_on_damaged_input() -> None:
    rng = random.Random(1234)
    body = chunked(b"x" * 500, [13, 250, 237])
    for _ in range(2000):
        damaged = bytearray(body)
        for _ in range(rng.randint(1, 6)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        decoded, complete = dechunk(bytes(damaged[: rng.randint(0, len(damaged))]))
        assert isinstance(decoded, bytes) and isinstance(complete, bool)
    assert dechunk(rng.randbytes(10_000))[1] is False


# --- golden records ---------------------------------------------------------------------------


def test_plain_response_and_request_golden() -> None:
    head = (
        b"HTTP/1.1 200 OK\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n"
        b"Content-Length: 81\r\n"
        b"X-Odd-Spacing:   kept as sent \t\r\n"  # warcio would re-serialise this as "X-Odd-Spacing: kept as sent"
        b"X-Latin: caf\xe9\r\n"  # and percent-encode this
        b"\r\n"
    )
    request, response = pinned(exchange(head, HTML))
    assert serialize(response) == response_golden(head + HTML, HTML)
    assert serialize(request) == (
        b"WARC/1.1\r\n"
        b"WARC-Type: request\r\n"
        b"WARC-Record-ID: " + REQ_ID.encode() + b"\r\n"
        b"WARC-Date: 2026-11-25T17:02:59.308400Z\r\n"
        b"WARC-Target-URI: " + URL.encode() + b"\r\n"
        b"WARC-Concurrent-To: " + RESP_ID.encode() + b"\r\n"
        b"WARC-IP-Address: 127.0.0.1\r\n"
        b"WARC-Payload-Digest: " + b32("sha1", b"").encode() + b"\r\n"
        b"WARC-Block-Digest: " + b32("sha1", GET_HEAD).encode() + b"\r\n"
        b"Content-Type: application/http; msgtype=request\r\n"
        b"Content-Length: " + str(len(GET_HEAD)).encode() + b"\r\n"
        b"\r\n" + GET_HEAD + b"\r\n\r\n"
    )


def test_chunked_response_is_stored_dechunked_with_renamed_header() -> None:
    head = (
        b"HTTP/1.1 200 OK\r\n"
        b"Content-Type: text/html\r\n"
        b"transfer-encoding:  Chunked\r\n"
        b"Vary: Accept-Encoding\r\n"
        b"\r\n"
    )
    stored_head = (
        b"HTTP/1.1 200 OK\r\n"
        b"Content-Type: text/html\r\n"
        b"X-Archive-Orig-transfer-encoding:  Chunked\r\n"
        b"Vary: Accept-Encoding\r\n"
        b"\r\n"
    )
    _, response = pinned(exchange(head, chunked(HTML, [10, 50, len(HTML) - 60])))
    assert serialize(response) == response_golden(stored_head + HTML, HTML)

    # The same entity in other chunk sizes has the same payload digest, so it dedupes.
    _, other = pinned(exchange(head, chunked(HTML, [len(HTML)])))
    assert other.rec_headers.get_header("WARC-Payload-Digest") == b32("sha1", HTML)


def test_gzip_content_encoding_stays_compressed() -> None:
    compressed = gzip.compress(HTML, mtime=0)
    head = (
        b"HTTP/1.1 200 OK\r\n"
        b"Content-Type: text/html\r\n"
        b"Content-Encoding: gzip\r\n"
        b"Transfer-Encoding: chunked\r\n"
        b"\r\n"
    )
    stored_head = head.replace(b"Transfer-Encoding", b"X-Archive-Orig-Transfer-Encoding")
    _, response = pinned(exchange(head, chunked(compressed, [7, len(compressed) - 7])))
    assert serialize(response) == response_golden(stored_head + compressed, compressed)


def test_request_with_query_string_golden() -> None:
    uri = "https://news.example/search?q=%C3%A9t%C3%A9&page=2"
    head = (
        b"POST /search?q=%C3%A9t%C3%A9&page=2 HTTP/1.1\r\n"
        b"Host: news.example\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: 7\r\n"
        b"\r\n"
    )
    body = b"sort=up"
    request, _ = pinned(
        exchange(
            b"HTTP/1.1 204 No Content\r\n\r\n", b"", request_head=head, request_body=body, uri=uri
        )
    )
    assert serialize(request) == (
        b"WARC/1.1\r\n"
        b"WARC-Type: request\r\n"
        b"WARC-Record-ID: " + REQ_ID.encode() + b"\r\n"
        b"WARC-Date: 2026-11-25T17:02:59.308400Z\r\n"
        b"WARC-Target-URI: " + uri.encode() + b"\r\n"
        b"WARC-Concurrent-To: " + RESP_ID.encode() + b"\r\n"
        b"WARC-IP-Address: 127.0.0.1\r\n"
        b"WARC-Payload-Digest: " + b32("sha1", body).encode() + b"\r\n"
        b"WARC-Block-Digest: " + b32("sha1", head + body).encode() + b"\r\n"
        b"Content-Type: application/http; msgtype=request\r\n"
        b"Content-Length: " + str(len(head + body)).encode() + b"\r\n"
        b"\r\n" + head + body + b"\r\n\r\n"
    )


def test_sha256_mode() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n"
    request, response = pinned(exchange(head, HTML), digest_algorithm="sha256")
    assert serialize(response) == response_golden(head + HTML, HTML, algorithm="sha256")
    assert request.rec_headers.get_header("WARC-Block-Digest") == b32("sha256", GET_HEAD)


def test_truncated_response_is_recorded_as_is() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
    _, response = pinned(exchange(head, HTML, truncated="length"))
    extra = b"WARC-Truncated: length\r\n"
    assert serialize(response) == response_golden(head + HTML, HTML, extra=extra)


def test_chunked_response_cut_short_is_marked_truncated() -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    stored = b"HTTP/1.1 200 OK\r\nX-Archive-Orig-Transfer-Encoding: chunked\r\n\r\n"
    # The first chunk whole, the second cut after 10 of its bytes.
    cut = b"14\r\n" + HTML[:20] + b"\r\n" + b"%x\r\n" % (len(HTML) - 20) + HTML[20:30]
    _, response = pinned(exchange(head, cut))
    extra = b"WARC-Truncated: unspecified\r\n"
    assert serialize(response) == response_golden(stored + HTML[:30], HTML[:30], extra=extra)
    # A reason given by the capture wins.
    _, response = pinned(exchange(head, cut, truncated="disconnect"))
    assert response.rec_headers.get_header("WARC-Truncated") == "disconnect"


def test_body_that_is_not_chunk_framed_is_stored_as_received() -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    _, response = pinned(exchange(head, HTML))
    assert serialize(response) == response_golden(head + HTML, HTML)


def test_invalid_exchanges_are_refused() -> None:
    with pytest.raises(ValueError, match="head"):
        pinned(exchange(b"HTTP/1.1 200 OK\r\nContent-Type: text/html", HTML))
    with pytest.raises(ValueError):
        pinned(HttpExchange(URL, GET_HEAD, b"", b"HTTP/1.1 200 OK\r\n\r\n", b"", "not-an-ip", DATE))
    with pytest.raises(ValueError, match="naive"):
        pinned(
            HttpExchange(
                URL, GET_HEAD, b"", b"HTTP/1.1 200 OK\r\n\r\n", b"", None, datetime(2026, 1, 1)
            )
        )
    with pytest.raises(ValueError):
        pinned(exchange(b"HTTP/1.1 200 OK\r\n\r\n", b"", uri=URL + "\r\nWARC-Type: evil"))


def test_metadata_record_links_to_the_response() -> None:
    payload = b'{"title": "Story", "body": "Text of the story."}'
    record = build_metadata_record(
        URL, payload, refers_to=RESP_ID, date=DATE, record_id=META_ID, warcinfo_id=INFO_ID
    )
    assert serialize(record) == (
        b"WARC/1.1\r\n"
        b"WARC-Type: metadata\r\n"
        b"WARC-Record-ID: " + META_ID.encode() + b"\r\n"
        b"WARC-Date: 2026-11-25T17:02:59.308400Z\r\n"
        b"WARC-Target-URI: " + URL.encode() + b"\r\n"
        b"WARC-Refers-To: " + RESP_ID.encode() + b"\r\n"
        b"WARC-Concurrent-To: " + RESP_ID.encode() + b"\r\n"
        b"WARC-Warcinfo-ID: " + INFO_ID.encode() + b"\r\n"
        b"WARC-Payload-Digest: " + b32("sha1", payload).encode() + b"\r\n"
        b"WARC-Block-Digest: " + b32("sha1", payload).encode() + b"\r\n"
        b"Content-Type: application/json\r\n"
        b"Content-Length: " + str(len(payload)).encode() + b"\r\n"
        b"\r\n" + payload + b"\r\n\r\n"
    )


REVISIT_ID = "<urn:uuid:00000000-0000-4000-8000-000000000005>"
EARLIER_URL = "https://news.example/world/2026/11/24/story.html"
REVISIT_PROFILE_1_1 = b"http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"


def test_revisit_record_golden_keeps_the_head_and_drops_the_body() -> None:
    head = (
        b"HTTP/1.1 200 OK\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n"
        b"Content-Length: 81\r\n"
        b"Date: Wed, 25 Nov 2026 17:02:59 GMT\r\n"
        b"\r\n"
    )
    record = build_revisit_record(
        exchange(head, HTML),
        refers_to=RESP_ID,
        refers_to_uri=EARLIER_URL,
        refers_to_date="2026-11-24T08:00:00.000001Z",
        record_id=REVISIT_ID,
        warcinfo_id=INFO_ID,
    )
    assert serialize(record) == (
        b"WARC/1.1\r\n"
        b"WARC-Type: revisit\r\n"
        b"WARC-Record-ID: " + REVISIT_ID.encode() + b"\r\n"
        b"WARC-Date: 2026-11-25T17:02:59.308400Z\r\n"
        b"WARC-Target-URI: " + URL.encode() + b"\r\n"
        b"WARC-IP-Address: 127.0.0.1\r\n"
        b"WARC-Warcinfo-ID: " + INFO_ID.encode() + b"\r\n"
        b"WARC-Profile: " + REVISIT_PROFILE_1_1 + b"\r\n"
        b"WARC-Refers-To-Target-URI: " + EARLIER_URL.encode() + b"\r\n"
        b"WARC-Refers-To-Date: 2026-11-24T08:00:00.000001Z\r\n"
        b"WARC-Refers-To: " + RESP_ID.encode() + b"\r\n"
        b"WARC-Payload-Digest: " + b32("sha1", HTML).encode() + b"\r\n"
        b"WARC-Block-Digest: " + b32("sha1", head).encode() + b"\r\n"
        b"Content-Type: application/http; msgtype=response\r\n"
        b"Content-Length: " + str(len(head)).encode() + b"\r\n"
        b"\r\n" + head + b"\r\n\r\n"
    )


def test_revisit_of_a_chunked_response_has_the_payload_digest_of_the_entity() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n"
    ex = exchange(head, chunked(HTML, [10, len(HTML) - 10]))
    _, original = pinned(ex)
    revisit = build_revisit_record(
        ex,
        refers_to=RESP_ID,
        refers_to_uri=URL,
        refers_to_date=warc_date(DATE),
        record_id=REVISIT_ID,
        digest_algorithm="sha256",
    )
    _, original256 = pinned(ex, digest_algorithm="sha256")
    assert revisit.rec_headers.get_header("WARC-Payload-Digest") == b32("sha256", HTML)
    assert revisit.rec_headers.get_header(
        "WARC-Payload-Digest"
    ) == original256.rec_headers.get_header("WARC-Payload-Digest")
    assert original.rec_headers.get_header("WARC-Payload-Digest") == b32("sha1", HTML)
    stored_head = head.replace(b"Transfer-Encoding", b"X-Archive-Orig-Transfer-Encoding")
    assert serialize(revisit).endswith(b"\r\n\r\n" + stored_head + b"\r\n\r\n")
    assert revisit.rec_headers.get_header("WARC-Block-Digest") == b32("sha256", stored_head)


def test_revisit_of_a_cut_response_is_refused() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n"
    with pytest.raises(ValueError, match="truncated"):
        build_revisit_record(
            exchange(head, HTML, truncated="length"),
            refers_to=RESP_ID,
            refers_to_uri=URL,
            refers_to_date=warc_date(DATE),
        )
    cut = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    with pytest.raises(ValueError, match="cut short"):
        build_revisit_record(
            exchange(cut, b"100\r\nonly part"),
            refers_to=RESP_ID,
            refers_to_uri=URL,
            refers_to_date=warc_date(DATE),
        )


def test_revisit_records_read_back_and_pass_warcio_check(tmp_path: Path) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 81\r\n\r\n"
    with RotatingWarcWriter(
        tmp_path, prefix="news", max_size=10**9, warcinfo_fields=FIELDS
    ) as writer:
        request, response = pinned(exchange(head, HTML))
        writer.write([request, response])
        later = exchange(head, HTML, uri=EARLIER_URL)
        revisit = build_revisit_record(
            later, refers_to=RESP_ID, refers_to_uri=URL, refers_to_date=warc_date(DATE)
        )
        writer.write([revisit])
    (path,) = [c.path for c in writer.closed]
    records = read_all(path)
    assert [r.rec_type for r in records] == ["warcinfo", "request", "response", "revisit"]
    assert records[3].http_headers.get_statuscode() == "200"
    assert records[3].content == b""
    result = warcio_check(path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "revisit" in result.stdout


def test_warcinfo_fields_in_order_empty_ones_left_out() -> None:
    fields = {
        "software": "news-archiver/0.1.0 (warcio, Scrapy)",
        "format": "WARC File Format 1.1",
        "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
        "hostname": "crawler-1",
        "operator": "",
        "robots": "obey",
        "http-header-user-agent": "news-archiver/0.1.0 (+https://github.com/news-archiver/news-archiver)",
        "isPartOf": "news-20261125T170259-ab12",
    }
    body = (
        b"software: news-archiver/0.1.0 (warcio, Scrapy)\r\n"
        b"format: WARC File Format 1.1\r\n"
        b"conformsTo: https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/\r\n"
        b"hostname: crawler-1\r\n"
        b"robots: obey\r\n"
        b"http-header-user-agent: news-archiver/0.1.0 (+https://github.com/news-archiver/news-archiver)\r\n"
        b"isPartOf: news-20261125T170259-ab12\r\n"
    )
    name = "news-20261125170259308-00000-crawler-1-42.warc.gz"
    record = build_warcinfo_record(name, fields, date=DATE, record_id=INFO_ID)
    assert serialize(record) == (
        b"WARC/1.1\r\n"
        b"WARC-Type: warcinfo\r\n"
        b"WARC-Record-ID: " + INFO_ID.encode() + b"\r\n"
        b"WARC-Filename: " + name.encode() + b"\r\n"
        b"WARC-Date: 2026-11-25T17:02:59.308400Z\r\n"
        b"WARC-Block-Digest: " + b32("sha1", body).encode() + b"\r\n"
        b"Content-Type: application/warc-fields\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n"
        b"\r\n" + body + b"\r\n\r\n"
    )
    with pytest.raises(ValueError):
        build_warcinfo_record(name, {"description": "two\r\nlines"}, date=DATE)


# --- files --------------------------------------------------------------------------------------

CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"


def noisy_exchange(rng: random.Random, size: int, n: int) -> HttpExchange:
    """An exchange whose body does not compress, so file sizes are predictable."""
    body = rng.randbytes(size)
    return HttpExchange(
        target_uri=f"https://news.example/file/{n}",
        request_head=GET_HEAD.replace(b"/world/2026/11/25/story.html", b"/file/%d" % n),
        request_body=b"",
        response_head=CHUNKED_HEAD,
        response_body=chunked(body, [size // 2, size - size // 2]),
        ip_address="::1",
        date=DATE + timedelta(seconds=n),
    )


@pytest.fixture
def varied_warc(tmp_path: Path) -> Iterator[tuple[ClosedWarc, list[RecordLocation], list[str]]]:
    """One closed sha256 WARC with every kind of record, its locations and record ids."""
    writer = RotatingWarcWriter(
        tmp_path, prefix="news", max_size=10**9, warcinfo_fields=FIELDS, digest_algorithm="sha256"
    )
    compressed = gzip.compress(HTML, mtime=0)
    exchanges = [
        exchange(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n", HTML),
        exchange(CHUNKED_HEAD, chunked(HTML, [3, len(HTML) - 3])),
        exchange(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n", compressed),
        exchange(b"HTTP/1.1 200 OK\r\nContent-Length: 900\r\n\r\n", HTML, truncated="length"),
        exchange(CHUNKED_HEAD, b"28\r\n" + HTML[:40] + b"\r\n" + b"10\r\n" + HTML[40:46]),
    ]
    locations: list[RecordLocation] = []
    ids: list[str] = []
    for ex in exchanges:
        request, response = build_exchange_records(ex, digest_algorithm="sha256")
        meta = build_metadata_record(
            ex.target_uri,
            b'{"ok": true}',
            refers_to=response.rec_headers.get_header("WARC-Record-ID"),
            date=DATE,
            digest_algorithm="sha256",
        )
        batch = [request, response, meta]
        ids += [r.rec_headers.get_header("WARC-Record-ID") for r in batch]
        locations += writer.write(batch)
    closed = writer.close()
    assert closed is not None
    yield closed, locations, ids


def test_records_read_back_with_parsed_http_headers(
    varied_warc: tuple[ClosedWarc, list[RecordLocation], list[str]],
) -> None:
    closed, _, ids = varied_warc
    records = read_all(closed.path)
    assert [r.rec_type for r in records] == ["warcinfo"] + ["request", "response", "metadata"] * 5
    assert [r.rec_headers.get_header("WARC-Record-ID") for r in records[1:]] == ids
    info_id = records[0].rec_headers.get_header("WARC-Record-ID")
    assert all(r.rec_headers.get_header("WARC-Warcinfo-ID") == info_id for r in records[1:])
    responses = [r for r in records if r.rec_type == "response"]
    assert [r.http_headers.get_statuscode() for r in responses] == ["200"] * 5
    # Readers get the entity: de-chunked as stored, gzip undone by warcio's content stream.
    assert [r.content for r in responses] == [HTML, HTML, HTML, HTML, HTML[:46]]
    assert responses[1].http_headers.get_header("X-Archive-Orig-Transfer-Encoding") == "chunked"
    assert responses[1].http_headers.get_header("Transfer-Encoding") is None
    assert [r.rec_headers.get_header("WARC-Truncated") for r in responses] == [
        None,
        None,
        None,
        "length",
        "unspecified",
    ]
    assert closed.records == {"warcinfo": 1, "request": 5, "response": 5, "metadata": 5}


def test_warcio_check_passes(
    varied_warc: tuple[ClosedWarc, list[RecordLocation], list[str]], tmp_path: Path
) -> None:
    closed, _, _ = varied_warc
    sha1_dir = tmp_path / "sha1"
    with RotatingWarcWriter(
        sha1_dir, prefix="news", max_size=10**9, warcinfo_fields=FIELDS
    ) as writer:
        writer.write(list(pinned(exchange(CHUNKED_HEAD, chunked(HTML, [1, len(HTML) - 1])))))
    result = warcio_check(closed.path, writer.closed[0].path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("digest pass") == 1 + 15 + 1 + 2


def test_record_locations_seek_to_single_records(
    varied_warc: tuple[ClosedWarc, list[RecordLocation], list[str]],
) -> None:
    closed, locations, ids = varied_warc
    data = closed.path.read_bytes()
    assert all(loc.filename == closed.name for loc in locations)
    assert locations[-1].offset + locations[-1].length == closed.size
    for loc, record_id in zip(locations, ids, strict=True):
        with open(closed.path, "rb") as fh:
            fh.seek(loc.offset)
            record = next(iter(ArchiveIterator(fh)))
            assert record.rec_headers.get_header("WARC-Record-ID") == record_id
        # Each record is a gzip member of its own, readable without the rest of the file.
        alone = list(ArchiveIterator(BytesIO(data[loc.offset : loc.offset + loc.length])))
        assert [r.rec_headers.get_header("WARC-Record-ID") for r in alone] == [record_id]


def test_closed_warc_describes_the_file(
    varied_warc: tuple[ClosedWarc, list[RecordLocation], list[str]],
) -> None:
    closed, _, _ = varied_warc
    assert closed.path.name == closed.name
    assert closed.size == closed.path.stat().st_size
    assert closed.sha256 == hashlib.sha256(closed.path.read_bytes()).hexdigest()
    assert closed.first_date == DATE
    assert closed.last_date is not None and closed.last_date > DATE
    assert list(closed.path.parent.glob("*.open")) == []


def test_rotation_at_max_size(tmp_path: Path) -> None:
    rng = random.Random(7)
    seen: list[ClosedWarc] = []
    writer = RotatingWarcWriter(
        tmp_path,
        prefix="news",
        max_size=5000,
        warcinfo_fields=FIELDS,
        host="crawler-1",
        on_close=seen.append,
        clock=ticking_clock(),
    )
    calls = []
    for n in range(9):
        request, response = build_exchange_records(noisy_exchange(rng, 2000, n))
        calls.append(writer.write([request, response]))
        open_files = list(tmp_path.glob("*.warc.gz.open"))
        assert len(open_files) <= 1
    last = writer.close()
    assert writer.close() is None
    assert last is not None and seen == writer.closed and seen[-1] == last

    names = [c.name for c in writer.closed]
    assert len(names) == 5  # two ~2.8 kB exchanges plus warcinfo pass 5000 bytes; 9 = 2+2+2+2+1
    assert names == sorted(names)
    assert [int(name.split("-")[2]) for name in names] == [0, 1, 2, 3, 4]
    assert sorted(p.name for p in tmp_path.iterdir()) == names
    for closed in writer.closed[:-1]:
        assert closed.size >= 5000
    for locations in calls:
        assert len({loc.filename for loc in locations}) == 1
    for k, closed in enumerate(writer.closed):
        records = read_all(closed.path)
        assert records[0].rec_type == "warcinfo"
        assert records[0].rec_headers.get_header("WARC-Filename") == closed.name
        # The warcinfo record is dated when its file was opened: one clock tick per file.
        assert records[0].rec_headers.get_header("WARC-Date") == warc_date(
            DATE + timedelta(seconds=k + 1)
        )
        pairs = 2 if k < 4 else 1
        assert [r.rec_type for r in records[1:]] == ["request", "response"] * pairs
        assert closed.records == {"warcinfo": 1, "request": pairs, "response": pairs}
        dates = [datetime.fromisoformat(r.rec_headers.get_header("WARC-Date")) for r in records]
        assert (closed.first_date, closed.last_date) == (min(dates), max(dates))


def test_concurrent_writes_keep_records_whole(tmp_path: Path) -> None:
    writer = RotatingWarcWriter(tmp_path, prefix="news", max_size=20_000, warcinfo_fields=FIELDS)
    results: dict[str, RecordLocation] = {}
    lock = threading.Lock()

    def work(worker: int) -> None:
        rng = random.Random(worker)
        for n in range(20):
            records = build_exchange_records(noisy_exchange(rng, 700, worker * 100 + n))
            locations = writer.write(list(records))
            with lock:
                for record, loc in zip(records, locations, strict=True):
                    results[record.rec_headers.get_header("WARC-Record-ID")] = loc

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    assert len(results) == 160
    by_file: dict[str, dict[int, str]] = {}
    for record_id, loc in results.items():
        by_file.setdefault(loc.filename, {})[loc.offset] = record_id
    for closed in writer.closed:
        with open(closed.path, "rb") as fh:
            iterator = ArchiveIterator(fh)
            found = {
                iterator.get_record_offset(): r.rec_headers.get_header("WARC-Record-ID")
                for r in iterator
                if r.rec_type != "warcinfo"
            }
        assert found == by_file.pop(closed.name)
    assert by_file == {}


def test_failed_write_is_rolled_back(tmp_path: Path) -> None:
    writer = RotatingWarcWriter(tmp_path, prefix="news", max_size=10**9, warcinfo_fields=FIELDS)
    writer.write(list(pinned(exchange(b"HTTP/1.1 200 OK\r\n\r\n", HTML))))
    good = build_metadata_record(URL, b"{}", refers_to=RESP_ID, date=DATE)
    with pytest.raises(OSError, match="went away"):
        writer.write([good, failing_record()])
    writer.write(
        [build_metadata_record(URL, b"{}", refers_to=RESP_ID, date=DATE, record_id=META_ID)]
    )
    closed = writer.close()
    assert closed is not None
    assert closed.records == {"warcinfo": 1, "request": 1, "response": 1, "metadata": 1}
    assert closed.sha256 == hashlib.sha256(closed.path.read_bytes()).hexdigest()
    assert read_all(closed.path)[-1].rec_headers.get_header("WARC-Record-ID") == META_ID
    assert warcio_check(closed.path).returncode == 0


def test_failing_on_close_callback_does_not_fail_the_write(tmp_path: Path) -> None:
    def on_close(closed: ClosedWarc) -> None:
        raise RuntimeError("upload queue is gone")

    writer = RotatingWarcWriter(
        tmp_path, prefix="news", max_size=1, warcinfo_fields=FIELDS, on_close=on_close
    )
    locations = writer.write(list(pinned(exchange(b"HTTP/1.1 200 OK\r\n\r\n", HTML))))
    assert len(locations) == 2 and len(writer.closed) == 1
    assert writer.closed[0].path.exists()


# --- the writer thread ----------------------------------------------------------------------------


def test_writer_thread_drains_on_close(tmp_path: Path) -> None:
    closed: list[ClosedWarc] = []
    writer = RotatingWarcWriter(
        tmp_path, prefix="news", max_size=50_000, warcinfo_fields=FIELDS, on_close=closed.append
    )
    thread = WarcWriterThread(writer, max_queue=4)
    rng = random.Random(3)
    futures = [
        thread.submit(list(build_exchange_records(noisy_exchange(rng, 3000, n)))) for n in range(40)
    ]
    thread.close(timeout=60)
    assert all(f.done() for f in futures)
    locations = [loc for f in futures for loc in f.result()]
    assert len(locations) == 80
    assert {loc.filename for loc in locations} == {c.name for c in closed}
    assert sum(c.records.get("response", 0) for c in closed) == 40
    assert list(tmp_path.glob("*.open")) == []
    with pytest.raises(RuntimeError):
        thread.submit([])


def test_writer_thread_reports_errors_and_keeps_going(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    writer = RotatingWarcWriter(tmp_path, prefix="news", max_size=10**9, warcinfo_fields=FIELDS)
    thread = WarcWriterThread(writer)
    bad = thread.submit([failing_record()])
    good = thread.submit(list(pinned(exchange(b"HTTP/1.1 200 OK\r\n\r\n", HTML))))
    thread.close(timeout=60)
    with pytest.raises(OSError, match="went away"):
        bad.result()
    assert len(good.result()) == 2
    assert "writing 1 WARC records failed" in caplog.text
    assert writer.closed[0].records == {"warcinfo": 1, "request": 1, "response": 1}


# --- recovery ----------------------------------------------------------------------------------


@pytest.fixture
def crashed(tmp_path: Path) -> tuple[bytes, list[RecordLocation], Path]:
    """The bytes of a WARC as a crashed writer left them, with record locations and a place for it."""
    source = tmp_path / "source"
    rng = random.Random(11)
    with RotatingWarcWriter(
        source, prefix="news", max_size=10**9, warcinfo_fields=FIELDS
    ) as writer:
        locations = [
            loc
            for n in range(3)
            for loc in writer.write(list(build_exchange_records(noisy_exchange(rng, 1500, n))))
        ]
    data = writer.closed[0].path.read_bytes()
    spool = tmp_path / "spool"
    spool.mkdir()
    return data, locations, spool / (writer.closed[0].name + ".open")


@pytest.mark.parametrize("where", ["mid-record", "in the gzip trailer", "after the gzip header"])
def test_recover_open_file_cuts_after_the_last_complete_record(
    crashed: tuple[bytes, list[RecordLocation], Path], where: str
) -> None:
    data, locations, open_path = crashed
    last = locations[-1]
    cut = {
        "mid-record": last.offset + last.length // 2,
        "in the gzip trailer": last.offset + last.length - 3,
        "after the gzip header": last.offset + 12,
    }[where]
    open_path.write_bytes(data[:cut])
    recovered = recover_open_file(open_path)
    assert recovered == open_path.with_name(open_path.name.removesuffix(".open"))
    assert not open_path.exists()
    assert recovered.read_bytes() == data[: last.offset]
    assert [r.rec_type for r in read_all(recovered)] == ["warcinfo"] + [
        "request",
        "response",
    ] * 2 + ["request"]
    assert warcio_check(recovered).returncode == 0


def test_recover_open_file_keeps_an_intact_file_and_drops_trailing_garbage(
    crashed: tuple[bytes, list[RecordLocation], Path],
) -> None:
    data, _, open_path = crashed
    open_path.write_bytes(data + b"\x1f\x8b\x08")
    recovered = recover_open_file(open_path)
    assert recovered is not None and recovered.read_bytes() == data


def test_recover_open_file_moves_unusable_files_aside(
    crashed: tuple[bytes, list[RecordLocation], Path],
) -> None:
    data, locations, open_path = crashed
    open_path.write_bytes(data[: locations[0].offset + 40])  # warcinfo and a cut request
    assert recover_open_file(open_path) is None
    corrupt = open_path.with_name(open_path.name.removesuffix(".open") + ".corrupt")
    assert corrupt.read_bytes() == data[: locations[0].offset + 40]
    assert not open_path.exists()

    garbage = open_path.with_name("news-garbage.warc.gz.open")
    garbage.write_bytes(b"this was never a WARC file\n" * 10)
    assert recover_open_file(garbage) is None
    assert garbage.with_name("news-garbage.warc.gz.corrupt").exists()
    with pytest.raises(ValueError):
        recover_open_file(garbage.with_name("news.warc.gz"))


def test_recover_open_file_never_overwrites(
    crashed: tuple[bytes, list[RecordLocation], Path],
) -> None:
    data, _, open_path = crashed
    open_path.write_bytes(data)
    final = open_path.with_name(open_path.name.removesuffix(".open"))
    final.write_bytes(b"already uploaded copy")
    with pytest.raises(FileExistsError):
        recover_open_file(open_path)
    assert open_path.read_bytes() == data and final.read_bytes() == b"already uploaded copy"
