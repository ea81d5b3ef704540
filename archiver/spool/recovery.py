"""Recovery of WARC files left open by crawls that died, before their spool is uploaded.

A crawl killed mid-write leaves ``*.warc.gz.open`` behind; every record it finished is
in the file (the writer hands each write to the kernel), the last one may be cut.
:func:`recover_open_files` cuts such a file after its last complete record and renames it
(archiver.warc.recover_open_file), so the next upload pass sends it like any closed WARC.

It must never touch a file that a live crawl is still writing.  The writer's host and
pid are part of every WARC name (``{prefix}-{time}-{serial}-{host}-{pid}.warc.gz``), so
the question is whether that process still runs: a pid that does not exist is a dead
writer; a pid that exists but whose process started after the file was last written to
is a recycled pid, so the writer is dead too.  A file written on another host cannot be
judged from here and is left alone, unless the crawl's crawl.json says it finished (its
writers are gone by definition).  Scrapy-free; archiver.storage.upload_spool calls it.
"""

from __future__ import annotations

import logging
import os
import re
import socket
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from archiver.spool.layout import CrawlDir
from archiver.spool.process import pid_exists, process_start
from archiver.warc import CORRUPT_SUFFIX, OPEN_SUFFIX, WARC_SUFFIX, recover_open_file

logger = logging.getLogger(__name__)

_OPEN_WARC = re.compile(
    r"-(?P<stamp>\d{17})-(?P<serial>\d{5,})-(?P<host>[A-Za-z0-9.-]+)-(?P<pid>\d+)"
    + re.escape(WARC_SUFFIX + OPEN_SUFFIX)
    + "$"
)
_HOST_UNSAFE = re.compile(r"[^A-Za-z0-9.-]")
# Process start times come in clock ticks (10 ms) and file times may be coarse: a start
# this close to the last write counts as "before", so the doubt goes to "still alive".
_CLOCK_SLACK = 1.0


class Writer(Enum):
    """What is known about the process that writes an open WARC."""

    ALIVE = "alive"
    DEAD = "dead"
    UNKNOWN = "unknown"


@dataclass
class Recovery:
    """What one recovery pass over a crawl directory did."""

    recovered: list[Path] = field(default_factory=list)
    corrupt: list[Path] = field(default_factory=list)
    left: list[Path] = field(default_factory=list)


def writer_of(path: Path) -> tuple[str, int] | None:
    """(host, pid) of the writer named in an open WARC file's name, or None."""
    match = _OPEN_WARC.search(Path(path).name)
    if match is None:
        return None
    return match["host"], int(match["pid"])


def _local_host() -> str:
    # The writer puts the host name in file names with this same substitution.
    return _HOST_UNSAFE.sub("-", socket.gethostname())


def writer_state(path: Path) -> Writer:
    """Whether the process named in an open WARC's name is still the one writing it."""
    writer = writer_of(path)
    if writer is None:
        return Writer.UNKNOWN
    host, pid = writer
    if host != _local_host():
        return Writer.UNKNOWN
    if pid == os.getpid():
        return Writer.ALIVE
    if not pid_exists(pid):
        return Writer.DEAD
    started = process_start(pid)
    if started is None:
        return Writer.ALIVE
    try:
        last_write = Path(path).stat().st_mtime
    except FileNotFoundError:
        # Closed (renamed) meanwhile: its writer finished it.
        return Writer.ALIVE
    return Writer.DEAD if started > last_write + _CLOCK_SLACK else Writer.ALIVE


def recover_open_files(crawl: CrawlDir) -> Recovery:
    """Recover the open WARCs of a crawl directory whose writers are gone; leave the rest."""
    result = Recovery()
    finished = crawl.info.finished is not None
    for path in crawl.open_files():
        if not path.name.endswith(WARC_SUFFIX + OPEN_SUFFIX):
            continue
        state = writer_state(path)
        if state is Writer.ALIVE or (state is Writer.UNKNOWN and not finished):
            result.left.append(path)
            continue
        try:
            recovered = recover_open_file(path)
        except FileNotFoundError:
            continue  # renamed by its writer or another pass meanwhile
        except (OSError, ValueError) as exc:
            logger.error("event=recovery_failed file=%s error=%s", path, exc)
            result.left.append(path)
            continue
        if recovered is None:
            corrupt = path.with_name(path.name[: -len(OPEN_SUFFIX)] + CORRUPT_SUFFIX)
            result.corrupt.append(corrupt)
            logger.warning(
                "event=open_file_unrecoverable crawl=%s file=%s kept_as=%s",
                crawl.info.crawl_id,
                path.name,
                corrupt.name,
            )
        else:
            result.recovered.append(recovered)
            logger.warning(
                "event=open_file_recovered crawl=%s file=%s writer=%s",
                crawl.info.crawl_id,
                recovered.name,
                state.value,
            )
    return result
