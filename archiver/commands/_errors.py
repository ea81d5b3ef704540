"""The CLI's one error layer: every failure a subcommand meets becomes one line on stderr.

Storage faults (no bucket, access denied, rejected or missing credentials, endpoint down,
timeout), damaged WARCs and indexes, bad settings and bad input are each said in one line
naming what failed and what to do, with exit code 1 (the command ran and failed) or 2 (the
command line or settings are wrong); `archiver -v` prints the traceback first. The group in
archiver/cli.py is an ErrorReportingGroup, so no subcommand handles these itself.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import logging
import sys
import traceback
import unicodedata
import zlib
from typing import Any

import click
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
)
from warcio.exceptions import ArchiveLoadFailed

from archiver.access import ArchiveDamage, ReplayError, SelectionError, SourceError, WarcDamage
from archiver.commands._base import EXIT_FAILURE, ConfigurationError
from archiver.config import SettingError
from archiver.storage import S3Config, UploadError, bucket_check, describe_error, make_client

logger = logging.getLogger(__name__)

# Long enough for a key, a server and a hint; a message longer than this is cut.
MAX_MESSAGE = 600

_REJECTED = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken"}
_DENIED = {"AccessDenied", "403", "Forbidden", "AllAccessDisabled"}
_NO_BUCKET = {"NoSuchBucket"}
# What reading a damaged WARC, index part, run or manifest raises (gzip's error is an OSError).
_DAMAGE = (
    ArchiveLoadFailed,
    zlib.error,
    EOFError,
    gzip.BadGzipFile,
    UnicodeDecodeError,
    json.JSONDecodeError,
)
_CREDENTIALS_HINT = "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)"


def one_line(text: object, limit: int = MAX_MESSAGE) -> str:
    """Text safe for one terminal line: control and binary characters escaped, whitespace
    runs collapsed, cut at `limit` characters."""
    binary = isinstance(text, bytes)
    raw = text.decode("latin-1") if isinstance(text, bytes) else str(text)
    out = []
    for char in raw:
        category = unicodedata.category(char)
        # Cc/Cf/Co/Cn/Cs: controls, format marks, private use, unassigned, surrogates; of
        # bytes, \x80-\xff too (binary, shown as escapes rather than as Latin-1 letters).
        if char in " \t\n\r":
            out.append(char)
        elif category in {"Cc", "Cf", "Co", "Cn", "Cs"} or (binary and char >= "\x80"):
            out.append(char.encode("unicode_escape").decode("ascii"))
        else:
            out.append(char)
    line = " ".join("".join(out).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


class CommandError(click.ClickException):
    """A failure met while the command ran, worded for the user in one line (exit code 1)."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


class StorageError(Exception):
    """A storage failure met while reading an object of another bucket than ARCHIVER_S3_BUCKET
    (an s3:// source): carries that bucket so the message names it."""

    def __init__(self, cause: BaseException, bucket: str, what: str) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.bucket = bucket
        self.what = what


def _storage_config(obj: Any) -> S3Config | None:
    """The storage settings of the CLI's Context, when they can be read."""
    try:
        return S3Config.from_settings(obj.settings)
    except Exception:  # no Context, or settings that fail: the message names no bucket then
        return None


def _diagnose(cfg: S3Config | None) -> str | None:
    """Why the bucket cannot be used, as upload's bucket check words it; None if it can."""
    if cfg is None or not cfg.enabled:
        return None
    try:
        bucket_check(cfg, make_client(cfg))
    except UploadError as exc:
        return str(exc)
    except Exception:  # the diagnosis is a courtesy; the first error is still reported
        logger.debug("bucket check failed", exc_info=True)
    return None


def _config_for(obj: Any, bucket: str) -> S3Config | None:
    cfg = _storage_config(obj)
    try:
        return dataclasses.replace(cfg, bucket=bucket) if cfg is not None else None
    except SettingError:
        return None


def missing_object(exc: BaseException, obj: Any, bucket: str) -> bool:
    """True when exc is a 404 for an object of a bucket that exists (only the key is wrong)."""
    if not isinstance(exc, ClientError):
        return False
    code = str(exc.response.get("Error", {}).get("Code", ""))
    if code not in {"404", "NoSuchKey", "NotFound"}:
        return False
    cfg = _config_for(obj, bucket)
    return cfg is not None and _diagnose(cfg) is None


def _with_hint(message: str) -> str:
    if "does not exist" in message:
        return f"{message}: create it, or set ARCHIVER_S3_BUCKET to an existing bucket"
    if "rejected the credentials" in message:
        return f"{message}: {_CREDENTIALS_HINT}"
    if "cannot be reached" in message:
        return f"{message}: is the server running? check ARCHIVER_S3_ENDPOINT_URL"
    if "access denied" in message:
        return f"{message}: these credentials may not read this bucket; {_CREDENTIALS_HINT}"
    return message


def explain_storage(exc: BaseException, cfg: S3Config | None) -> str:
    """One line for an S3 failure: what failed, on which server and bucket, and what to do."""
    server = cfg.server if cfg is not None else "the storage endpoint"
    where = f"server {server}" + (f", bucket {cfg.bucket!r}" if cfg and cfg.bucket else "")
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return f"storage: no usable credentials in the AWS chain ({where}): {_CREDENTIALS_HINT}"
    if isinstance(exc, EndpointConnectionError | ConnectionClosedError | ConnectTimeoutError):
        return (
            f"storage: cannot connect to {server}: is the server running? "
            "check ARCHIVER_S3_ENDPOINT_URL (or AWS_ENDPOINT_URL)"
        )
    if isinstance(exc, ReadTimeoutError):
        limit = f"{cfg.read_timeout:g} s" if cfg is not None else "ARCHIVER_S3_READ_TIMEOUT"
        return (
            f"storage: {server} did not answer within {limit}: try again later, "
            "or raise ARCHIVER_S3_READ_TIMEOUT"
        )
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in _NO_BUCKET:
            return _with_hint(f"storage: the bucket does not exist ({where})")
        if code in _REJECTED:
            return _with_hint(f"storage: the server rejected the credentials ({code}) ({where})")
        if code in _DENIED or status == 403 or code in {"404", "NotFound"}:
            # HEAD answers carry no error code: ask the bucket why, as `upload` does.
            found = _diagnose(cfg)
            if found is not None:
                return "storage: " + _with_hint(found)
        if code == "InvalidRange":
            return (
                f"storage: a stored file is shorter than its index says ({where}): the index "
                "or the file is damaged: `archiver verify` checks the crawls, "
                "`archiver reindex` rebuilds the index"
            )
        if code in {"404", "NotFound", "NoSuchKey"}:
            return f"storage: {exc.operation_name}: no such object ({where})"
        if code in _DENIED or status == 403:
            return _with_hint(f"storage: access denied to {exc.operation_name} ({where})")
        if isinstance(status, int) and status >= 500:
            return (
                f"storage: {exc.operation_name} failed on the server: {describe_error(exc)} "
                f"({where}): try again later"
            )
        return f"storage: {exc.operation_name} failed: {describe_error(exc)} ({where})"
    return f"storage: {describe_error(exc)} ({where})"


def explain(exc: BaseException, obj: Any = None) -> click.ClickException:
    """The one-line error for an exception a subcommand raised; obj is the CLI's Context."""
    if isinstance(exc, StorageError):
        cfg = _config_for(obj, exc.bucket)
        return CommandError(f"{exc.what}: {explain_storage(exc.cause, cfg)}")
    if isinstance(exc, SettingError):
        return ConfigurationError(one_line(exc))
    if isinstance(exc, UploadError):
        return CommandError("storage: " + _with_hint(str(exc)))
    if isinstance(exc, ClientError | BotoCoreError):
        return CommandError(explain_storage(exc, _storage_config(obj)))
    if isinstance(exc, WarcDamage):
        return CommandError(f"{exc} (`archiver verify` lists every damaged record)")
    if isinstance(exc, ArchiveDamage):
        return CommandError(str(exc))
    if isinstance(exc, _DAMAGE):
        return CommandError(
            f"damaged data in storage (a WARC, an index or a manifest): "
            f"{type(exc).__name__}: {exc}: `archiver verify` checks the crawls, "
            "`archiver reindex` rebuilds the index"
        )
    if isinstance(exc, ReplayError | SelectionError | SourceError):
        return CommandError(str(exc))
    if isinstance(exc, OSError) and exc.strerror:
        name = exc.filename if exc.filename is not None else ""
        return CommandError(f"{name}: {exc.strerror}" if name else exc.strerror)
    return CommandError(
        f"unexpected {type(exc).__name__}: {exc} (`archiver -v` shows the traceback; "
        "please report it)"
    )


class ErrorReportingGroup(click.Group):
    """A click group whose subcommands' failures are reported by :func:`explain`."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand; turn what it raises into one line (and a traceback with -v)."""
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:
            if getattr(ctx.obj, "verbose", 0):
                traceback.print_exception(exc, file=sys.stderr)
            raise explain(exc, ctx.obj) from exc
