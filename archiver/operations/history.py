"""A site's capture history: what was archived, when, and where its payloads are (SQLite).

Kept in the spool (``{spool}/_sites/{site}/history.sqlite3``) so that later crawls of the
site can skip what they saw recently, ask with the validators they got (ETag,
Last-Modified), and store a page whose payload is already archived as a revisit record.
After each crawl it is copied to storage next to the crawl data; a fresh machine
restores it from there before its first crawl.  Scrapy-free; the writes happen on a
thread of their own, in batches, so a crawl never waits on SQLite.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import queue
import sqlite3
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from archiver.operations.recrawl import KnownPage
from archiver.operations.sitedir import HISTORY_FILE
from archiver.storage import METADATA_SHA256, S3Config, Uploader, UploadError, describe_error

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)

HISTORY_NAME = HISTORY_FILE
SCHEMA_VERSION = 1
CONTENT_TYPE = "application/vnd.sqlite3"
# A batch is committed after this many events or this many seconds, whichever comes first:
# few enough commits to stay cheap, soon enough that a killed crawl loses little.
BATCH_EVENTS = 500
BATCH_SECONDS = 0.5

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS urls (
    url TEXT PRIMARY KEY,
    last_fetch TEXT NOT NULL,
    status INTEGER,
    payload_digest TEXT,
    etag TEXT,
    last_modified TEXT,
    is_article INTEGER NOT NULL DEFAULT 0,
    published TEXT,
    crawl_id TEXT
);
CREATE TABLE IF NOT EXISTS payloads (
    digest TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    date TEXT NOT NULL,
    record_id TEXT NOT NULL,
    crawl_id TEXT NOT NULL,
    crawl_date TEXT NOT NULL,
    filename TEXT,
    offset INTEGER,
    length INTEGER
);
"""


class HistoryError(RuntimeError):
    """A history file that cannot be used (not SQLite, another schema, damaged)."""


@dataclass(frozen=True, slots=True)
class PayloadRef:
    """The record that holds a payload in full: what a revisit record refers to."""

    digest: str
    url: str
    date: str
    record_id: str
    crawl_id: str
    crawl_date: str
    filename: str | None = None
    offset: int | None = None
    length: int | None = None


@dataclass(frozen=True)
class CaptureEvent:
    """One archived exchange, as the history records it."""

    url: str
    date: str
    status: int
    record_id: str
    kind: str
    crawl_id: str
    crawl_date: str
    payload_digest: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    filename: str | None = None
    offset: int | None = None
    length: int | None = None


@dataclass(frozen=True)
class ArticleEvent:
    """A URL found to be an article, with its publication date when known."""

    url: str
    published: str | None = None


HistoryEvent = CaptureEvent | ArticleEvent


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class PayloadIndex:
    """Payload digest -> the record holding it, for earlier crawls and this one (thread-safe)."""

    def __init__(self, refs: Iterable[PayloadRef] = ()) -> None:
        self._refs = {r.digest: r for r in refs}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._refs)

    def get(self, digest: str) -> PayloadRef | None:
        """The record holding this payload, if any."""
        with self._lock:
            return self._refs.get(digest)

    def add(self, ref: PayloadRef) -> PayloadRef | None:
        """Register a payload unless one is registered; returns the one already there."""
        with self._lock:
            existing = self._refs.get(ref.digest)
            if existing is None:
                self._refs[ref.digest] = ref
            return existing

    def update(self, ref: PayloadRef) -> None:
        """Replace the entry of the same record (to fill in its location once written)."""
        with self._lock:
            current = self._refs.get(ref.digest)
            if current is not None and current.record_id == ref.record_id:
                self._refs[ref.digest] = ref

    def discard(self, digest: str, record_id: str) -> None:
        """Forget a payload whose record could not be written."""
        with self._lock:
            current = self._refs.get(digest)
            if current is not None and current.record_id == record_id:
                del self._refs[digest]


@dataclass
class HistorySnapshot:
    """What the history knew when a crawl started: pages by URL, payloads by digest."""

    pages: dict[str, KnownPage]
    payloads: list[PayloadRef]


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a commit survives the process being killed, not a power cut,
        # which the crawl's own journal covers on resume.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(_SCHEMA)
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
            conn.commit()
        elif row[0] != str(SCHEMA_VERSION):
            raise HistoryError(
                f"{path}: history schema {row[0]}, this version reads {SCHEMA_VERSION}"
            )
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise HistoryError(f"{path}: not a usable capture history: {exc}") from None
    except BaseException:
        conn.close()
        raise
    return conn


class CaptureHistory:
    """The capture history of one site, in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def create(self) -> None:
        """Create the file and its tables if they do not exist."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _connect(self.path).close()

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        conn = _connect(self.path)
        try:
            yield conn
        finally:
            conn.close()

    def snapshot(self) -> HistorySnapshot:
        """The articles and payloads, read once at the start of a crawl.

        Pages that are not articles are left out: the recrawl policy fetches them as it
        fetches a new URL, and a site's history is mostly articles, each kept in memory
        for the whole crawl.
        """
        with self._connection() as conn:
            pages: dict[str, KnownPage] = {}
            for row in conn.execute(
                "SELECT url, last_fetch, status, etag, last_modified, published "
                "FROM urls WHERE is_article = 1"
            ):
                last = _parse_time(row[1])
                if last is None:
                    continue
                pages[row[0]] = KnownPage(
                    url=row[0],
                    last_fetch=last,
                    status=row[2],
                    etag=row[3],
                    # Many pages share a few values: one string object each.
                    last_modified=sys.intern(row[4]) if row[4] else None,
                    is_article=True,
                    published=_parse_time(row[5]),
                )
            payloads = [
                PayloadRef(
                    digest,
                    url,
                    date,
                    record_id,
                    sys.intern(crawl_id),
                    sys.intern(crawl_date),
                    sys.intern(filename) if filename else None,
                    offset,
                    length,
                )
                for digest, url, date, record_id, crawl_id, crawl_date, filename, offset, length in conn.execute(
                    "SELECT digest, url, date, record_id, crawl_id, crawl_date, filename, "
                    "offset, length FROM payloads"
                )
            ]
        return HistorySnapshot(pages, payloads)

    def apply(self, events: Iterable[HistoryEvent]) -> int:
        """Record events in one transaction; returns how many were applied."""
        with self._connection() as conn:
            count = apply_events(conn, events)
            conn.commit()
        return count

    def counts(self) -> dict[str, int]:
        """Numbers of URLs, articles and payloads recorded."""
        with self._connection() as conn:
            urls, articles = conn.execute("SELECT COUNT(*), SUM(is_article) FROM urls").fetchone()
            (payloads,) = conn.execute("SELECT COUNT(*) FROM payloads").fetchone()
        return {"urls": int(urls or 0), "articles": int(articles or 0), "payloads": int(payloads)}

    def backup(self, dest: Path) -> None:
        """A consistent copy of the history, taken while writers may be at work."""
        dest = Path(dest)
        dest.unlink(missing_ok=True)
        with self._connection() as conn:
            target = sqlite3.connect(dest)
            try:
                conn.backup(target)
                # One self-contained file: no -wal beside it to lose on the way.
                target.execute("PRAGMA journal_mode=DELETE")
            finally:
                target.close()


def apply_events(conn: sqlite3.Connection, events: Iterable[HistoryEvent]) -> int:
    """Apply events on an open connection (the caller commits)."""
    count = 0
    for event in events:
        count += 1
        if isinstance(event, ArticleEvent):
            # May arrive before the capture of the page it describes (another thread writes
            # that one): a row without a fetch time waits for it.
            conn.execute(
                """
                INSERT INTO urls (url, last_fetch, is_article, published) VALUES (?, '', 1, ?)
                ON CONFLICT(url) DO UPDATE SET
                    is_article = 1, published = COALESCE(excluded.published, published)
                """,
                (event.url, event.published),
            )
            continue
        validators = event.status in (200, 304)
        conn.execute(
            """
            INSERT INTO urls (url, last_fetch, status, payload_digest, etag, last_modified, crawl_id)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(url) DO UPDATE SET
                last_fetch = MAX(last_fetch, excluded.last_fetch),
                status = excluded.status,
                payload_digest = COALESCE(excluded.payload_digest, payload_digest),
                etag = CASE WHEN ? THEN COALESCE(excluded.etag, etag) ELSE etag END,
                last_modified = CASE WHEN ?
                    THEN COALESCE(excluded.last_modified, last_modified) ELSE last_modified END,
                crawl_id = excluded.crawl_id
            """,
            (
                event.url,
                event.date,
                event.status,
                event.payload_digest if event.status == 200 else None,
                event.etag if validators else None,
                event.last_modified if validators else None,
                event.crawl_id,
                validators,
                validators,
            ),
        )
        if event.kind == "response" and event.status == 200 and event.payload_digest:
            # The first record holding a payload stays the one revisits refer to.
            conn.execute(
                """
                INSERT INTO payloads
                    (digest, url, date, record_id, crawl_id, crawl_date, filename, offset, length)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(digest) DO UPDATE SET
                    filename = COALESCE(filename, excluded.filename),
                    offset = COALESCE(offset, excluded.offset),
                    length = COALESCE(length, excluded.length)
                WHERE record_id = excluded.record_id
                """,
                (
                    event.payload_digest,
                    event.url,
                    event.date,
                    event.record_id,
                    event.crawl_id,
                    event.crawl_date,
                    event.filename,
                    event.offset,
                    event.length,
                ),
            )
    return count


class HistoryWriter:
    """Applies history events on a thread of its own, in batches; the caller never waits."""

    def __init__(
        self,
        history: CaptureHistory,
        *,
        batch_events: int = BATCH_EVENTS,
        batch_seconds: float = BATCH_SECONDS,
    ) -> None:
        self.history = history
        self.batch_events = batch_events
        self.batch_seconds = batch_seconds
        self.applied = 0
        self.errors = 0
        self._queue: queue.Queue[HistoryEvent | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="archiver-history", daemon=True)
        self._closed = False
        self._idle = threading.Condition()
        self._pending = 0
        self._thread.start()

    def submit(self, event: HistoryEvent) -> None:
        """Queue one event (never blocks)."""
        if self._closed:
            raise RuntimeError("the history writer is closed")
        with self._idle:
            self._pending += 1
        self._queue.put(event)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every event submitted so far is committed; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def close(self, timeout: float | None = None) -> None:
        """Commit what is queued and stop the thread."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        try:
            conn = _connect(self.history.path)
        except HistoryError as exc:
            logger.error("event=history_unusable path=%s error=%s", self.history.path, exc)
            self._drain_without_writing()
            return
        try:
            stop = False
            while not stop:
                first = self._queue.get()
                if first is None:
                    break
                batch = [first]
                deadline = time.monotonic() + self.batch_seconds
                while len(batch) < self.batch_events:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    try:
                        item = self._queue.get(timeout=remaining)
                    except queue.Empty:
                        break
                    if item is None:
                        stop = True
                        break
                    batch.append(item)
                self._commit(conn, batch)
        finally:
            conn.close()

    def _commit(self, conn: sqlite3.Connection, batch: list[HistoryEvent]) -> None:
        try:
            apply_events(conn, batch)
            conn.commit()
            self.applied += len(batch)
        except sqlite3.Error as exc:
            conn.rollback()
            self.errors += len(batch)
            logger.error("event=history_write_failed events=%d error=%s", len(batch), exc)
        with self._idle:
            self._pending -= len(batch)
            self._idle.notify_all()

    def _drain_without_writing(self) -> None:
        while True:
            item = self._queue.get()
            with self._idle:
                if item is not None:
                    self._pending -= 1
                    self.errors += 1
                self._idle.notify_all()
            if item is None:
                return


# --- storage -------------------------------------------------------------------------------


def history_key(prefix: str, site: str) -> str:
    """Storage key of a site's history backup: {prefix}/history/{site}/history.sqlite3."""
    return f"{prefix.strip('/')}/history/{site}/{HISTORY_NAME}"


def backup_history(history: CaptureHistory, uploader: Uploader, key: str) -> bool:
    """Copy the history to storage, verified like every upload; True when verified."""
    snapshot = history.path.with_name(f".{history.path.name}.backup.tmp")
    try:
        history.backup(snapshot)
        result = uploader.upload_file(snapshot, key, content_type=CONTENT_TYPE)
    finally:
        snapshot.unlink(missing_ok=True)
    logger.info(
        "event=history_backed_up key=%s size=%d verified=%s", key, result.size, result.verified
    )
    return result.verified


def restore_history(cfg: S3Config, client: S3Client, key: str, dest: Path) -> bool:
    """Fetch a history backup into `dest` (which must not exist); False when there is none.

    The copy is checked against the SHA-256 the upload recorded, and opened, before it
    takes the place of the local history.
    """
    dest = Path(dest)
    if dest.exists():
        raise FileExistsError(f"{dest} exists; not replacing a local history")
    try:
        head = client.head_object(Bucket=cfg.bucket, Key=key)
    except (ClientError, BotoCoreError) as exc:
        code = ""
        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in {"404", "NoSuchKey", "NotFound"}:
            return False
        raise UploadError(
            f"cannot look for a history backup: {describe_error(exc)}",
            server=cfg.server,
            bucket=cfg.bucket,
            key=key,
        ) from exc
    expected = (head.get("Metadata") or {}).get(METADATA_SHA256)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.restore.tmp")
    digest = hashlib.sha256()
    try:
        body = client.get_object(Bucket=cfg.bucket, Key=key)["Body"]
        with open(tmp, "wb") as out:
            for chunk in iter(lambda: body.read(1 << 20), b""):
                digest.update(chunk)
                out.write(chunk)
        if expected and digest.hexdigest() != expected:
            raise UploadError(
                f"history backup does not match its recorded SHA-256 ({expected})",
                server=cfg.server,
                bucket=cfg.bucket,
                key=key,
            )
        CaptureHistory(tmp).counts()  # opens it and reads every table, or raises HistoryError
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
        for suffix in ("-wal", "-shm"):
            Path(str(tmp) + suffix).unlink(missing_ok=True)
    logger.info("event=history_restored key=%s path=%s", key, dest)
    return True
