"""The local spool: one directory per crawl holding its WARCs and sidecars until upload, and
recovery of the ``.open`` files a dead writer left in one.

Owns the on-disk layout of crawl directories, and the /proc reading that tells a live process
from a dead one. Below storage and index (both read crawl directories); never talks to S3.
Per-site state (locks, jobs, run logs) lives in archiver.operations.sitedir.
"""

from __future__ import annotations

from archiver.spool.layout import (
    CRAWL_FILE,
    FINAL_FILES,
    MANIFEST_NAME,
    CrawlDir,
    CrawlInfo,
    SpoolError,
    format_iso,
    iter_crawl_dirs,
    new_crawl_id,
    parse_iso,
    spool_size,
    write_json_atomic,
)
from archiver.spool.process import (
    pid_exists,
    process_identity,
    process_start,
)
from archiver.spool.recovery import (
    Writer,
    recover_open_files,
    writer_state,
)

__all__ = [
    "CRAWL_FILE",
    "FINAL_FILES",
    "MANIFEST_NAME",
    "CrawlDir",
    "CrawlInfo",
    "SpoolError",
    "Writer",
    "format_iso",
    "iter_crawl_dirs",
    "new_crawl_id",
    "parse_iso",
    "pid_exists",
    "process_identity",
    "process_start",
    "recover_open_files",
    "spool_size",
    "write_json_atomic",
    "writer_state",
]
