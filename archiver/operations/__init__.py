"""Running crawls as a service: one crawl's archive (WARC writing, uploads, the manifest), the
sites file, per-site locks, capture history, recrawl policy, resuming a crawl, one run of a
site, judging its stats, what `archiver status` reports, and the Scrapy-free half of
distributed mode.

Built on storage, index, spool and warc; never imports access, commands or Scrapy (the crawler
layer adapts it to Scrapy).
"""

from __future__ import annotations

from archiver.operations.adhoc import (
    AdhocLimits,
    group_by_host,
    host_site_name,
    write_adhoc_site,
)
from archiver.operations.archive import (
    ITEMS_PART,
    CrawlArchive,
    warcinfo_fields,
)
from archiver.operations.captures import ExchangeRefs, Revisits
from archiver.operations.crawlprogress import PROGRESS_NAME, LiveLines, progress_line
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
from archiver.operations.launcher import (
    CrawlChildren,
    SiteResult,
    run_site,
)
from archiver.operations.locks import (
    LOCK_FD_ENV,
    AlreadyRunning,
    LockHolder,
    SiteLock,
    read_holder,
)
from archiver.operations.manifest import CrawlManifest
from archiver.operations.records import RecordQueue
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
from archiver.operations.sitedir import (
    HISTORY_FILE,
    JOURNAL_FILE,
    CrawlJournal,
    JobPlan,
    SiteDir,
    end_job,
    iter_site_dirs,
    read_job,
    read_json_lines,
    start_job,
    truncate_torn_line,
)
from archiver.operations.sitehistory import RunHistory, RunStats
from archiver.operations.siterun import SiteSession
from archiver.operations.sites import (
    SiteConfig,
    SitesError,
    load_sites,
    parse_sites,
)
from archiver.operations.status import (
    site_status,
    spool_status,
)
from archiver.operations.uploads import CrawlUploads

__all__ = [
    "DEFAULT_AFTER_PUBLICATION",
    "DEFAULT_MAX_ERROR_RATE",
    "HISTORY_FILE",
    "ITEMS_PART",
    "JOURNAL_FILE",
    "LOCK_FD_ENV",
    "PROGRESS_NAME",
    "STATS_NAME",
    "AdhocLimits",
    "AlreadyRunning",
    "ArticleEvent",
    "CaptureEvent",
    "CaptureHistory",
    "CrawlArchive",
    "CrawlChildren",
    "CrawlJournal",
    "CrawlManifest",
    "CrawlUploads",
    "Decision",
    "ExchangeRefs",
    "FrontierKeys",
    "HistoryError",
    "HistoryEvent",
    "HistoryWriter",
    "JobPlan",
    "KnownPage",
    "LiveLines",
    "LockHolder",
    "PayloadIndex",
    "PayloadRef",
    "RecordQueue",
    "RecordReader",
    "RecrawlPolicy",
    "RemoteFile",
    "ResumeState",
    "Revisits",
    "RunHistory",
    "RunStats",
    "SiteConfig",
    "SiteDir",
    "SiteLock",
    "SiteResult",
    "SiteSession",
    "SitesError",
    "StoredResponse",
    "WorkerRoll",
    "assess",
    "backup_history",
    "crawl_stats",
    "decide",
    "end_job",
    "format_duration",
    "group_by_host",
    "history_key",
    "host_site_name",
    "iter_site_dirs",
    "load_sites",
    "merge_manifests",
    "parse_duration",
    "parse_sites",
    "progress_line",
    "read_holder",
    "read_job",
    "read_json_lines",
    "recover_crawl",
    "restore_history",
    "run_site",
    "scheduler_settings",
    "site_status",
    "spool_status",
    "start_job",
    "truncate_torn_line",
    "validate_crawl_id",
    "warcinfo_fields",
    "worker_crawl_id",
    "worker_name",
    "write_adhoc_site",
]
