"""S3-compatible storage: configuration, object keys, digests, the verified uploader and the
spool upload pass.

Owns every write to the bucket. Knows nothing about indexes, sites or Scrapy; a layer above
that wants to act once a crawl is stored passes a callback to :func:`upload_spool`.
"""

from __future__ import annotations

from archiver.storage.uploader import (
    MAX_COMPONENT_BYTES,
    METADATA_SHA256,
    LocalDigest,
    S3Config,
    SpoolReport,
    Uploader,
    UploadError,
    UploadResult,
    add_crawl_stored_hook,
    bucket_check,
    client_from_settings,
    content_type_for,
    describe_error,
    digest_file,
    make_client,
    object_key,
    part_size_for,
    upload_spool,
    written_digest,
)

__all__ = [
    "MAX_COMPONENT_BYTES",
    "METADATA_SHA256",
    "LocalDigest",
    "S3Config",
    "SpoolReport",
    "UploadError",
    "UploadResult",
    "Uploader",
    "add_crawl_stored_hook",
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
