"""WARC writing: MB/s of our writer against warcio writing the same records directly.

    .venv/bin/python -m bench.warc_write              # 2,000 exchanges (about 210 MB of HTTP)
    .venv/bin/python -m bench.warc_write --quick      # 150 exchanges, a smoke run

Every run turns the same exchanges (the news pages of ../shared/datasets/
article-extraction-benchmark of 50-200 KB, cycled, each behind a typical response head) into
request and response records and writes them as gzip WARC to a file in var/bench:

- warcio: `RecordBuilder.create_warc_record` (warcio reads the HTTP head from the block and
  computes the digests itself) and `WARCWriter(gzip=True).write_record`, the plain library
  use, at warcio's fixed gzip level 9;
- ours: `build_exchange_records` and `RotatingWarcWriter.write`, in the calling thread, at
  our gzip level (archiver.warc.writer.GZIP_LEVEL) and, for comparison, at warcio's level 9;
- ours threaded: the same records submitted to `WarcWriterThread`, which compresses and
  writes them on its own thread while the caller builds the next ones (what a crawl does).

MB/s counts the HTTP bytes written (request and response heads and bodies), so all runs
are measured against the same amount of work.  Each run is repeated and the best kept.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

from archiver.warc import (
    GZIP_LEVEL,
    HttpExchange,
    RotatingWarcWriter,
    WarcWriterThread,
    build_exchange_records,
)
from bench._common import DATA, MB, figure, load_pages, ratio_line, workdir

REQUEST_HEAD = (
    b"GET /2026/11/20/story-%06d.html HTTP/1.1\r\n"
    b"Host: news.example\r\n"
    b"User-Agent: news-archiver/0.1.0 (+https://github.com/news-archiver/news-archiver)\r\n"
    b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    b"Accept-Language: en\r\n"
    b"Accept-Encoding: gzip, deflate, br, zstd\r\n\r\n"
)
RESPONSE_HEAD = (
    b"HTTP/1.1 200 OK\r\n"
    b"Date: Fri, 20 Nov 2026 08:00:00 GMT\r\n"
    b"Server: nginx\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"Content-Length: %d\r\n"
    b"Cache-Control: max-age=60\r\n"
    b"Vary: Accept-Encoding\r\n\r\n"
)
FIELDS = {"software": "bench/warc_write.py", "format": "WARC File Format 1.1"}


def exchanges(count: int, data: Path) -> list[HttpExchange]:
    """`count` exchanges over the dataset's news pages, cycled."""
    pages = load_pages(data)
    when = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    out = []
    for i in range(count):
        body = pages[i % len(pages)].html
        out.append(
            HttpExchange(
                target_uri=f"https://news.example/2026/11/20/story-{i:06d}.html",
                request_head=REQUEST_HEAD % i,
                request_body=b"",
                response_head=RESPONSE_HEAD % len(body),
                response_body=body,
                ip_address="192.0.2.10",
                date=when,
            )
        )
    return out


def http_bytes(items: list[HttpExchange]) -> int:
    """The HTTP bytes the records carry."""
    return sum(len(e.request_head) + len(e.response_head) + len(e.response_body) for e in items)


def write_warcio(items: list[HttpExchange], directory: Path) -> Path:
    """warcio alone: build each record from the raw HTTP bytes, write it, gzip level 9."""
    from warcio.recordbuilder import RecordBuilder
    from warcio.warcwriter import WARCWriter

    path = directory / "warcio.warc.gz"
    builder = RecordBuilder(warc_version="WARC/1.1")
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=True, warc_version="WARC/1.1")
        writer.write_record(builder.create_warcinfo_record(path.name, FIELDS))
        for e in items:
            date = e.date.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            response = builder.create_warc_record(
                e.target_uri,
                "response",
                payload=BytesIO(e.response_head + e.response_body),
                length=len(e.response_head) + len(e.response_body),
                warc_headers_dict={"WARC-Date": date, "WARC-IP-Address": e.ip_address or ""},
            )
            request = builder.create_warc_record(
                e.target_uri,
                "request",
                payload=BytesIO(e.request_head + e.request_body),
                length=len(e.request_head) + len(e.request_body),
                warc_headers_dict={"WARC-Date": date},
            )
            request.rec_headers.add_header(
                "WARC-Concurrent-To", response.rec_headers.get_header("WARC-Record-ID")
            )
            writer.write_record(request)
            writer.write_record(response)
    return path


def _writer(directory: Path, level: int) -> RotatingWarcWriter:
    return RotatingWarcWriter(
        directory, prefix="bench", max_size=2**40, warcinfo_fields=FIELDS, gzip_level=level
    )


def write_ours(items: list[HttpExchange], directory: Path, level: int = GZIP_LEVEL) -> Path:
    """Our record building and RotatingWarcWriter, in the calling thread."""
    writer = _writer(directory, level)
    for e in items:
        writer.write(build_exchange_records(e))
    closed = writer.close()
    assert closed is not None
    return closed.path


def write_threaded(items: list[HttpExchange], directory: Path) -> Path:
    """Records built here, compressed and written by WarcWriterThread (as in a crawl)."""
    thread = WarcWriterThread(_writer(directory, GZIP_LEVEL))
    futures = [thread.submit(build_exchange_records(e)) for e in items]
    thread.close()
    for future in futures:
        future.result()
    return thread.writer.closed[-1].path


def measure(
    write: Callable[[list[HttpExchange], Path], Path],
    items: list[HttpExchange],
    base: Path,
    repeat: int,
) -> tuple[float, int]:
    """Best MB/s of HTTP bytes over `repeat` runs, and the size of the file written."""
    best_seconds = float("inf")
    size = 0
    for n in range(repeat):
        directory = base / f"{write.__name__}-{n}"
        directory.mkdir()
        start = time.perf_counter()
        path = write(items, directory)
        best_seconds = min(best_seconds, time.perf_counter() - start)
        size = path.stat().st_size
        path.unlink()
    return http_bytes(items) / MB / best_seconds, size


def check_readable(items: list[HttpExchange], directory: Path) -> None:
    """Both files hold the same responses, readable with warcio (a benchmark of broken output is worthless)."""
    from warcio.archiveiterator import ArchiveIterator

    sample = items[:20]
    for write in (write_warcio, write_ours):
        target = directory / f"check-{write.__name__}"
        target.mkdir()
        path = write(sample, target)
        with open(path, "rb") as fh:
            bodies = [
                r.content_stream().read() for r in ArchiveIterator(fh) if r.rec_type == "response"
            ]
        if bodies != [e.response_body for e in sample]:
            raise SystemExit(f"{write.__name__}: the responses read back differ from those written")
        os.unlink(path)


def main(argv: list[str] | None = None) -> int:
    """Write the same exchanges each way and print MB/s and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--exchanges", type=int, default=2000, help="exchanges (default 2000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs each; the best is kept")
    parser.add_argument("--quick", action="store_true", help="150 exchanges, once: a smoke run")
    parser.add_argument("--data", type=Path, default=DATA, help="the article-extraction-benchmark")
    args = parser.parse_args(argv)
    count, repeat = (150, 1) if args.quick else (args.exchanges, args.repeat)
    items = exchanges(count, args.data)
    with workdir(prefix="warc-") as work:
        check_readable(items, work)
        warcio_rate, warcio_size = measure(write_warcio, items, work, repeat)
        ours_rate, ours_size = measure(write_ours, items, work, repeat)

        def write_ours_level9(items: list[HttpExchange], directory: Path) -> Path:
            return write_ours(items, directory, level=9)

        ours9_rate, ours9_size = measure(write_ours_level9, items, work, repeat)
        threaded_rate, _ = measure(write_threaded, items, work, repeat)
    print(f"exchanges            {count} ({http_bytes(items) / MB:.1f} MB of HTTP)")
    print(figure("warcio, gzip level 9", warcio_rate, "MB/s", f"file {warcio_size / MB:.1f} MB"))
    print(
        figure(f"ours, gzip level {GZIP_LEVEL}", ours_rate, "MB/s", f"file {ours_size / MB:.1f} MB")
    )
    print(figure("ours, gzip level 9", ours9_rate, "MB/s", f"file {ours9_size / MB:.1f} MB"))
    print(figure("ours, writer thread", threaded_rate, "MB/s"))
    print(ratio_line("ours / warcio", ours_rate, warcio_rate))
    print(ratio_line("ours level 9 / warcio", ours9_rate, warcio_rate))
    print(ratio_line("ours writer thread / warcio", threaded_rate, warcio_rate))
    print(ratio_line("file size ours / warcio", ours_size, warcio_size))
    return 0


if __name__ == "__main__":
    sys.exit(main())
