"""The local spool: one directory per crawl holding its WARCs and sidecar files until upload."""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from archiver.warc import OPEN_SUFFIX, WARC_SUFFIX

logger = logging.getLogger(__name__)

CRAWL_FILE = "crawl.json"
# The crawl's manifest: its WARC files with their sizes, digests and record counts.
MANIFEST_NAME = "manifest.json"
# Uploaded after everything else: their presence in the bucket means the crawl is complete.
FINAL_FILES = (MANIFEST_NAME, "stats.json")
# Writers create files under these names and rename them when done; they are never uploaded.
_IN_PROGRESS_SUFFIXES = (OPEN_SUFFIX, ".tmp", ".part")

_SPIDER_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
# Spider names are short identifiers; the bound keeps crawl ids well inside path and key limits.
_MAX_SPIDER_LEN = 64


class SpoolError(ValueError):
    """A crawl directory that cannot be read (missing or malformed crawl.json)."""


def _utc(when: datetime) -> datetime:
    """The same instant in UTC; a naive datetime is taken to be UTC already."""
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def format_iso(when: datetime) -> str:
    """ISO 8601 text of an instant in UTC, "Z" for the offset (as crawl.json stores dates)."""
    return _utc(when).isoformat().replace("+00:00", "Z")


def parse_iso(value: Any, name: str) -> datetime:
    """Aware UTC datetime of a stored ISO 8601 value, else SpoolError naming the field."""
    if not isinstance(value, str):
        raise SpoolError(f"{name} must be an ISO 8601 string, got {value!r}")
    try:
        return _utc(datetime.fromisoformat(value))
    except ValueError:
        raise SpoolError(f"{name} is not an ISO 8601 date: {value!r}") from None


@dataclass
class CrawlInfo:
    """What crawl.json records about one crawl."""

    crawl_id: str
    spider: str
    started: datetime
    finished: datetime | None = None
    start_urls: list[str] = field(default_factory=list)
    # The sites-file site this crawl is of (None for a crawl of URLs given by hand).
    site: str | None = None

    @property
    def crawl_date(self) -> str:
        """UTC date the crawl started, as YYYY-MM-DD (the date part of storage keys)."""
        return _utc(self.started).strftime("%Y-%m-%d")

    def to_json(self) -> dict[str, Any]:
        """The crawl.json document."""
        doc: dict[str, Any] = {
            "crawl_id": self.crawl_id,
            "spider": self.spider,
            "started": format_iso(self.started),
            "finished": format_iso(self.finished) if self.finished is not None else None,
            "start_urls": list(self.start_urls),
        }
        if self.site is not None:
            doc["site"] = self.site
        return doc

    @classmethod
    def from_json(cls, doc: Any) -> Self:
        """Parse a crawl.json document, raising SpoolError when it is malformed."""
        if not isinstance(doc, dict):
            raise SpoolError("crawl.json must hold a JSON object")
        crawl_id = doc.get("crawl_id")
        spider = doc.get("spider")
        if not isinstance(crawl_id, str) or not crawl_id:
            raise SpoolError(f"crawl_id must be a non-empty string, got {crawl_id!r}")
        if not isinstance(spider, str):
            raise SpoolError(f"spider must be a string, got {spider!r}")
        finished_raw = doc.get("finished")
        start_urls = doc.get("start_urls", [])
        if not isinstance(start_urls, list) or not all(isinstance(u, str) for u in start_urls):
            raise SpoolError("start_urls must be a list of strings")
        site = doc.get("site")
        if site is not None and not isinstance(site, str):
            raise SpoolError(f"site must be a string, got {site!r}")
        return cls(
            crawl_id=crawl_id,
            spider=spider,
            started=parse_iso(doc.get("started"), "started"),
            finished=None if finished_raw is None else parse_iso(finished_raw, "finished"),
            start_urls=start_urls,
            site=site,
        )


def new_crawl_id(spider: str, now: datetime) -> str:
    """A fresh crawl id, "{spider}-{YYYYMMDDTHHMMSSZ}-{6 hex}", safe as a path and key part."""
    name = _SPIDER_UNSAFE.sub("-", spider).strip("-.")[:_MAX_SPIDER_LEN] or "crawl"
    return f"{name}-{_utc(now).strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


def write_json_atomic(path: Path, doc: dict[str, Any]) -> None:
    """Write JSON so that readers see either the old file or the whole new one."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(doc, out, indent=2, ensure_ascii=False)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _is_in_progress(name: str) -> bool:
    return name.startswith(".") or name.endswith(_IN_PROGRESS_SUFFIXES)


def _upload_rank(name: str) -> int:
    if name.endswith(WARC_SUFFIX):
        return 0
    if name in FINAL_FILES:
        return 2
    return 1


class CrawlDir:
    """One crawl's spool directory: crawl.json, WARCs being written, closed WARCs, sidecars."""

    def __init__(self, root: Path, info: CrawlInfo) -> None:
        self.root = root
        self.info = info

    def __repr__(self) -> str:
        return f"CrawlDir({str(self.root)!r})"

    @classmethod
    def create(cls, spool_root: Path, info: CrawlInfo) -> Self:
        """Make the directory for a new crawl and write its crawl.json."""
        if not info.crawl_id or info.crawl_id in {".", ".."} or "/" in info.crawl_id:
            raise SpoolError(f"crawl id {info.crawl_id!r} cannot be a directory name")
        root = Path(spool_root) / info.crawl_id
        root.mkdir(parents=True, exist_ok=False)
        write_json_atomic(root / CRAWL_FILE, info.to_json())
        return cls(root, info)

    @classmethod
    def load(cls, path: Path) -> Self:
        """Read an existing crawl directory, raising SpoolError when crawl.json is unusable."""
        root = Path(path)
        try:
            doc = json.loads((root / CRAWL_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SpoolError(f"{root} has no {CRAWL_FILE}") from None
        except (OSError, ValueError) as exc:
            raise SpoolError(f"cannot read {root / CRAWL_FILE}: {exc}") from None
        return cls(root, CrawlInfo.from_json(doc))

    @property
    def warc_dir(self) -> Path:
        """Where the crawl's WARC files are written (the crawl directory itself)."""
        return self.root

    def mark_finished(self, when: datetime) -> None:
        """Record the end of the crawl in crawl.json."""
        self.info.finished = _utc(when)
        write_json_atomic(self.root / CRAWL_FILE, self.info.to_json())

    def _files(self) -> list[Path]:
        try:
            return [p for p in self.root.iterdir() if p.is_file()]
        except FileNotFoundError:
            return []

    def pending_uploads(self) -> list[Path]:
        """Files ready to upload: closed WARCs, then sidecars, then manifest.json/stats.json."""
        ready = [p for p in self._files() if p.name != CRAWL_FILE and not _is_in_progress(p.name)]
        return sorted(ready, key=lambda p: (_upload_rank(p.name), p.name))

    def open_files(self) -> list[Path]:
        """Files still being written (*.open): not uploadable until their writer closes them."""
        return sorted(p for p in self._files() if p.name.endswith(OPEN_SUFFIX))

    def remove_if_drained(self) -> bool:
        """Delete the directory of a finished crawl once only crawl.json is left in it."""
        if self.info.finished is None:
            return False
        try:
            leftovers = [p.name for p in self.root.iterdir() if p.name != CRAWL_FILE]
        except FileNotFoundError:
            return False
        if leftovers:
            return False
        (self.root / CRAWL_FILE).unlink(missing_ok=True)
        try:
            self.root.rmdir()
        except OSError:
            # A writer put something here after the check; keep the directory and its file.
            logger.warning("crawl directory %s is no longer empty; keeping it", self.root)
            if not (self.root / CRAWL_FILE).exists():
                write_json_atomic(self.root / CRAWL_FILE, self.info.to_json())
            return False
        logger.info("removed drained crawl directory %s", self.root)
        return True


def iter_crawl_dirs(spool_root: Path) -> Iterator[CrawlDir]:
    """Every crawl directory in the spool, in name order; unreadable ones are logged and skipped."""
    root = Path(spool_root)
    if not root.is_dir():
        return
    for child in sorted(root.iterdir()):
        if not child.is_dir() or not (child / CRAWL_FILE).exists():
            continue
        try:
            yield CrawlDir.load(child)
        except SpoolError as exc:
            logger.warning("skipping crawl directory %s: %s", child, exc)


def spool_size(spool_root: Path) -> int:
    """Total size in bytes of the regular files under the spool root."""
    total = 0
    root = Path(spool_root)
    if not root.is_dir():
        return 0
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except FileNotFoundError:
                continue
    return total
