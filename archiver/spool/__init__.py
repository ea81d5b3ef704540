"""The local spool: one directory per crawl holding its WARCs and sidecars until upload, and
recovery of the ``.open`` files a dead writer left in one.

Owns the on-disk layout of crawl directories. Below storage and index (both read crawl
directories); never talks to S3.
"""

from __future__ import annotations

from archiver.spool.layout import (
    CRAWL_FILE,
    FINAL_FILES,
    HISTORY_FILE,
    JOURNAL_FILE,
    CrawlDir,
    CrawlInfo,
    CrawlJournal,
    JobPlan,
    SiteDir,
    SpoolError,
    end_job,
    iter_crawl_dirs,
    iter_site_dirs,
    new_crawl_id,
    read_job,
    read_json_lines,
    spool_size,
    start_job,
    truncate_torn_line,
)
from archiver.spool.recovery import (
    Writer,
    process_start,
    recover_crawl,
    writer_state,
)

__all__ = [
    "CRAWL_FILE",
    "FINAL_FILES",
    "HISTORY_FILE",
    "JOURNAL_FILE",
    "CrawlDir",
    "CrawlInfo",
    "CrawlJournal",
    "JobPlan",
    "SiteDir",
    "SpoolError",
    "Writer",
    "end_job",
    "iter_crawl_dirs",
    "iter_site_dirs",
    "new_crawl_id",
    "process_start",
    "read_job",
    "read_json_lines",
    "recover_crawl",
    "spool_size",
    "start_job",
    "truncate_torn_line",
    "writer_state",
]
