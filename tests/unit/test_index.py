"""CDXJ lines, per-WARC indexes (checked against cdxj-indexer), sorted runs and ZipNum."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from archiver.index import (
    CLUSTER_FILE,
    Capture,
    ClusterIndex,
    KeyRange,
    cdxj_line,
    crawl_lines,
    index_file,
    iter_crawl_lines,
    iter_index_lines,
    key_range,
    merge_ranges,
    runs_to_merge,
    search_zipnum,
    surt_key,
    timestamp14,
    timestamp_bound,
    write_sidecar,
    write_zipnum,
)
from archiver.warc import (
    ClosedWarc,
    RotatingWarcWriter,
    build_exchange_records,
    build_metadata_record,
)
from tests.support.index_warcs import T0, page_exchange, write_warc

# --- pure functions ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("http://www.Example.com/a/b?x=1&a=2", "com,example)/a/b?a=2&x=1"),
        ("https://example.com/", "com,example)/"),
        ("http://example.com", "com,example)/"),
        ("http://news.example.co.uk:8080/x#frag", "uk,co,example,news:8080)/x"),
        ("http://127.0.0.1:8000/a/x.html", "1,0,0,127:8000)/a/x.html"),
    ],
)
def test_surt_keys(url: str, key: str) -> None:
    assert surt_key(url) == key


def test_timestamps_and_bounds() -> None:
    assert timestamp14("2026-03-01T12:00:00.123456Z") == "20260301120000"
    assert timestamp14("2026-03-01T12:00:00Z") == "20260301120000"
    with pytest.raises(ValueError):
        timestamp14("2026-03-01")
    assert timestamp_bound("2024-05", upper=False) == "20240501000000"
    assert timestamp_bound("2024", upper=False) == "20240101000000"
    assert timestamp_bound("2024-05-17", upper=True) == "20240517999999"
    assert timestamp_bound("2024-05-17T08:30:00Z", upper=False) == "20240517083000"
    with pytest.raises(ValueError):
        timestamp_bound("yesterday", upper=False)


def test_cdxj_line_round_trips_and_refuses_keys_with_spaces() -> None:
    line = cdxj_line(
        "com,example)/", "20260301120000", {"url": "http://example.com/", "title": "Ünï"}
    )
    assert line == (
        'com,example)/ 20260301120000 {"url": "http://example.com/", "title": "\\u00dcn\\u00ef"}\n'
    )
    parsed = Capture.parse(line)
    assert parsed.fields["title"] == "Ünï" and parsed.line == line
    with pytest.raises(ValueError):
        cdxj_line("com,example)/a b", "20260301120000", {})
    with pytest.raises(ValueError):
        Capture.parse("not a cdxj line")


def _lines(*keys: str) -> list[str]:
    return sorted(cdxj_line(k, "20260301120000", {"url": k}) for k in keys)


@pytest.mark.parametrize(
    ("url", "match", "wanted"),
    [
        ("http://example.com/a", "exact", ["com,example)/a"]),
        (
            "http://example.com/a",
            "prefix",
            ["com,example)/a", "com,example)/a/b", "com,example)/ab"],
        ),
        (
            "example.com",
            "host",
            [
                "com,example)/",
                "com,example)/a",
                "com,example)/a/b",
                "com,example)/ab",
                "com,example:8080)/p",
            ],
        ),
        ("http://example.com:8080/", "host", ["com,example:8080)/p"]),
        (
            "example.com",
            "domain",
            [
                "com,example)/",
                "com,example)/a",
                "com,example)/a/b",
                "com,example)/ab",
                "com,example,news)/x",
                "com,example:8080)/p",
            ],
        ),
    ],
)
def test_key_ranges_select_exactly_the_matching_keys(
    url: str, match: str, wanted: list[str]
) -> None:
    keys = [
        "com,example)/",
        "com,example)/a",
        "com,example)/a/b",
        "com,example)/ab",
        "com,example,news)/x",
        "com,example:8080)/p",
        "com,example-other)/",
        "com,examples)/",
        "com,exampl)/",
    ]
    rng = key_range(url, match)
    got = [c.key for c in map(Capture.parse, _lines(*keys)) if rng.matches(c)]
    assert sorted(got) == sorted(wanted)


# --- per-WARC index ----------------------------------------------------------------------


def test_per_warc_index_agrees_with_cdxj_indexer(tmp_path: Path) -> None:
    path = write_warc(tmp_path, 5)
    ours = index_file(path)
    indexer = Path(sys.executable).with_name("cdxj-indexer")
    proc = subprocess.run([str(indexer), str(path)], capture_output=True, text=True, check=True)
    theirs = [Capture.parse(line) for line in proc.stdout.splitlines() if line.strip()]
    assert len(ours) == len(theirs) == 5 + 3
    mine_by_offset = {c.offset: c for c in ours}
    for capture in theirs:
        mine = mine_by_offset[capture.offset]
        assert (mine.key, mine.timestamp) == (capture.key, capture.timestamp)
        for name, value in capture.fields.items():
            assert mine.fields[name] == value, name
    assert [c.line for c in ours] == sorted(c.line for c in ours)


def test_per_warc_index_links_articles_requests_and_records(tmp_path: Path) -> None:
    path = write_warc(tmp_path, 3)
    captures = [c for c in index_file(path) if c.is_capture]
    metadata = {c.offset: c for c in index_file(path) if not c.is_capture}
    data = path.read_bytes()
    for capture in captures:
        page = int(capture.url.rsplit("/", 1)[1].split(".")[0])
        assert capture.fields["status"] == "200" and capture.fields["mime"] == "text/html"
        # The request sits right before its response: one range covers both.
        req = capture.number("req_offset")
        assert req is not None and req < capture.offset
        assert gzip.decompress(data[req : capture.offset]).startswith(
            b"WARC/1.1\r\nWARC-Type: request"
        )
        member = gzip.decompress(data[capture.offset : capture.offset + capture.length])
        assert capture.fields["record_id"].encode() in member
        if page % 2 == 0:
            assert capture.fields["title"] == f"Title {page}"
            assert capture.fields["published"] == "2026-02-28"
            meta = metadata[capture.number("meta_offset") or -1]
            assert meta.fields["refers_to"] == capture.fields["record_id"]
            assert meta.length == capture.number("meta_length")
        else:
            assert "title" not in capture.fields and "meta_offset" not in capture.fields


def write_late_metadata_warc(directory: Path, pages: int) -> ClosedWarc:
    """Every exchange first, then the metadata of each even page, newest first, as a slow
    cleaner would leave them; page 0 is described twice (the later record wins its title)."""
    writer = RotatingWarcWriter(
        directory, prefix="late", max_size=10**9, warcinfo_fields={"software": "test"}, host="h"
    )
    responses: list[tuple[str, str, datetime]] = []
    for i in range(pages):
        when = T0 + timedelta(minutes=i)
        url = f"http://example.com/news/{i}.html"
        request, response = build_exchange_records(
            page_exchange(url, f"<html><title>Page {i}</title><p>{i}</p></html>".encode(), when)
        )
        writer.write([request, response])
        responses.append((url, str(response.rec_headers.get_header("WARC-Record-ID")), when))
    described = [(i, f"Title {i}") for i in range(pages - 1, -1, -1) if i % 2 == 0]
    for i, title in [*described, (0, "Title 0, cleaned again")]:
        url, record_id, when = responses[i]
        doc = {"title": title, "published": "2026-02-28", "body": f"Body {i}"}
        writer.write(
            [build_metadata_record(url, json.dumps(doc).encode(), refers_to=record_id, date=when)]
        )
    closed = writer.close()
    assert closed is not None
    return closed


def test_sidecar_sorted_in_spilled_runs_equals_the_in_memory_index(tmp_path: Path) -> None:
    closed = write_late_metadata_warc(tmp_path, 41)
    # 41 responses and 22 metadata records: 63 lines, nine runs of 7 on disk.
    in_memory = "".join(c.line for c in index_file(closed.path))
    assert in_memory.count("\n") == 63
    workdir = tmp_path / "work"
    workdir.mkdir()
    with open(closed.path, "rb") as fh:
        lines = iter_index_lines(fh, closed.name, workdir, run_lines=7)
        first = next(lines)
        # The whole file was read into sorted runs and the join before the first line.
        assert len(list(workdir.glob("run-*.cdxj"))) == 9
        assert (workdir / "join.sqlite3").is_file()
        spilled = first + "".join(lines)
    assert spilled == in_memory
    sidecar = write_sidecar(closed, run_lines=7)
    assert sidecar.read_text(encoding="utf-8") == in_memory
    # The runs went to a temporary directory beside the WARC, now gone.
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["work", closed.name, sidecar.name])
    captures = [Capture.parse(line) for line in in_memory.splitlines()]
    assert [c.line for c in captures] == sorted(c.line for c in captures)
    metadata = {c.offset: c for c in captures if not c.is_capture}
    for capture in (c for c in captures if c.is_capture):
        page = int(capture.url.rsplit("/", 1)[1].split(".")[0])
        if page % 2:
            assert "meta_offset" not in capture.fields
            continue
        meta = metadata[capture.number("meta_offset") or -1]
        assert meta.fields["refers_to"] == capture.fields["record_id"]
        expected = "Title 0, cleaned again" if page == 0 else f"Title {page}"
        assert capture.fields["title"] == meta.fields["title"] == expected


def test_sidecar_of_a_file_without_metadata_spilled_in_runs(tmp_path: Path) -> None:
    # All at one second, URLs sharing keys: the order is decided inside the JSON.
    writer = RotatingWarcWriter(
        tmp_path, prefix="p", max_size=10**9, warcinfo_fields={"software": "test"}, host="h"
    )
    for i in range(30):
        url = f"http://example.org/{i % 7}/{i}"
        writer.write(list(build_exchange_records(page_exchange(url, b"x" * i, T0))))
    closed = writer.close()
    assert closed is not None
    in_memory = "".join(c.line for c in index_file(closed.path))
    assert write_sidecar(closed, run_lines=4).read_text(encoding="utf-8") == in_memory
    assert in_memory.count("\n") == 30


def test_crawl_lines_join_metadata_across_files_and_drop_it() -> None:
    response = Capture(
        "com,example)/a",
        "20260301120000",
        {
            "url": "http://example.com/a",
            "offset": "10",
            "length": "5",
            "filename": "x.warc.gz",
            "record_id": "<urn:uuid:1>",
        },
    )
    meta = Capture(
        "com,example)/a",
        "20260301120001",
        {
            "url": "http://example.com/a",
            "offset": "0",
            "length": "7",
            "filename": "y.warc.gz",
            "record_id": "<urn:uuid:2>",
            "type": "metadata",
            "refers_to": "<urn:uuid:1>",
            "title": "A",
        },
    )
    lines = crawl_lines(
        [("2026-03-01/c1/x.warc.gz", [response.line]), ("2026-03-01/c1/y.warc.gz", [meta.line])]
    )
    assert len(lines) == 1
    (joined,) = lines
    assert joined.filename == "2026-03-01/c1/x.warc.gz"
    assert joined.fields["title"] == "A"
    assert joined.fields["meta_filename"] == "2026-03-01/c1/y.warc.gz"
    assert (joined.number("meta_offset"), joined.number("meta_length")) == (0, 7)


def test_crawl_lines_spilled_in_runs_equal_the_in_memory_join(tmp_path: Path) -> None:
    # Small files, metadata written six pages after its response: many joins cross files.
    writer = RotatingWarcWriter(
        tmp_path, prefix="x", max_size=3000, warcinfo_fields={"software": "test"}, host="h"
    )
    responses: list[tuple[str, str]] = []
    for i in range(60):
        url = f"http://example.com/{i % 9}/{i}"
        request, response = build_exchange_records(
            page_exchange(url, f"<p>{i}</p>".encode() * 50, T0 + timedelta(seconds=i // 3))
        )
        writer.write([request, response])
        responses.append((url, str(response.rec_headers.get_header("WARC-Record-ID"))))
        if i % 3 == 0 and i >= 6:
            url, record_id = responses[i - 6]
            doc = json.dumps({"title": f"Title {i - 6}"}).encode()
            writer.write([build_metadata_record(url, doc, refers_to=record_id, date=T0)])
    assert writer.close() is not None
    files = sorted(tmp_path.glob("*.warc.gz"))
    assert len(files) > 10
    sidecars = [(f"2026-03-01/c1/{p.name}", [c.line for c in index_file(p)]) for p in files]
    in_memory = "".join(c.line for c in crawl_lines(sidecars))
    workdir = tmp_path / "work"
    workdir.mkdir()
    lines = iter_crawl_lines(sidecars, workdir, run_lines=4)
    first = next(lines)
    assert len(list(workdir.glob("run-*.cdxj"))) == 15 and (workdir / "join.sqlite3").is_file()
    assert first + "".join(lines) == in_memory
    captures = [Capture.parse(line) for line in in_memory.splitlines()]
    assert len(captures) == 60 and [c.line for c in captures] == sorted(c.line for c in captures)
    across = [c for c in captures if "meta_filename" in c.fields]
    assert across, "no metadata was joined across files"
    for capture in (c for c in captures if "title" in c.fields):
        page = int(capture.url.rsplit("/", 1)[1])
        assert capture.fields["title"] == f"Title {page}"
        where = capture.fields.get("meta_filename", capture.filename)
        data = (tmp_path / Path(where).name).read_bytes()
        offset, length = capture.number("meta_offset") or 0, capture.number("meta_length") or 0
        member = gzip.decompress(data[offset : offset + length])
        assert capture.fields["record_id"].encode() in member
    assert sum("title" in c.fields for c in captures) == 18


# --- ZipNum ----------------------------------------------------------------------------


def test_zipnum_blocks_parts_and_lookups_read_only_needed_blocks(tmp_path: Path) -> None:
    keys = [f"com,example)/p{i:05d}" for i in range(2500)]
    lines = _lines(*keys)
    written = write_zipnum(lines, tmp_path, block_lines=100, part_lines=1000)
    assert written.lines == 2500 and written.blocks == 25
    assert [p.name for p in written.parts] == [
        "part-00000.cdxj.gz",
        "part-00001.cdxj.gz",
        "part-00002.cdxj.gz",
    ]
    # Every part is a plain multi-member gzip file of the lines, readable with zcat.
    text = "".join(
        gzip.decompress((tmp_path / p.name).read_bytes()).decode() for p in written.parts
    )
    assert text == "".join(lines)
    cluster = ClusterIndex.parse((tmp_path / CLUSTER_FILE).read_text())
    assert len(cluster.entries) == 25
    reads: list[tuple[str, int, int]] = []

    def read(span: object) -> bytes:
        part, offset, length = span.part, span.offset, span.length  # type: ignore[attr-defined]
        reads.append((part, offset, length))
        with open(tmp_path / part, "rb") as fh:
            fh.seek(offset)
            return fh.read(length)

    found = list(search_zipnum(cluster, key_range("http://example.com/p01234"), read))
    assert [c.key for c in found] == ["com,example)/p01234"]
    assert len(reads) == 1 and reads[0][2] < 2000
    found = list(search_zipnum(cluster, key_range("http://example.com/p012", "prefix"), read))
    assert [c.key for c in found] == [f"com,example)/p{i:05d}" for i in range(1200, 1300)]
    assert list(search_zipnum(cluster, key_range("http://other.com/", "host"), read)) == []


def test_zipnum_refuses_unsorted_lines_and_drops_duplicates(tmp_path: Path) -> None:
    lines = _lines("com,a)/", "com,b)/")
    with pytest.raises(ValueError, match="sorted"):
        write_zipnum(list(reversed(lines)), tmp_path / "bad")
    written = write_zipnum([lines[0], lines[0], lines[1]], tmp_path / "dup")
    assert written.lines == 2


@pytest.mark.parametrize(
    ("sizes", "max_runs", "merged"),
    [
        ([], 16, []),
        ([5], 16, []),
        ([5, 5], 16, [0, 1]),
        ([10, 5], 16, []),
        ([10, 5, 5], 16, [1, 2, 0]),
        ([40, 20, 10, 5], 16, []),
        ([40, 20, 10, 5, 5], 16, [3, 4, 2, 1, 0]),
        ([100, 1, 1000], 16, []),
        ([100, 50, 20, 9], 2, [3, 2, 1]),
    ],
)
def test_runs_merge_like_a_binary_counter(
    sizes: list[int], max_runs: int, merged: list[int]
) -> None:
    assert runs_to_merge(sizes, max_runs) == merged


def test_equal_crawls_leave_about_log2_runs() -> None:
    runs: list[int] = []
    for _ in range(1000):
        runs.append(1)
        chosen = runs_to_merge(runs, 16)
        if chosen:
            runs = [s for i, s in enumerate(runs) if i not in chosen] + [
                sum(runs[i] for i in chosen)
            ]
    assert sorted(runs, reverse=True) == [512, 256, 128, 64, 32, 8]  # 1000 in binary


def test_adjacent_blocks_merge_into_one_range() -> None:
    from archiver.index import IdxEntry

    entries = [
        IdxEntry("a 1", "p0", 0, 10, 0),
        IdxEntry("b 1", "p0", 10, 5, 1),
        IdxEntry("c 1", "p1", 0, 7, 2),
    ]
    spans = merge_ranges(entries)
    assert [(s.part, s.offset, s.length) for s in spans] == [("p0", 0, 15), ("p1", 0, 7)]
    assert ClusterIndex(entries).blocks(KeyRange("b 0", "b 2")) == entries[:2]
