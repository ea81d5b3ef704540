"""The spool upload pass: every crawl waiting in the spool goes to the bucket, its manifest last."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archiver.spool import FINAL_FILES, CrawlDir, CrawlInfo, iter_crawl_dirs, recover_open_files
from archiver.storage.config import S3Config
from archiver.storage.keys import content_type_for, object_key
from archiver.storage.uploader import Uploader, UploadError, UploadResult
from archiver.warc import CORRUPT_SUFFIX

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)


@dataclass
class SpoolReport:
    """What one pass over the spool did and what is left."""

    uploaded: list[UploadResult] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    waiting: list[Path] = field(default_factory=list)
    # WARCs of dead crawls recovered from *.open in this pass (uploaded like any other).
    recovered: list[Path] = field(default_factory=list)
    # Open WARCs with no complete record, kept locally as *.corrupt and never uploaded.
    corrupt: list[Path] = field(default_factory=list)

    @property
    def bytes_uploaded(self) -> int:
        """Bytes sent in this pass (files that were already stored do not count)."""
        return sum(r.size for r in self.uploaded if not r.already_present)

    @property
    def ok(self) -> bool:
        """True when nothing failed and nothing is left waiting."""
        return not self.failed and not self.waiting

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary for `archiver upload --json`."""
        return {
            "files_uploaded": sum(1 for r in self.uploaded if not r.already_present),
            "files_already_present": sum(1 for r in self.uploaded if r.already_present),
            "bytes_uploaded": self.bytes_uploaded,
            "uploaded": [r.to_json() for r in self.uploaded],
            "failed": [{"path": str(p), "error": e} for p, e in self.failed],
            "waiting": [str(p) for p in self.waiting],
            "recovered": [str(p) for p in self.recovered],
            "corrupt": [str(p) for p in self.corrupt],
        }


class _Progress:
    """A rich progress bar on stderr, or nothing."""

    def __init__(self, enabled: bool, total: int) -> None:
        self._bar: Any = None
        self._task: Any = None
        if enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
            )
            self._task = self._bar.add_task("uploading", total=total)
            self._bar.start()

    def describe(self, text: str) -> None:
        if self._bar is not None:
            self._bar.update(self._task, description=text)

    def advance(self, amount: int) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, amount)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


# Called as on_crawl_stored(cfg, client, crawl) once a pass has stored a crawl's manifest.json,
# i.e. the crawl is complete in storage; `archiver upload` and the crawl's leftover uploads pass
# archiver.index.add_stored_crawl, which brings the archive-wide index current.
def _crawl_stored(
    on_crawl_stored: Callable[[S3Config, S3Client, CrawlInfo], None],
    cfg: S3Config,
    client: S3Client,
    crawl: CrawlInfo,
) -> None:
    try:
        on_crawl_stored(cfg, client, crawl)
    except Exception as exc:
        # The files are stored and verified; a failing follower must not fail the upload.
        logger.error("event=crawl_stored_hook_failed crawl=%s error=%r", crawl.crawl_id, exc)


def upload_spool(
    cfg: S3Config,
    spool_root: Path,
    *,
    client: S3Client | None = None,
    progress: bool = False,
    crawl_id: str | None = None,
    on_crawl_stored: Callable[[S3Config, S3Client, CrawlInfo], None] | None = None,
) -> SpoolReport:
    """Upload what waits in the spool, crawl by crawl; one failure does not stop the rest.

    `on_crawl_stored(cfg, client, crawl)` runs for each crawl whose manifest.json this pass
    stored; an exception it raises is logged, never fails the pass.
    """
    uploader = Uploader(cfg, client)
    report = SpoolReport()
    crawls = [c for c in iter_crawl_dirs(Path(spool_root)) if crawl_id in (None, c.info.crawl_id)]
    for crawl in crawls:
        # Files of crashed crawls first become closed WARCs; live writers' files are left alone.
        report.recovered.extend(recover_open_files(crawl).recovered)
    plans = [(crawl, _uploadable(crawl, report)) for crawl in crawls]
    bar = _Progress(progress, sum(_file_size(p) for _, files in plans for p in files))
    try:
        for crawl, files in plans:
            _upload_crawl(uploader, crawl, files, report, bar, on_crawl_stored)
    finally:
        bar.stop()
    return report


def _uploadable(crawl: CrawlDir, report: SpoolReport) -> list[Path]:
    files = []
    for path in crawl.pending_uploads():
        if path.name.endswith(CORRUPT_SUFFIX):
            # Nothing in it could be read back; storage must hold no corrupt record.
            logger.info("event=corrupt_file_kept file=%s", path)
            report.corrupt.append(path)
            continue
        files.append(path)
    return files


def _upload_crawl(
    uploader: Uploader,
    crawl: CrawlDir,
    files: list[Path],
    report: SpoolReport,
    bar: _Progress,
    on_crawl_stored: Callable[[S3Config, S3Client, CrawlInfo], None] | None,
) -> None:
    cfg = uploader.cfg
    incomplete = False
    manifest_stored = False
    for path in files:
        size = _file_size(path)
        if path.name in FINAL_FILES and incomplete:
            # The manifest marks a crawl as complete in the bucket; it waits for its WARCs.
            report.waiting.append(path)
            bar.advance(size)
            continue
        bar.describe(path.name)
        sent = 0

        def tick(amount: int) -> None:
            nonlocal sent
            sent += amount
            bar.advance(amount)

        try:
            key = object_key(cfg.prefix, crawl.info.crawl_date, crawl.info.crawl_id, path.name)
            result = uploader.upload_and_release(
                path,
                key,
                keep_local=cfg.keep_local,
                content_type=content_type_for(path.name),
                callback=tick,
            )
        except (UploadError, ValueError) as exc:
            bar.advance(size - sent)
            if not path.exists():
                # Another process (a running crawl) uploaded and released it meanwhile.
                logger.info("%s left the spool while this pass ran", path)
                continue
            logger.warning("could not upload %s: %s", path, exc)
            report.failed.append((path, str(exc)))
            incomplete = True
            continue
        bar.advance(size - sent)
        report.uploaded.append(result)
        if not result.verified:
            report.waiting.append(path)
            incomplete = True
        elif path.name == FINAL_FILES[0]:
            manifest_stored = True
    if manifest_stored and on_crawl_stored is not None:
        _crawl_stored(on_crawl_stored, cfg, uploader.client, crawl.info)
    report.waiting.extend(crawl.open_files())
    if not cfg.keep_local:
        crawl.remove_if_drained()
