"""CDXJ indexes: keys and lines, the per-WARC sidecar, sorted runs, ZipNum blocks, the
archive-wide index in storage and its local cache.

Reads WARCs (archiver.warc) and crawl directories (archiver.spool), stores through
archiver.storage. Registers nothing on import: the upload pass is handed add_stored_crawl
by its callers. Never imports access, operations, commands or Scrapy.
"""

from __future__ import annotations

from archiver.index.archive import ArchiveIndex, add_stored_crawl, update_after_crawl
from archiver.index.cache import CachedArchiveIndex, cache_dir_from_settings
from archiver.index.cachedir import BLOCKS_DIR
from archiver.index.crawl import crawl_lines, iter_crawl_lines, relative_path
from archiver.index.keys import (
    INDEXED_TYPES,
    Capture,
    cdxj_line,
    surt_key,
    timestamp14,
    timestamp_bound,
    timestamp_datetime,
)
from archiver.index.runs import RUN_FILE, RUNS_DIR, RunInfo, runs_to_merge
from archiver.index.sidecar import index_file, iter_index_lines, sidecar_name, write_sidecar
from archiver.index.store import storage_key
from archiver.index.zipnum import (
    BLOCK_LINES,
    CLUSTER_FILE,
    MATCH_TYPES,
    ByteRange,
    ClusterIndex,
    IdxEntry,
    KeyRange,
    gzip_block,
    key_range,
    merge_ranges,
    search_zipnum,
    write_zipnum,
)

# The crawl's manifest file name belongs to archiver.spool; still exported here for callers
# that import it with the index names.
from archiver.spool import MANIFEST_NAME

__all__ = [
    "BLOCKS_DIR",
    "BLOCK_LINES",
    "CLUSTER_FILE",
    "INDEXED_TYPES",
    "MANIFEST_NAME",
    "MATCH_TYPES",
    "RUNS_DIR",
    "RUN_FILE",
    "ArchiveIndex",
    "ByteRange",
    "CachedArchiveIndex",
    "Capture",
    "ClusterIndex",
    "IdxEntry",
    "KeyRange",
    "RunInfo",
    "add_stored_crawl",
    "cache_dir_from_settings",
    "cdxj_line",
    "crawl_lines",
    "gzip_block",
    "index_file",
    "iter_crawl_lines",
    "iter_index_lines",
    "key_range",
    "merge_ranges",
    "relative_path",
    "runs_to_merge",
    "search_zipnum",
    "sidecar_name",
    "storage_key",
    "surt_key",
    "timestamp14",
    "timestamp_bound",
    "timestamp_datetime",
    "update_after_crawl",
    "write_sidecar",
    "write_zipnum",
]
