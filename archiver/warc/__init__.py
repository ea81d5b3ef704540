"""WARC/1.1 records of HTTP exchanges, the rotating gzip WARC writer and its thread, recovery of
``.open`` files.

Owns the bytes of every WARC file this project writes. Imports nothing else from the project:
no storage, no index, no Scrapy.
"""

from __future__ import annotations

from archiver.warc.chunked import dechunk
from archiver.warc.exchange import (
    DigestAlgorithm,
    HttpExchange,
    digest,
    new_record_id,
    parse_digest_algorithm,
    parse_warc_date,
    warc_date,
)
from archiver.warc.records import (
    build_exchange_records,
    build_metadata_record,
    build_request_record,
    build_revisit_record,
    build_warcinfo_record,
    stored_response,
)
from archiver.warc.recovery import CORRUPT_SUFFIX, recover_open_file
from archiver.warc.thread import WarcWriterThread
from archiver.warc.writer import (
    GZIP_LEVEL,
    OPEN_SUFFIX,
    WARC_SUFFIX,
    ClosedWarc,
    RecordLocation,
    RotatingWarcWriter,
    warc_filename,
)

__all__ = [
    "CORRUPT_SUFFIX",
    "GZIP_LEVEL",
    "OPEN_SUFFIX",
    "WARC_SUFFIX",
    "ClosedWarc",
    "DigestAlgorithm",
    "HttpExchange",
    "RecordLocation",
    "RotatingWarcWriter",
    "WarcWriterThread",
    "build_exchange_records",
    "build_metadata_record",
    "build_request_record",
    "build_revisit_record",
    "build_warcinfo_record",
    "dechunk",
    "digest",
    "new_record_id",
    "parse_digest_algorithm",
    "parse_warc_date",
    "recover_open_file",
    "stored_response",
    "warc_date",
    "warc_filename",
]
