"""Retrieval from a synthetic archive in a local SeaweedFS: get vs. downloading a WARC, find at two sizes.

    .venv/bin/python -m bench.retrieval                  # 20 crawls x 5 WARCs, >= 50,000 records
    .venv/bin/python -m bench.retrieval --crawls 4       # a quick look
    .venv/bin/python -m bench.retrieval --quick          # smoke test: tiny archive, 4 MB large WARC

Builds the archive with archiver.warc.writer (no crawling): each crawl revisits every site's
homepage and sections and adds new articles with metadata records. Each crawl's WARCs, their
CDXJ sidecars and a manifest are stored as a crawl leaves them, and the crawl joins the
archive-wide index as at the end of a crawl (archiver.index.archive, ARCHIVER_INDEX_MAX_RUNS=16).
Prints, in one run: `get` of one URL, cold (empty index cache) and warm (every run's
cluster.idx cached, a different URL each time) and after a `find` of the same URL (its
index block cached too), against downloading its WARC and scanning it (time as median and range, bytes, requests, and the ratios), and `find` latency when the
archive holds 1/10 of the crawls and all of them, against reading every per-WARC index (the
baseline without the archive-wide index).

The archive's WARCs are small (about 2.7 MB) so that it holds many; on loopback moving a
whole 2.7 MB file costs about as much as a request. So the run then adds one WARC of the
size crawls write (--big-warc-mb, default ARCHIVER_WARC_MAX_SIZE: 1 GB), made of the same
pages by the same writer until it rotates, stored, indexed and published as a crawl of its
own, and times `get` of a URL near its end, cold and warm, against streaming the whole WARC
through warcio to that record and against only downloading it. It needs about twice
--big-warc-mb free on disk for a moment (the file, then its copy in SeaweedFS) and
streams it; nothing holds it in memory.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator
from warcio.recordloader import ArcWarcRecord

from archiver.access import closest, find, parse_response, read_capture
from archiver.devserver.s3server import SeaweedServer
from archiver.index import (
    BLOCKS_DIR,
    ArchiveIndex,
    CachedArchiveIndex,
    index_file,
    key_range,
    sidecar_name,
)
from archiver.settings import ARCHIVER_WARC_MAX_SIZE
from archiver.warc import (
    ClosedWarc,
    HttpExchange,
    RotatingWarcWriter,
    build_exchange_records,
    build_metadata_record,
)

REPO = Path(__file__).resolve().parent.parent

SITES = 40
SECTIONS = 4
PREFIX = "bench"
WORDS = ["council", "harbor", "election", "budget", "river", "school", "transit", "weather",
         "market", "court", "police", "festival", "museum", "hospital", "stadium", "bridge",
         "library", "energy", "housing", "climate"]  # fmt: skip


class Pages:
    """Page bodies of realistic size (news pages run to 50-150 KB), from a pool of texts."""

    def __init__(self, rng: random.Random, words: int, pool: int = 24) -> None:
        self.texts = [" ".join(rng.choice(WORDS) for _ in range(words)) for _ in range(pool)]
        self.rng = rng

    def page(self, title: str) -> bytes:
        """An HTML page with its own title around one of the pooled texts."""
        text = self.rng.choice(self.texts)
        return (
            f"<!DOCTYPE html><html><head><title>{title}</title></head><body><h1>{title}</h1>"
            f"<article><p>{text}</p></article></body></html>"
        ).encode()


def exchange(
    crawl: str, w: int, i: int, n: int, when: datetime, pages: Pages
) -> tuple[list[ArcWarcRecord], str | None]:
    """Page n's records (request, response, and a metadata record for an article)."""
    site = f"site{n % SITES:02d}.example"
    slot = i % 10
    if slot < SECTIONS:
        # Homepage and sections: the same URLs captured again by every crawl.
        url = f"https://www.{site}/" + ("" if slot == 0 else f"section{slot}/")
        body = pages.page(f"{site} front")
        article = None
    else:
        url = f"https://www.{site}/news/{crawl}-{w:02d}-{i:04d}.html"
        body = pages.page(f"Story {crawl}-{w}-{i}")
        article = {
            "title": f"Story {crawl}-{w}-{i}",
            "published": f"{when:%Y-%m-%d}",
            "body": "text",
        }
    request, response = build_exchange_records(
        HttpExchange(
            target_uri=url,
            request_head=f"GET / HTTP/1.1\r\nHost: www.{site}\r\n\r\n".encode(),
            request_body=b"",
            response_head=b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n",
            response_body=body,
            ip_address="127.0.0.1",
            date=when,
        )
    )
    if article is None:
        return [request, response], None
    metadata = build_metadata_record(
        url,
        json.dumps(article).encode(),
        refers_to=response.rec_headers.get_header("WARC-Record-ID"),
        date=when,
    )
    return [request, response, metadata], url


def write_crawl(
    directory: Path, crawl: int, start: datetime, warcs: int, per_warc: int, pages: Pages
) -> tuple[list[ClosedWarc], list[str]]:
    """One crawl's WARCs: per_warc exchanges each, an article's metadata record beside it."""
    closed: list[ClosedWarc] = []
    urls: list[str] = []
    when = start
    for w in range(warcs):
        writer = RotatingWarcWriter(
            directory,
            prefix="bench",
            max_size=10**12,
            warcinfo_fields={"software": "bench/retrieval.py", "isPartOf": f"crawl-{crawl}"},
            host="bench",
        )
        for i in range(per_warc):
            when += timedelta(milliseconds=700)
            records, url = exchange(f"{crawl:03d}", w, i, w * per_warc + i, when, pages)
            writer.write(records)
            if url is not None:
                urls.append(url)
        done = writer.close()
        assert done is not None
        closed.append(done)
    return closed, urls


def write_big_warc(
    directory: Path, start: datetime, max_size: int, pages: Pages
) -> tuple[ClosedWarc, list[str]]:
    """One WARC of the crawler's size: pages written until the writer closes it at max_size."""
    writer = RotatingWarcWriter(
        directory,
        prefix="bench",
        max_size=max_size,
        warcinfo_fields={"software": "bench/retrieval.py", "isPartOf": "crawl-big"},
        host="bench",
    )
    urls: list[str] = []
    when = start
    i = 0
    while not writer.closed:
        when += timedelta(milliseconds=700)
        records, url = exchange("big", 0, i, i, when, pages)
        writer.write(records)
        if url is not None:
            urls.append(url)
        i += 1
    return writer.closed[0], urls


def store_crawl(index: ArchiveIndex, date: str, crawl_id: str, warcs: list[ClosedWarc]) -> int:
    """Upload WARCs, sidecars and the manifest as a crawl leaves them; returns record count."""
    files = []
    for warc in warcs:
        captures = index_file(warc.path)
        sidecar = warc.path.with_name(sidecar_name(warc.name))
        sidecar.write_text("".join(c.line for c in captures), encoding="utf-8")
        for local in (warc.path, sidecar):
            index.client.upload_file(
                str(local), index.bucket, index.crawl_key(date, crawl_id, local.name)
            )
        files.append(
            {
                "name": warc.name,
                "size": warc.size,
                "sha256": warc.sha256,
                "records": warc.records,
                "sidecars": [sidecar.name],
            }
        )
        warc.path.unlink()
        sidecar.unlink()
    manifest = {"crawl_id": crawl_id, "start_urls": ["https://www.site00.example/"], "files": files}
    index.put_bytes(
        index.crawl_key(date, crawl_id, "manifest.json"),
        json.dumps(manifest).encode(),
        "application/json",
    )
    return sum(sum(w.records.values()) for w in warcs)


@dataclass
class GetRun:
    """One `get` of a URL: seconds, requests, bytes read, and the payload."""

    seconds: float
    requests: int
    bytes_read: int
    body: bytes


def medians(runs: list[GetRun]) -> tuple[float, float, float]:
    """Median seconds, bytes read and requests of some gets."""
    return (
        statistics.median(r.seconds for r in runs),
        statistics.median(r.bytes_read for r in runs),
        statistics.median(r.requests for r in runs),
    )


class Streamed(io.RawIOBase):
    """A download's body as a raw stream, so io.BufferedReader can read it in large chunks."""

    def __init__(self, body: Any) -> None:
        self.body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk: bytes = self.body.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def get_once(index: ArchiveIndex, url: str) -> GetRun:
    """`archiver get URL --html` as the command does it: lookup, then one Range read."""
    before_req, before_bytes = index.requests, index.bytes_read
    start = time.perf_counter()
    found = closest(find(index, url), None)
    assert found is not None, url
    body = parse_response(read_capture(index, found)).body
    return GetRun(
        time.perf_counter() - start,
        index.requests - before_req,
        index.bytes_read - before_bytes,
        body,
    )


def spread(values: list[float]) -> str:
    """Median and range of a list of seconds, in milliseconds."""
    ms = sorted(v * 1000 for v in values)
    return f"{statistics.median(ms):8.1f} ms (range {ms[0]:.1f}-{ms[-1]:.1f})"


def timed(func: Callable[[], object], repeat: int) -> float:
    """Median seconds of `repeat` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def drop_blocks(index: CachedArchiveIndex) -> None:
    """Forget the cached index blocks (not cluster.idx): the next lookup reads its block."""
    for blocks in index.cache_root.glob(f"*/{BLOCKS_DIR}"):
        shutil.rmtree(blocks)


def find_latency(
    index: ArchiveIndex,
    urls: list[str],
    rng: random.Random,
    lookups: int,
    before: Callable[[], None] | None = None,
) -> tuple[float, int]:
    """Median seconds of an exact `find` of a random article URL, and requests per lookup."""
    sample = rng.sample(urls, lookups)
    times = []
    before_requests = index.requests
    for url in sample:
        if before is not None:
            before()
        start = time.perf_counter()
        found = find(index, url)
        times.append(time.perf_counter() - start)
        assert found, url
    return statistics.median(times), (index.requests - before_requests) // lookups


def scan_sidecars(index: ArchiveIndex, url: str) -> tuple[float, int, int]:
    """The baseline lookup without the archive-wide index: read every per-WARC CDXJ."""
    start = time.perf_counter()
    before_req, before_bytes = index.requests, index.bytes_read
    key = key_range(url).start
    hits = 0
    for sidecar in [k for k in index.list_keys(f"{PREFIX}/") if k.endswith(".cdxj")]:
        for line in index.get(sidecar).decode().splitlines():
            if line.startswith(key):
                hits += 1
    assert hits, url
    return (
        time.perf_counter() - start,
        index.requests - before_req,
        index.bytes_read - before_bytes,
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line; --quick shrinks every size."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--crawls", type=int, default=20, help="crawls (a tenth are measured first)"
    )
    parser.add_argument("--warcs", type=int, default=5, help="WARCs per crawl")
    parser.add_argument("--per-warc", type=int, default=260, help="exchanges per WARC")
    parser.add_argument("--lookups", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=15, help="gets timed cold, warm and by scan")
    parser.add_argument("--words", type=int, default=9000, help="words per page (about 60 KB)")
    parser.add_argument(
        "--big-warc-mb",
        type=int,
        default=ARCHIVER_WARC_MAX_SIZE // 10**6,
        help="size of the one large WARC, in MB (default: ARCHIVER_WARC_MAX_SIZE, as crawls write)",
    )
    parser.add_argument(
        "--big-scans", type=int, default=3, help="downloads (and scans) of the large WARC timed"
    )
    parser.add_argument(
        "--quick", action="store_true", help="a tiny archive and a 4 MB large WARC (smoke test)"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.crawls, args.warcs, args.per_warc, args.words = 2, 2, 20, 2000
        args.lookups, args.repeat, args.big_warc_mb, args.big_scans = 5, 3, 4, 2
    return args


class Archive:
    """The benchmark archive as it is built: its index, URLs and counts, and timings found."""

    def __init__(self, work: Path, index: ArchiveIndex, pages: Pages) -> None:
        self.work, self.index, self.pages = work, index, pages
        self.urls: list[str] = []
        self.records = self.warcs = 0
        self.results: dict[str, tuple[float, int, int, int]] = {}
        self.day0 = datetime(2026, 1, 1, tzinfo=UTC)

    def build(self, args: argparse.Namespace, rng: random.Random) -> float:
        """Write, store and publish every crawl; time find at a tenth and at the end."""
        small = max(1, args.crawls // 10)
        build_start = time.perf_counter()
        for crawl in range(args.crawls):
            start = self.day0 + timedelta(days=crawl)
            date, crawl_id = f"{start:%Y-%m-%d}", f"bench-{start:%Y%m%dT%H%M%SZ}-{crawl:06x}"
            paths, new_urls = write_crawl(
                self.work, crawl, start, args.warcs, args.per_warc, self.pages
            )
            self.records += store_crawl(self.index, date, crawl_id, paths)
            self.warcs += len(paths)
            self.urls.extend(new_urls)
            self.index.publish_crawl(date, crawl_id)
            self.index.compact(16)
            if crawl + 1 in (small, args.crawls):
                name = "small" if crawl + 1 == small else "full"
                latency, per_lookup = find_latency(self.index, self.urls, rng, args.lookups)
                scan = scan_sidecars(self.index, self.urls[len(self.urls) // 2])
                self.results[name] = (latency, per_lookup, self.records, self.warcs)
                self.results[name + "-scan"] = (*scan, self.warcs)
        return time.perf_counter() - build_start


def scanner(client: Any, bucket: str, key: str, target: str, stream: bool) -> Callable[[], bytes]:
    """Find target's payload by reading its whole WARC from storage (downloaded or streamed)."""

    def scan() -> bytes:
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
        try:
            source: Any = (
                io.BufferedReader(Streamed(body), 8 << 20) if stream else io.BytesIO(body.read())
            )
            for record in ArchiveIterator(source):
                if (
                    record.rec_type == "response"
                    and record.rec_headers.get_header("WARC-Target-URI") == target
                ):
                    return bytes(record.content_stream().read())
        finally:
            body.close()
        raise AssertionError(target)

    return scan


def measure_gets(archive: Archive, args: argparse.Namespace, rng: random.Random) -> dict[str, Any]:
    """get of one URL cold, warm, after a find and without the cache, against a WARC scan."""
    index, work, urls = archive.index, archive.work, archive.urls
    bucket, client = index.bucket, index.client
    # get one URL: index lookup + one Range request, against its whole WARC.
    target = urls[len(urls) // 2]
    capture = closest(find(index, target), None)
    assert capture is not None
    key = f"{PREFIX}/{capture.filename}"
    scan_warc = scanner(client, bucket, key, target, stream=False)
    body = scan_warc()
    m: dict[str, Any] = {"warc_bytes": client.head_object(Bucket=bucket, Key=key)["ContentLength"]}
    # Cold: every get starts with an empty cache directory (a first lookup on a new
    # machine); warm: the cache holds every run's cluster.idx and each get asks for
    # another URL, so no index block is reused from an earlier get.
    m["cold"] = [
        get_once(CachedArchiveIndex(client, bucket, PREFIX, work / f"cold-{i}"), target)
        for i in range(args.repeat)
    ]
    assert all(c.body == body for c in m["cold"])
    warm_index = CachedArchiveIndex(client, bucket, PREFIX, work / "warm")
    get_once(warm_index, urls[0])
    m["warm"] = []
    for url in rng.sample(urls, args.repeat):
        drop_blocks(warm_index)
        m["warm"].append(get_once(warm_index, url))
    # A researcher's find, then get of what it found: the URL's index block is cached.
    m["after_find"] = []
    for url in rng.sample(urls, args.repeat):
        find(warm_index, url)
        m["after_find"].append(get_once(warm_index, url))
    assert get_once(warm_index, target).body == body
    # The lookup as it was before the cache: plain ArchiveIndex, runs read one by one.
    m["uncached"] = [get_once(index, url) for url in rng.sample(urls, args.repeat)]
    m["scans"] = [timed(scan_warc, 1) for _ in range(args.repeat)]
    m["warm_find"], m["warm_find_req"] = find_latency(
        warm_index, urls, rng, args.lookups, before=lambda: drop_blocks(warm_index)
    )
    m["runs"] = len(index.runs())
    m["warm_index"] = warm_index
    return m


def measure_big(
    archive: Archive, args: argparse.Namespace, rng: random.Random, warm_index: CachedArchiveIndex
) -> dict[str, Any]:
    """One WARC of the size crawls write, stored as a crawl of its own: get against download."""
    index, work = archive.index, archive.work
    bucket, client = index.bucket, index.client
    big_start = time.perf_counter()
    when = archive.day0 + timedelta(days=args.crawls)
    date, crawl_id = f"{when:%Y-%m-%d}", f"bench-{when:%Y%m%dT%H%M%SZ}-big"
    big, big_urls = write_big_warc(work, when, args.big_warc_mb * 10**6, archive.pages)
    store_crawl(index, date, crawl_id, [big])
    index.publish_crawl(date, crawl_id)
    index.compact(16)
    m: dict[str, Any] = {"big": big, "big_urls": big_urls}
    m["big_build"] = time.perf_counter() - big_start
    big_target = big_urls[-1]
    m["big_capture"] = closest(find(index, big_target), None)
    assert m["big_capture"] is not None and m["big_capture"].filename.endswith(big.name)
    big_key = f"{PREFIX}/{m['big_capture'].filename}"
    # Stream the WARC from storage through warcio until the record: no file, no RAM.
    scan_big = scanner(client, bucket, big_key, big_target, stream=True)

    def download_big() -> int:
        """Only move the bytes: the least any whole-file approach pays."""
        stream = client.get_object(Bucket=bucket, Key=big_key)["Body"]
        moved = 0
        while chunk := stream.read(8 << 20):
            moved += len(chunk)
        return moved

    big_body = scan_big()
    assert download_big() == big.size
    m["big_cold"] = [
        get_once(CachedArchiveIndex(client, bucket, PREFIX, work / f"big-cold-{i}"), big_target)
        for i in range(args.repeat)
    ]
    assert all(c.body == big_body for c in m["big_cold"])
    # Warm: cluster.idx of every run cached (the big crawl's run too), blocks not; each
    # get asks for another article from the last tenth of the large WARC.
    get_once(warm_index, big_urls[0])
    tail = big_urls[-max(args.repeat, len(big_urls) // 10) :]
    m["big_warm"] = []
    for url in rng.sample(tail, args.repeat):
        drop_blocks(warm_index)
        m["big_warm"].append(get_once(warm_index, url))
    m["big_scans"] = [timed(scan_big, 1) for _ in range(args.big_scans)]
    m["big_downloads"] = [timed(download_big, 1) for _ in range(args.big_scans)]
    return m


def report_archive(
    archive: Archive, args: argparse.Namespace, build_seconds: float, m: dict[str, Any]
) -> None:
    """The archive, get and find figures and their ratios."""
    results, urls = archive.results, archive.urls
    cold, warm, after_find, uncached = m["cold"], m["warm"], m["after_find"], m["uncached"]
    scans, warc_bytes, runs = m["scans"], m["warc_bytes"], m["runs"]
    warm_find, warm_find_req = m["warm_find"], m["warm_find_req"]
    small_lat, small_req, small_records, small_warcs = results["small"]
    full_lat, full_req, full_records, full_warcs = results["full"]
    small_scan = results["small-scan"]
    full_scan = results["full-scan"]
    print(f"archive          {full_warcs} WARCs, {full_records} records, {len(urls)} articles, "
          f"{args.crawls} crawls, {runs} index run(s); built in {build_seconds:.0f} s")  # fmt: skip
    cold_s, cold_bytes, cold_req = medians(cold)
    warm_s, warm_bytes, warm_req = medians(warm)
    after_s, after_bytes, after_req = medians(after_find)
    uncached_s, uncached_bytes, uncached_req = medians(uncached)
    scan_s = statistics.median(scans)
    print(f"get cold         {spread([c.seconds for c in cold])}  {cold_bytes:>10.0f} bytes  {cold_req:.0f} requests (list runs, each run's cluster.idx and block(s), 1 record Range)")  # fmt: skip
    print(f"get warm         {spread([w.seconds for w in warm])}  {warm_bytes:>10.0f} bytes  {warm_req:.0f} requests (list runs, block(s), 1 record Range; cluster.idx cached, blocks not)")  # fmt: skip
    print(f"get after find   {spread([a.seconds for a in after_find])}  {after_bytes:>10.0f} bytes  {after_req:.0f} requests (list runs, 1 record Range; its index block cached by the find)")  # fmt: skip
    print(f"get uncached     {spread([u.seconds for u in uncached])}  {uncached_bytes:>10.0f} bytes  {uncached_req:.0f} requests (before the cache: runs one after another)")  # fmt: skip
    print(f"download+scan    {spread(scans)}  {warc_bytes:>10} bytes  1 request (its whole WARC)")  # fmt: skip
    print(f"ratio get cold   {scan_s / cold_s:8.2f}  (download+scan time / get time; {warc_bytes / cold_bytes:.0f}x fewer bytes)")  # fmt: skip
    print(f"ratio get warm   {scan_s / warm_s:8.2f}  (download+scan time / get time; {warc_bytes / warm_bytes:.0f}x fewer bytes)")  # fmt: skip
    print(f"ratio get after find {scan_s / after_s:4.2f}  (download+scan time / get time; {warc_bytes / after_bytes:.0f}x fewer bytes)")  # fmt: skip
    print(f"ratio warm/cold  {warm_s / cold_s:8.2f}  (warm get time / cold get time; {warm_req:.0f} against {cold_req:.0f} requests)")  # fmt: skip
    print(f"ratio warm/uncached {warm_s / uncached_s:5.2f}  (warm get time / get time without the cache; {warm_req:.0f} against {uncached_req:.0f} requests)")  # fmt: skip
    print(f"find warm        {warm_find * 1000:8.1f} ms  ({full_warcs} WARCs, {warm_find_req} requests/lookup, cluster.idx cached, blocks not)")  # fmt: skip
    print(f"find small       {small_lat * 1000:8.1f} ms  ({small_warcs} WARCs, {small_records} records, {small_req} requests/lookup)")  # fmt: skip
    print(f"find full        {full_lat * 1000:8.1f} ms  ({full_warcs} WARCs, {full_records} records, {full_req} requests/lookup)")  # fmt: skip
    print(f"ratio find       {full_lat / small_lat:8.2f}  (full / small, for {full_records / small_records:.1f}x the records)")  # fmt: skip
    print(f"sidecar scan     {small_scan[0] * 1000:8.1f} ms small ({small_scan[1]} requests, {small_scan[2]} bytes), "
          f"{full_scan[0] * 1000:.1f} ms full ({full_scan[1]} requests, {full_scan[2]} bytes)")  # fmt: skip
    print(f"ratio find/scan  {full_scan[0] / full_lat:8.1f}x faster than reading every per-WARC index (full archive)")  # fmt: skip


def report_big(m: dict[str, Any]) -> None:
    """The large WARC's figures: get against streaming and downloading the whole file."""
    big, big_urls, big_capture, big_build = (
        m["big"],
        m["big_urls"],
        m["big_capture"],
        m["big_build"],
    )
    big_cold, big_warm = m["big_cold"], m["big_warm"]
    big_scans, big_downloads = m["big_scans"], m["big_downloads"]
    big_records = sum(big.records.values())
    print(f"large WARC       {big.size / 1e6:.0f} MB, {big_records} records, {len(big_urls)} articles; target at offset {big_capture.offset} ({big_capture.offset / big.size:.0%} in); "
          f"written, indexed, stored and published in {big_build:.0f} s")  # fmt: skip
    big_cold_s, big_cold_bytes, big_cold_req = medians(big_cold)
    big_warm_s, big_warm_bytes, big_warm_req = medians(big_warm)
    big_scan_s = statistics.median(big_scans)
    big_download_s = statistics.median(big_downloads)
    print(f"large get cold   {spread([c.seconds for c in big_cold])}  {big_cold_bytes:>10.0f} bytes  {big_cold_req:.0f} requests (list runs, each run's cluster.idx and block(s), 1 record Range)")  # fmt: skip
    print(f"large get warm   {spread([w.seconds for w in big_warm])}  {big_warm_bytes:>10.0f} bytes  {big_warm_req:.0f} requests (list runs, block(s), 1 record Range; cluster.idx cached, blocks not)")  # fmt: skip
    print(f"large download+scan {spread(big_scans)}  {big.size:>10} bytes  1 request (its whole WARC streamed through warcio to the record)")  # fmt: skip
    print(f"large download   {spread(big_downloads)}  {big.size:>10} bytes  1 request (its whole WARC, bytes only, not parsed)")  # fmt: skip
    print(f"ratio large get cold {big_scan_s / big_cold_s:6.1f}  (download+scan time / get time; {big.size / big_cold_bytes:.0f}x fewer bytes)")  # fmt: skip
    print(f"ratio large get warm {big_scan_s / big_warm_s:6.1f}  (download+scan time / get time; {big.size / big_warm_bytes:.0f}x fewer bytes)")  # fmt: skip
    print(f"ratio large download/get warm {big_download_s / big_warm_s:6.1f}  (download-only time / warm get time)")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Build the archive, measure, print the figures and ratios."""
    args = parse_args(argv)
    rng = random.Random(20261125)
    pages = Pages(rng, args.words)
    with tempfile.TemporaryDirectory(prefix="bench-retrieval-") as tmp:
        work = Path(tmp)
        server = SeaweedServer(
            work / "s3",
            access_key="BENCH" + secrets.token_hex(6).upper(),
            secret_key=secrets.token_urlsafe(24),
        )
        server.start()
        try:
            bucket = "bench-retrieval"
            server.create_bucket(bucket)
            archive = Archive(
                work, ArchiveIndex(server.client(read_timeout=120), bucket, PREFIX), pages
            )
            build_seconds = archive.build(args, rng)
            gets = measure_gets(archive, args, rng)
            big = measure_big(archive, args, rng, gets["warm_index"])
        finally:
            server.stop()
    report_archive(archive, args, build_seconds, gets)
    report_big(big)
    return 0


if __name__ == "__main__":
    sys.exit(main())
