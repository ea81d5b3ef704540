"""S3-compatible storage: configuration, object keys, digests, the verified uploader and the
spool upload pass.

Owns every write to the bucket. Knows nothing about indexes, sites or Scrapy; a layer above
that wants to act once a crawl is stored passes a callback to :func:`upload_spool`.
"""

from __future__ import annotations

from archiver.storage.config import S3Config, client_from_settings, make_client
from archiver.storage.digests import (
    METADATA_SHA256,
    READ_BLOCK,
    LocalDigest,
    digest_file,
    part_size_for,
    written_digest,
)
from archiver.storage.keys import MAX_COMPONENT_BYTES, content_type_for, object_key
from archiver.storage.spoolpass import SpoolReport, upload_spool
from archiver.storage.uploader import (
    Uploader,
    UploadError,
    UploadResult,
    bucket_check,
    describe_error,
)

__all__ = [
    "MAX_COMPONENT_BYTES",
    "METADATA_SHA256",
    "READ_BLOCK",
    "LocalDigest",
    "S3Config",
    "SpoolReport",
    "UploadError",
    "UploadResult",
    "Uploader",
    "bucket_check",
    "client_from_settings",
    "content_type_for",
    "describe_error",
    "digest_file",
    "make_client",
    "object_key",
    "part_size_for",
    "upload_spool",
    "written_digest",
]
