"""The capture history: what it records, its writer thread, where its backup goes."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from archiver.operations import (
    ArticleEvent,
    CaptureHistory,
    HistoryError,
    HistoryWriter,
    PayloadIndex,
    PayloadRef,
    history_key,
)
from tests.support.history import URL, capture


def test_captures_and_articles_make_known_pages(tmp_path: Path) -> None:
    history = CaptureHistory(tmp_path / "h.sqlite3")
    history.create()
    # The article note can come first: another thread writes the capture.
    history.apply([ArticleEvent(URL, "2026-11-24T08:00:00+00:00"), capture()])
    page = history.snapshot().pages[URL]
    assert page.is_article and page.status == 200
    assert page.last_fetch == datetime(2026, 11, 24, 10, tzinfo=UTC)
    assert page.published == datetime(2026, 11, 24, 8, tzinfo=UTC)
    assert (page.etag, page.last_modified) == ('"v1"', "Tue, 24 Nov 2026 09:00:00 GMT")
    # A 304 later: fetch time moves on, validators and digest stay.
    history.apply(
        [
            capture(
                date="2026-11-25T10:00:00.000000Z",
                status=304,
                record_id="<urn:uuid:2>",
                payload_digest="sha1:EMPTY",
                etag=None,
            ),
            ArticleEvent(URL, None),
        ]
    )
    page = history.snapshot().pages[URL]
    assert page.last_fetch == datetime(2026, 11, 25, 10, tzinfo=UTC)
    assert page.status == 304 and page.etag == '"v1"'
    assert page.published == datetime(2026, 11, 24, 8, tzinfo=UTC)
    assert history.counts() == {"urls": 1, "articles": 1, "payloads": 1}


def test_the_first_record_of_a_payload_stays_the_one_revisits_refer_to(tmp_path: Path) -> None:
    history = CaptureHistory(tmp_path / "h.sqlite3")
    history.create()
    history.apply([capture()])
    history.apply(
        [
            capture(url="https://ledger.example/copy.html", record_id="<urn:uuid:9>"),
            capture(record_id="<urn:uuid:10>", kind="revisit"),
            capture(url="https://ledger.example/404", status=404, payload_digest="sha1:NF"),
        ]
    )
    (ref,) = history.snapshot().payloads
    assert ref == PayloadRef(
        "sha1:AAAA",
        URL,
        "2026-11-24T10:00:00.000000Z",
        "<urn:uuid:1>",
        "ledger-20261124T100000Z-aaaaaa",
        "2026-11-24",
        "news-1.warc.gz",
        100,
        2000,
    )


def test_payload_index_keeps_the_first_and_forgets_failed_writes() -> None:
    first = PayloadRef("d", "u1", "t1", "<r1>", "c", "2026-11-24")
    index = PayloadIndex()
    assert index.add(first) is None
    assert index.add(PayloadRef("d", "u2", "t2", "<r2>", "c", "2026-11-24")) == first
    index.update(PayloadRef("d", "u1", "t1", "<r1>", "c", "2026-11-24", "f.warc.gz", 5, 9))
    assert index.get("d") is not None and index.get("d").filename == "f.warc.gz"  # type: ignore[union-attr]
    index.discard("d", "<other>")
    assert len(index) == 1
    index.discard("d", "<r1>")
    assert index.get("d") is None


def test_the_writer_batches_off_the_callers_thread_and_flushes_on_close(tmp_path: Path) -> None:
    history = CaptureHistory(tmp_path / "h.sqlite3")
    history.create()
    writer = HistoryWriter(history, batch_events=50, batch_seconds=0.2)
    caller = threading.get_ident()
    started = time.perf_counter()
    for n in range(1000):
        writer.submit(capture(url=f"https://ledger.example/{n}", record_id=f"<urn:uuid:{n}>"))
    # Submitting never waits for SQLite.
    assert time.perf_counter() - started < 0.5
    assert writer._thread.ident != caller
    assert writer.flush(timeout=30)
    assert history.counts()["urls"] == 1000
    writer.submit(ArticleEvent("https://ledger.example/7", None))
    writer.close(timeout=30)
    assert writer.applied == 1001 and writer.errors == 0
    assert history.snapshot().pages["https://ledger.example/7"].is_article
    with pytest.raises(RuntimeError):
        writer.submit(ArticleEvent(URL, None))


def test_a_file_that_is_not_a_history_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "h.sqlite3"
    bogus.write_bytes(b"not a database at all" * 100)
    with pytest.raises(HistoryError, match="not a usable capture history"):
        CaptureHistory(bogus).snapshot()
    other = tmp_path / "other.sqlite3"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        conn.execute("INSERT INTO meta VALUES ('schema_version', '99')")
    with pytest.raises(HistoryError, match="history schema 99"):
        CaptureHistory(other).counts()


def test_history_key_sits_next_to_the_crawl_data() -> None:
    assert history_key("news-archiver", "ledger") == "news-archiver/history/ledger/history.sqlite3"
    assert history_key("archive/news/", "ledger") == "archive/news/history/ledger/history.sqlite3"
