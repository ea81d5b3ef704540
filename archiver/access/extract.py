"""Re-running the cleaner over archived responses: the 2xx HTML responses of WARC files (local,
or copied from s3:// first), each cleaned into one JSON-ready line, on every core.

Scrapy-free and click-free; `archiver extract` is a thin layer over it.
"""

from __future__ import annotations

import io
import logging
import tempfile
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import ExitStack, redirect_stderr
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any
from urllib.parse import urlsplit

from w3lib.encoding import http_content_type_encoding
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.recordloader import ArcWarcRecord

from archiver.access.records import (
    WarcDamage,
    damage_text,
    next_record,
    record_problem,
    warcio_said,
)
from archiver.cleaning import RuleBook, clean_html, install_rulebook
from archiver.cleaning.pagekind import judge_article
from archiver.discovery.parse import analyze_html

logger = logging.getLogger(__name__)

HTML_TYPES = ("text/html", "application/xhtml+xml")
# The crawl's DOWNLOAD_MAXSIZE default: no page it would keep is larger once decoded.
MAX_PAYLOAD_BYTES = 50 * 1024 * 1024
# Responses waiting for a worker, per worker: enough to keep every core busy while
# holding only a few pages per core in memory.
QUEUE_PER_WORKER = 4


@dataclass(frozen=True)
class HtmlCapture:
    """One archived HTML response to clean, and where it came from."""

    warc_file: str
    record_id: str
    target_uri: str
    warc_date: str
    content_type: str
    payload: bytes


def iter_html_captures(stream: IO[bytes], name: str) -> Iterator[HtmlCapture]:
    """2xx text/html responses of a WARC stream (gzip or not), payload decoded; WarcDamage
    when the file is cut short (truncated) or a record cannot be read."""
    iterator = ArchiveIterator(stream)
    said = io.StringIO()
    end = 0
    # Bytes an uncompressed WARC may hold after its last record: the blank lines ending it.
    slack = len(b"\r\n\r\n")
    try:
        while True:
            # warcio writes decompression errors to stderr itself; they go in the WarcDamage.
            with redirect_stderr(said):
                record = next_record(iterator)
                if record is None:
                    break
                capture = _html_capture(record, name)
                iterator.read_to_end(record)
                member = iterator.reader.decompressor if iterator.reader is not None else None
                if member is not None:
                    slack = 0  # gzip members hold their blank lines
            offset = iterator.get_record_offset()
            end = offset + iterator.get_record_length()
            problem = warcio_said(said) or record_problem(record)
            if not problem and member is not None and not getattr(member, "eof", True):
                problem = "its gzip member is cut short"
            if problem:
                raise WarcDamage(f"{name}: truncated or damaged at offset {offset}: {problem}")
            if capture is not None:
                yield capture
    except (ArchiveLoadFailed, zlib.error, EOFError) as exc:
        raise WarcDamage(
            f"{name}: truncated or damaged at offset {iterator.offset or 0}: "
            f"{damage_text(exc, said.getvalue())}"
        ) from exc
    # warcio ends quietly where the last gzip member or a record's headers are cut off:
    # bytes are left over after the last whole record.
    left = iterator.fh.tell() - end
    if left > slack:
        raise WarcDamage(
            f"{name}: truncated: the {left} byte(s) after offset {end} are not a whole record"
        )


def _html_capture(record: ArcWarcRecord, name: str) -> HtmlCapture | None:
    """The capture of a 2xx HTML response record; None for any other record."""
    if record.rec_type != "response" or record.http_headers is None:
        return None
    status = record.http_headers.get_statuscode() or ""
    if not status.startswith("2"):
        return None
    ctype = record.http_headers.get_header("Content-Type") or ""
    if ctype.split(";")[0].strip().lower() not in HTML_TYPES:
        return None
    # Decoded (de-chunked, un-gzipped) payloads are capped like the crawl caps downloads,
    # so a stored gzip bomb is cut rather than inflated in full.
    payload = record.content_stream().read(MAX_PAYLOAD_BYTES + 1)
    if len(payload) > MAX_PAYLOAD_BYTES:
        logger.warning(
            "event=payload_too_large file=%s uri=%s limit=%d: cleaned from its first bytes",
            name,
            record.rec_headers.get_header("WARC-Target-URI"),
            MAX_PAYLOAD_BYTES,
        )
        payload = payload[:MAX_PAYLOAD_BYTES]
    return HtmlCapture(
        warc_file=name,
        record_id=record.rec_headers.get_header("WARC-Record-ID") or "",
        target_uri=record.rec_headers.get_header("WARC-Target-URI") or "",
        warc_date=record.rec_headers.get_header("WARC-Date") or "",
        content_type=ctype,
        payload=payload,
    )


def clean_html_capture(
    capture: HtmlCapture, rules: RuleBook | None = None
) -> dict[str, Any] | None:
    """The output line of one capture (None when it holds no article); runs in a worker.

    The page is judged as the crawl judges it: an article by its markup (JSON-LD, og:type,
    article:published_time, an article URL with its text) when the cleaner finds a body, or,
    without markup, a candidate the cleaner's judgement (archiver.cleaning.pagekind) calls
    an article; listings and other pages give no line. Pool workers get the rules once, from
    the pool's initializer (install_rulebook).
    """
    url = capture.target_uri or None
    page = analyze_html(
        capture.payload, url or "", encoding=http_content_type_encoding(capture.content_type)
    )
    if not (page.is_article or page.candidate):
        return None
    article = clean_html(capture.payload, url, content_type=capture.content_type, rules=rules)
    # A candidate is judged; judge_article also refuses what the cleaner found no body in.
    if not (article.is_article if page.is_article else judge_article(article).is_article):
        return None
    line: dict[str, Any] = {
        "warc_file": capture.warc_file,
        "warc_record_id": capture.record_id,
        "target_uri": capture.target_uri,
        "warc_date": capture.warc_date,
    }
    line.update(article.to_dict())
    return line


class CleaningPool:
    """Cleans captures in worker processes, in order, with a bounded queue; in this process
    when there is one worker.
    """

    def __init__(self, workers: int, rules: RuleBook | None) -> None:
        self.workers = workers
        self.rules = rules
        self._stack = ExitStack()
        self._pool: ProcessPoolExecutor | None = None
        self._pending: deque[Future[dict[str, Any] | None]] = deque()

    def __enter__(self) -> CleaningPool:
        if self.workers > 1:
            self._pool = self._stack.enter_context(
                ProcessPoolExecutor(
                    self.workers, initializer=install_rulebook, initargs=(self.rules,)
                )
            )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stack.close()

    def submit(self, capture: HtmlCapture) -> list[dict[str, Any] | None]:
        """Queue one capture; the results ready now, oldest first (None: no article)."""
        if self._pool is None:
            return [clean_html_capture(capture, self.rules)]
        self._pending.append(self._pool.submit(clean_html_capture, capture))
        ready = []
        while len(self._pending) >= self.workers * QUEUE_PER_WORKER:
            ready.append(self._pending.popleft().result())
        return ready

    def drain(self) -> Iterator[dict[str, Any] | None]:
        """The results still queued, oldest first, waiting for each."""
        while self._pending:
            yield self._pending.popleft().result()


class CountingReader:
    """A read-only file wrapper that reports how many bytes were read (for a progress bar)."""

    def __init__(self, raw: IO[bytes], advance: Callable[[int], Any]) -> None:
        self._raw = raw
        self._advance = advance

    def read(self, size: int = -1) -> bytes:
        """Read like the wrapped file."""
        data = self._raw.read(size)
        self._advance(len(data))
        return data

    def readline(self, size: int = -1) -> bytes:
        """Read a line like the wrapped file."""
        data = self._raw.readline(size)
        self._advance(len(data))
        return data


class SourceError(ValueError):
    """A WARC source that is neither a local path nor s3://BUCKET/KEY."""


def local_warc_path(source: str, stack: ExitStack, settings: Any) -> Path:
    """A local path for the source, downloading s3://bucket/key to a temporary file first.

    The temporary file lives until `stack` closes.
    """
    if not source.startswith("s3://"):
        return Path(source)
    from archiver.storage import client_from_settings

    parts = urlsplit(source)
    if not parts.netloc or not parts.path.strip("/"):
        raise SourceError(f"{source}: expected s3://BUCKET/KEY")
    tmpdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="archiver-extract-"))
    local = Path(tmpdir) / Path(parts.path).name
    client = client_from_settings(settings)
    client.download_file(parts.netloc, parts.path.lstrip("/"), str(local))
    return local
