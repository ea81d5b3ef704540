"""WARCs left open as a crash leaves them: written by this process, named for any writer.

A `.open` file's name carries its writer's host and pid; these helpers write a real WARC,
name it for a live, dead or foreign writer, and read back the responses it holds.
"""

from __future__ import annotations

import io
import socket
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from archiver.spool import (
    CrawlDir,
    CrawlInfo,
)
from archiver.warc import HttpExchange, RotatingWarcWriter, build_exchange_records

HOST = socket.gethostname()


def dead_pid() -> int:
    """The pid of a process that has ended."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def open_name(pid: int, host: str = HOST, serial: int = 0) -> str:
    """The name of a .open WARC as the writer with this pid on this host names it."""
    return f"news-20261125170259308-{serial:05d}-{host}-{pid}.warc.gz.open"


def crawl_dir(spool: Path, crawl_id: str = "news-20261125T170259Z-abcdef") -> CrawlDir:
    """A new crawl directory in the spool."""
    info = CrawlInfo(crawl_id, "news", datetime(2026, 11, 25, 17, 2, 59, tzinfo=UTC))
    return CrawlDir.create(spool, info)


def write_open_warc(directory: Path, records: int) -> Path:
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


def responses(data: bytes) -> list[tuple[str, str]]:
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
