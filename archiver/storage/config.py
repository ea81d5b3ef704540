"""S3 configuration: the ARCHIVER_S3_* settings checked into an S3Config, and the boto3 client."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, Self
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

from archiver import SOFTWARE
from archiver.config import SettingError
from archiver.storage.keys import prefix_segments

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# S3's own limits: parts between 5 MiB and 5 GiB.
MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PART_SIZE = 5 * 1024 * 1024 * 1024
# Connecting to a live endpoint takes milliseconds; a part upload may wait on a slow disk.
CONNECT_TIMEOUT = 10
READ_TIMEOUT = 120

_ADDRESSING_STYLES = ("path", "virtual", "auto")


class SettingsLike(Protocol):
    """The part of Scrapy's Settings that S3Config reads."""

    def get(self, name: str, default: Any = None) -> Any:
        """A raw setting value."""

    def getint(self, name: str, default: int = 0) -> int:
        """A setting as an integer."""

    def getbool(self, name: str, default: bool = False) -> bool:
        """A setting as a boolean."""


@dataclass(frozen=True)
class S3Config:
    """Where and how to upload: bucket, key prefix, endpoint and transfer tuning."""

    bucket: str
    prefix: str = "news-archiver"
    endpoint_url: str | None = None
    region: str | None = None
    addressing_style: str = "path"
    multipart_threshold: int = 64 * 1024 * 1024
    multipart_chunksize: int = 64 * 1024 * 1024
    max_attempts: int = 5
    upload_threads: int = 2
    keep_local: bool = False
    connect_timeout: float = CONNECT_TIMEOUT
    read_timeout: float = READ_TIMEOUT

    def __post_init__(self) -> None:
        if self.bucket and (len(self.bucket) < 3 or re.search(r"[\s/]", self.bucket)):
            raise SettingError(
                f"ARCHIVER_S3_BUCKET: {self.bucket!r} is not a bucket name "
                "(3 or more characters, no spaces or slashes)"
            )
        if self.endpoint_url is not None:
            if not re.match(r"https?://[^/\s]+", self.endpoint_url):
                raise SettingError(
                    f"ARCHIVER_S3_ENDPOINT_URL: {self.endpoint_url!r} is not an http(s):// URL"
                )
            if "@" in urlsplit(self.endpoint_url).netloc:
                # Never echo it: the part before "@" is a credential.
                raise SettingError(
                    "ARCHIVER_S3_ENDPOINT_URL must not hold credentials (user:password@); "
                    "use the AWS chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile, a role)"
                )
        if self.addressing_style not in _ADDRESSING_STYLES:
            raise SettingError(
                f"ARCHIVER_S3_ADDRESSING_STYLE: expected one of {', '.join(_ADDRESSING_STYLES)}, "
                f"got {self.addressing_style!r}"
            )
        if not MIN_PART_SIZE <= self.multipart_chunksize <= MAX_PART_SIZE:
            raise SettingError(
                "ARCHIVER_S3_MULTIPART_CHUNKSIZE: S3 parts must be between 5 MiB and 5 GiB, "
                f"got {self.multipart_chunksize}"
            )
        if self.multipart_threshold < 1:
            raise SettingError(
                f"ARCHIVER_S3_MULTIPART_THRESHOLD: must be positive, got {self.multipart_threshold}"
            )
        if self.max_attempts < 1:
            raise SettingError(
                f"ARCHIVER_S3_MAX_ATTEMPTS: must be 1 or more, got {self.max_attempts}"
            )
        if self.connect_timeout <= 0 or self.read_timeout <= 0:
            raise SettingError(
                "ARCHIVER_S3_CONNECT_TIMEOUT and ARCHIVER_S3_READ_TIMEOUT must be positive, "
                f"got {self.connect_timeout} and {self.read_timeout}"
            )
        if self.upload_threads < 1:
            raise SettingError(
                f"ARCHIVER_S3_UPLOAD_THREADS: must be 1 or more, got {self.upload_threads}"
            )
        try:
            prefix_segments(self.prefix)
        except ValueError as exc:
            raise SettingError(f"ARCHIVER_S3_PREFIX: {exc}") from None

    @classmethod
    def from_settings(cls, settings: SettingsLike) -> Self:
        """Read the ARCHIVER_S3_* settings; raises SettingError for values that cannot work."""

        def text(name: str, default: str = "") -> str:
            return str(settings.get(name) or default).strip()

        def number(name: str, default: int) -> int:
            try:
                return settings.getint(name, default)
            except (TypeError, ValueError):
                raise SettingError(
                    f"{name}: expected an integer, got {settings.get(name)!r}"
                ) from None

        try:
            keep_local = settings.getbool("ARCHIVER_KEEP_LOCAL", False)
        except (TypeError, ValueError):
            raise SettingError(
                f"ARCHIVER_KEEP_LOCAL: expected true or false, got "
                f"{settings.get('ARCHIVER_KEEP_LOCAL')!r}"
            ) from None

        def seconds(name: str, default: float) -> float:
            try:
                return float(settings.get(name) or default)
            except (TypeError, ValueError):
                raise SettingError(
                    f"{name}: expected a number of seconds, got {settings.get(name)!r}"
                ) from None

        endpoint = text("ARCHIVER_S3_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL", "")
        return cls(
            bucket=text("ARCHIVER_S3_BUCKET"),
            prefix=text("ARCHIVER_S3_PREFIX"),
            endpoint_url=endpoint.strip() or None,
            region=text("ARCHIVER_S3_REGION") or None,
            addressing_style=text("ARCHIVER_S3_ADDRESSING_STYLE", "path").lower(),
            multipart_threshold=number("ARCHIVER_S3_MULTIPART_THRESHOLD", 64 << 20),
            multipart_chunksize=number("ARCHIVER_S3_MULTIPART_CHUNKSIZE", 64 << 20),
            max_attempts=number("ARCHIVER_S3_MAX_ATTEMPTS", 5),
            upload_threads=number("ARCHIVER_S3_UPLOAD_THREADS", 2),
            keep_local=keep_local,
            connect_timeout=seconds("ARCHIVER_S3_CONNECT_TIMEOUT", CONNECT_TIMEOUT),
            read_timeout=seconds("ARCHIVER_S3_READ_TIMEOUT", READ_TIMEOUT),
        )

    @property
    def worst_case_seconds(self) -> float:
        """The longest one S3 call can take: every attempt timing out, plus retry backoff."""
        # botocore's standard mode sleeps up to min(20, 2**(n-1)) s before attempt n + 1.
        backoff = sum(min(20.0, 2.0 ** (n - 1)) for n in range(1, self.max_attempts))
        return self.max_attempts * (self.connect_timeout + self.read_timeout) + backoff

    @property
    def enabled(self) -> bool:
        """True when a bucket is configured, i.e. uploads are on."""
        return bool(self.bucket)

    @property
    def server(self) -> str:
        """The endpoint as shown in messages (never with credentials)."""
        return self.endpoint_url or f"AWS S3 ({self.region or 'default region'})"


def _as_config(settings: SettingsLike | S3Config) -> S3Config:
    return settings if isinstance(settings, S3Config) else S3Config.from_settings(settings)


def make_client(cfg: S3Config) -> S3Client:
    """A boto3 S3 client for cfg; credentials come only from the standard AWS chain."""
    session = boto3.session.Session()
    region = cfg.region or session.region_name or "us-east-1"
    # Checked against the allowed styles in S3Config; botocore types it as a Literal.
    s3_options: Any = {"addressing_style": cfg.addressing_style}
    config = Config(
        region_name=region,
        signature_version="s3v4",
        s3=s3_options,
        retries={"mode": "standard", "total_max_attempts": cfg.max_attempts},
        connect_timeout=cfg.connect_timeout,
        read_timeout=cfg.read_timeout,
        # One connection per concurrent part, plus room for the HEAD requests.
        max_pool_connections=max(10, cfg.upload_threads * 2),
        user_agent_extra=SOFTWARE,
    )
    return session.client("s3", endpoint_url=cfg.endpoint_url, config=config)


def client_from_settings(settings: SettingsLike | S3Config) -> S3Client:
    """make_client for Scrapy settings (or an S3Config)."""
    return make_client(_as_config(settings))
