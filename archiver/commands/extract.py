"""`archiver extract WARC...`: re-run the cleaner over archived responses, on every core."""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import click
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from archiver.cleaning import RuleBook, clean_html, install_rulebook
from archiver.commands._base import EXIT_FAILURE, EXIT_OK, Context, pass_context
from archiver.commands.clean import load_rules_option

logger = logging.getLogger(__name__)

HTML_TYPES = ("text/html", "application/xhtml+xml")
# The crawl's DOWNLOAD_MAXSIZE default: no page it would keep is larger once decoded.
MAX_PAYLOAD_BYTES = 50 * 1024 * 1024
# Responses waiting for a worker, per worker: enough to keep every core busy while
# holding only a few pages per core in memory.
QUEUE_PER_WORKER = 4


@dataclass(frozen=True)
class Capture:
    """One archived HTML response to clean, and where it came from."""

    warc_file: str
    record_id: str
    target_uri: str
    warc_date: str
    content_type: str
    payload: bytes


def iter_captures(stream: IO[bytes], name: str) -> Iterator[Capture]:
    """2xx text/html responses of a WARC stream (gzip or not), payload decoded."""
    for record in ArchiveIterator(stream):
        if record.rec_type != "response" or record.http_headers is None:
            continue
        status = record.http_headers.get_statuscode() or ""
        if not status.startswith("2"):
            continue
        ctype = record.http_headers.get_header("Content-Type") or ""
        if ctype.split(";")[0].strip().lower() not in HTML_TYPES:
            continue
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
        yield Capture(
            warc_file=name,
            record_id=record.rec_headers.get_header("WARC-Record-ID") or "",
            target_uri=record.rec_headers.get_header("WARC-Target-URI") or "",
            warc_date=record.rec_headers.get_header("WARC-Date") or "",
            content_type=ctype,
            payload=payload,
        )


def clean_capture(capture: Capture, rules: RuleBook | None = None) -> dict[str, Any] | None:
    """The output line of one capture (None when it holds no article); runs in a worker.

    Pool workers get the rules once, from the pool's initializer (install_rulebook).
    """
    article = clean_html(
        capture.payload,
        capture.target_uri or None,
        content_type=capture.content_type,
        rules=rules,
    )
    if not article.is_article:
        return None
    line: dict[str, Any] = {
        "warc_file": capture.warc_file,
        "warc_record_id": capture.record_id,
        "target_uri": capture.target_uri,
        "warc_date": capture.warc_date,
    }
    line.update(article.to_dict())
    return line


class _Counted:
    """A read-only file wrapper that reports how many bytes were read (for the progress bar)."""

    def __init__(self, raw: IO[bytes], advance: Any) -> None:
        self._raw = raw
        self._advance = advance

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self._advance(len(data))
        return data

    def readline(self, size: int = -1) -> bytes:
        data = self._raw.readline(size)
        self._advance(len(data))
        return data


def _open_source(source: str, stack: ExitStack, ctx: Context) -> Path:
    """A local path for the source, downloading s3://bucket/key to a temporary file first."""
    if not source.startswith("s3://"):
        return Path(source)
    from archiver.storage import client_from_settings

    parts = urlsplit(source)
    if not parts.netloc or not parts.path.strip("/"):
        raise click.UsageError(f"{source}: expected s3://BUCKET/KEY")
    tmpdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="archiver-extract-"))
    local = Path(tmpdir) / Path(parts.path).name
    client = client_from_settings(ctx.settings)
    client.download_file(parts.netloc, parts.path.lstrip("/"), str(local))
    return local


@click.command("extract")
@click.argument("sources", nargs=-1, required=True, metavar="WARC...")
@click.option(
    "-o",
    "--output",
    default="-",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="JSON lines file to write (default: standard output).",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=0),
    default=None,
    help="Worker processes; 0 = one per core (default: ARCHIVER_CLEAN_WORKERS).",
)
@click.option(
    "--rules",
    "rules_dirs",
    multiple=True,
    type=click.Path(file_okay=False, exists=True),
    help="Directory of extra site rule files (site-*.toml), added to ARCHIVER_CLEAN_RULES_DIRS; "
    "repeatable.",
)
@pass_context
def command(
    ctx: Context,
    sources: tuple[str, ...],
    output: Path,
    jobs: int | None,
    rules_dirs: tuple[str, ...],
) -> int:
    """Clean the HTML responses of WARC files (local paths or s3:// URLs) into JSON lines.

    One line per article: the WARC file, WARC-Record-ID, target URI, WARC-Date and every
    field of the cleaner's Article. Exits 1 when a WARC could not be read to the end.
    """
    workers = ctx.settings.getint("ARCHIVER_CLEAN_WORKERS") if jobs is None else jobs
    workers = workers or os.cpu_count() or 1
    # Read and checked once here; the pool's workers get the parsed rules, not the files.
    rules = load_rules_option(ctx, rules_dirs)
    counts = {"responses": 0, "articles": 0}
    failed: list[str] = []
    with ExitStack() as stack:
        out: IO[str] = (
            sys.stdout
            if str(output) == "-"
            else stack.enter_context(output.open("w", encoding="utf-8"))
        )
        pool = (
            stack.enter_context(
                ProcessPoolExecutor(workers, initializer=install_rulebook, initargs=(rules,))
            )
            if workers > 1
            else None
        )
        pending: deque[Future[dict[str, Any] | None]] = deque()

        def emit(line: dict[str, Any] | None) -> None:
            if line is not None:
                counts["articles"] += 1
                out.write(json.dumps(line, ensure_ascii=False) + "\n")

        progress = stack.enter_context(
            Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TimeRemainingColumn(),
                console=_stderr_console(),
                transient=True,
            )
        )
        for source in sources:
            try:
                with ExitStack() as source_stack:
                    path = _open_source(source, source_stack, ctx)
                    raw = source_stack.enter_context(path.open("rb"))
                    task = progress.add_task(path.name, total=path.stat().st_size)
                    counted = _Counted(raw, lambda n, t=task: progress.advance(t, n))
                    for capture in iter_captures(counted, source):  # type: ignore[arg-type]
                        counts["responses"] += 1
                        if pool is None:
                            emit(clean_capture(capture, rules))
                            continue
                        pending.append(pool.submit(clean_capture, capture))
                        while len(pending) >= workers * QUEUE_PER_WORKER:
                            emit(pending.popleft().result())
            except (OSError, ArchiveLoadFailed, click.UsageError) as exc:
                failed.append(source)
                click.echo(f"archiver extract: {source}: {exc}", err=True)
            except Exception as exc:  # botocore errors and the like: report and go on
                failed.append(source)
                click.echo(f"archiver extract: {source}: {type(exc).__name__}: {exc}", err=True)
        while pending:
            emit(pending.popleft().result())
    click.echo(
        f"{counts['responses']} HTML responses, {counts['articles']} articles"
        + (f", {len(failed)} unreadable WARC(s)" if failed else ""),
        err=True,
    )
    return EXIT_FAILURE if failed else EXIT_OK


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)
