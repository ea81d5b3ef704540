"""Running crawls as a service: one crawl's archive (WARC writing, uploads, the manifest), the
sites file, per-site locks, capture history, recrawl policy, resuming a crawl, judging its
stats, and the Scrapy-free half of distributed mode.

Built on storage, index, spool and warc; never imports access, commands or Scrapy (the crawler
layer adapts it to Scrapy).
"""

from __future__ import annotations

from archiver.operations.archive import (
    ITEMS_PART,
    CrawlArchive,
    warcinfo_fields,
)
from archiver.operations.crawlstats import (
    DEFAULT_MAX_ERROR_RATE,
    STATS_NAME,
    assess,
    crawl_stats,
)
from archiver.operations.distributed import (
    FrontierKeys,
    WorkerRoll,
    merge_manifests,
    scheduler_settings,
    validate_crawl_id,
    worker_crawl_id,
    worker_name,
)
from archiver.operations.history import (
    ArticleEvent,
    CaptureEvent,
    CaptureHistory,
    HistoryError,
    HistoryEvent,
    HistoryWriter,
    PayloadIndex,
    PayloadRef,
    backup_history,
    history_key,
    restore_history,
)
from archiver.operations.locks import (
    AlreadyRunning,
    LockHolder,
    SiteLock,
    process_identity,
    read_holder,
)
from archiver.operations.recrawl import (
    DEFAULT_AFTER_PUBLICATION,
    Decision,
    KnownPage,
    RecrawlPolicy,
    decide,
    format_duration,
    parse_duration,
)
from archiver.operations.resume import (
    RecordReader,
    RemoteFile,
    ResumeState,
    StoredResponse,
    recover_crawl,
)
from archiver.operations.sites import (
    SiteConfig,
    SitesError,
    load_sites,
    parse_sites,
)

__all__ = [
    "DEFAULT_AFTER_PUBLICATION",
    "DEFAULT_MAX_ERROR_RATE",
    "ITEMS_PART",
    "STATS_NAME",
    "AlreadyRunning",
    "ArticleEvent",
    "CaptureEvent",
    "CaptureHistory",
    "CrawlArchive",
    "Decision",
    "FrontierKeys",
    "HistoryError",
    "HistoryEvent",
    "HistoryWriter",
    "KnownPage",
    "LockHolder",
    "PayloadIndex",
    "PayloadRef",
    "RecordReader",
    "RecrawlPolicy",
    "RemoteFile",
    "ResumeState",
    "SiteConfig",
    "SiteLock",
    "SitesError",
    "StoredResponse",
    "WorkerRoll",
    "assess",
    "backup_history",
    "crawl_stats",
    "decide",
    "format_duration",
    "history_key",
    "load_sites",
    "merge_manifests",
    "parse_duration",
    "parse_sites",
    "process_identity",
    "read_holder",
    "recover_crawl",
    "restore_history",
    "scheduler_settings",
    "validate_crawl_id",
    "warcinfo_fields",
    "worker_crawl_id",
    "worker_name",
]
