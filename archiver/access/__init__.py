"""What researchers call: lookups in the archive index, HTTP range reads of single records,
fetching and verifying stored crawls, WACZ export and pywb replay.

Built on index, storage, warc and cleaning; never writes captures and never imports
operations, commands or Scrapy.
"""

from __future__ import annotations

from archiver.access.replay import (
    COLLECTION,
    ReplayError,
    ReplayServer,
    ensure_pywb,
    prepare,
    pywb_environment,
)
from archiver.access.retrieve import (
    READ_BLOCK,
    Progress,
    Slice,
    StoredCrawl,
    VerifyReport,
    capture_text,
    citation,
    closest,
    copy_spans,
    download,
    find,
    iter_progress_total,
    list_stored_crawls,
    open_archive,
    parse_response,
    read_capture,
    read_capture_records,
    select_slice,
    verify_crawl,
)
from archiver.access.wacz import (
    export_slice,
    export_wacz,
)

__all__ = [
    "COLLECTION",
    "READ_BLOCK",
    "Progress",
    "ReplayError",
    "ReplayServer",
    "Slice",
    "StoredCrawl",
    "VerifyReport",
    "capture_text",
    "citation",
    "closest",
    "copy_spans",
    "download",
    "ensure_pywb",
    "export_slice",
    "export_wacz",
    "find",
    "iter_progress_total",
    "list_stored_crawls",
    "open_archive",
    "parse_response",
    "prepare",
    "pywb_environment",
    "read_capture",
    "read_capture_records",
    "select_slice",
    "verify_crawl",
]
