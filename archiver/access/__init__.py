"""What researchers call: lookups in the archive index, HTTP range reads of single records,
fetching and verifying stored crawls, WACZ export, pywb replay, and the cleaner run again
over archived responses.

Built on index, storage, warc and cleaning; never writes captures and never imports
operations, commands or Scrapy.
"""

from __future__ import annotations

from archiver.access.crawls import StoredCrawl, list_stored_crawls, other_prefixes
from archiver.access.extract import (
    CleaningPool,
    CountingReader,
    HtmlCapture,
    SourceError,
    clean_html_capture,
    iter_html_captures,
    local_warc_path,
)
from archiver.access.lookup import citation, closest, find, open_archive
from archiver.access.records import (
    ArchiveDamage,
    WarcDamage,
    capture_location,
    capture_text,
    check_records,
    parse_response,
    printable,
    read_capture,
    read_capture_records,
)
from archiver.access.replay import (
    COLLECTION,
    ReplayError,
    ReplayServer,
    ensure_pywb,
    prepare,
    pywb_environment,
)
from archiver.access.selection import (
    SelectionError,
    select_crawls,
    select_site_slice,
    slice_crawls,
)
from archiver.access.slices import Slice, copy_spans, select_slice
from archiver.access.transfer import Progress, download, iter_progress_total
from archiver.access.verify import VerifyReport, verify_crawl
from archiver.access.wacz import (
    export_slice,
    export_wacz,
)

# Re-exported: the block size of streamed reads and writes, one value for storage and access.
from archiver.storage import READ_BLOCK

__all__ = [
    "COLLECTION",
    "READ_BLOCK",
    "ArchiveDamage",
    "CleaningPool",
    "CountingReader",
    "HtmlCapture",
    "Progress",
    "ReplayError",
    "ReplayServer",
    "SelectionError",
    "Slice",
    "SourceError",
    "StoredCrawl",
    "VerifyReport",
    "WarcDamage",
    "capture_location",
    "capture_text",
    "check_records",
    "citation",
    "clean_html_capture",
    "closest",
    "copy_spans",
    "download",
    "ensure_pywb",
    "export_slice",
    "export_wacz",
    "find",
    "iter_html_captures",
    "iter_progress_total",
    "list_stored_crawls",
    "local_warc_path",
    "open_archive",
    "other_prefixes",
    "parse_response",
    "prepare",
    "printable",
    "pywb_environment",
    "read_capture",
    "read_capture_records",
    "select_crawls",
    "select_site_slice",
    "select_slice",
    "slice_crawls",
    "verify_crawl",
]
