"""Resuming a site's crawl: what recovery reads back from the journal, the open WARC and storage."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archiver.operations import CrawlJournal, recover_crawl
from archiver.spool import CrawlDir, CrawlInfo
from archiver.warc import HttpExchange, RotatingWarcWriter, build_exchange_records


def test_recovery_reads_the_journal_the_open_file_and_files_others_uploaded(
    tmp_path: Path,
) -> None:
    crawl = CrawlDir.create(
        tmp_path / "spool",
        CrawlInfo("sample-20261125T080000Z-abcdef", "news", datetime(2026, 11, 25, tzinfo=UTC)),
    )

    def exchange(path: str, status: str = "200 OK") -> list[Any]:
        body = f"<p>{path}</p>".encode()
        head = f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        return list(
            build_exchange_records(
                HttpExchange(
                    f"http://site.example{path}",
                    b"GET / HTTP/1.1\r\nHost: site.example\r\n\r\n",
                    b"",
                    head,
                    body,
                    None,
                    datetime(2026, 11, 25, 8, 0, 1, tzinfo=UTC),
                )
            )
        )

    # A file the killed process (a pid that no longer runs) left open.
    with RotatingWarcWriter(
        crawl.root, prefix="news", max_size=10**9, warcinfo_fields={"software": "test"}
    ) as writer:
        writer.write(exchange("/a") + exchange("/busy", "503 Busy"))
    written = writer.closed[0].path
    closed = written.with_name(written.name.replace(f"-{os.getpid()}.", f"-{2**22 + 5}."))
    written.rename(closed.with_name(closed.name + ".open"))
    journal = CrawlJournal(tmp_path / "journal.jsonl")
    journal.append(
        {
            "event": "capture",
            "url": "http://site.example/gone",
            "record_id": "<urn:uuid:gone>",
            "kind": "response",
            "status": 200,
            "date": "2026-11-25T08:00:00.000000Z",
            "payload_digest": "sha1:X",
            "filename": "news-20261125075900000-00000-host-1.warc.gz",
            "offset": 100,
            "length": 900,
        }
    )
    journal.close()
    items = crawl.root / "items.jsonl.part"
    items.write_text('{"url": "u", "warc_record_id": "<r1>"}\n{"url": "torn", "warc_')

    state = recover_crawl(crawl, journal, items, remote=lambda name: (4321, "ab" * 32))

    assert state.recovered == [closed] and not list(crawl.root.glob("*.open"))
    # From the open file: /a is replayed, the 503 is asked again.
    assert sorted(state.captures) == ["http://site.example/a", "http://site.example/gone"]
    assert state.captures["http://site.example/a"]["filename"] == closed.name
    # The file another upload pass recovered and released: known from the journal.
    gone = next(f for f in state.files if f.name.endswith("-1.warc.gz"))
    assert (gone.size, gone.sha256) == (4321, "ab" * 32)
    assert gone.records == {"warcinfo": 1, "request": 1, "response": 1}
    assert state.released == [gone.name]
    assert state.items_done == {"<r1>"} and state.items_cut > 0
    assert items.read_text().endswith("\n")
