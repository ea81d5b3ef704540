"""One run of a sites-file site, Scrapy-free: lock, job (resume), history, recrawl decisions, run log.

:class:`SiteSession` ties together the site's lock (archiver.operations.locks), its job
directory and journal (archiver.operations.sitedir), its capture history
(archiver.operations.sitehistory), resuming the crawl an earlier process left
(archiver.operations.resume) and judging the run (archiver.operations.crawlstats).
archiver.crawler.runtime.SiteRun is its Scrapy side: settings, signals, and preparing it in
a thread the reactor awaits.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archiver.operations.archive import ITEMS_PART, CrawlArchive
from archiver.operations.crawlstats import assess
from archiver.operations.history import PayloadIndex
from archiver.operations.locks import LOCK_FD_ENV, AlreadyRunning, SiteLock
from archiver.operations.recrawl import Decision, decide
from archiver.operations.resume import (
    RecordReader,
    RemoteFile,
    ResumeState,
    StoredResponse,
    recover_crawl,
)
from archiver.operations.sitedir import (
    JOURNAL_FILE,
    CrawlJournal,
    JobPlan,
    SiteDir,
    end_job,
    start_job,
)
from archiver.operations.sitehistory import RunHistory, RunStats
from archiver.operations.sites import SiteConfig
from archiver.spool import CrawlInfo, new_crawl_id
from archiver.storage import METADATA_SHA256, S3Config, make_client, object_key

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)

# How many earlier runs of a site are read to judge whether it usually yields articles.
RUNS_READ = 10


def remote_file(
    s3: S3Config | None, client: S3Client | None, info: CrawlInfo, name: str
) -> RemoteFile | None:
    """(size, SHA-256) of one of a crawl's files in storage; None when it cannot be told."""
    if s3 is None or client is None:
        return None
    key = object_key(s3.prefix, info.crawl_date, info.crawl_id, name)
    try:
        head = client.head_object(Bucket=s3.bucket, Key=key)
    except Exception as exc:
        logger.warning("event=resume_file_unknown file=%s key=%s error=%s", name, key, exc)
        return None
    return int(head["ContentLength"]), str((head.get("Metadata") or {}).get(METADATA_SHA256, ""))


class SiteSession:
    """One run of a sites-file site: lock, job (resume), history, recrawl decisions, run log."""

    def __init__(
        self,
        site: SiteConfig,
        *,
        spool_root: Path,
        history_on: bool,
        resume_on: bool,
        revisits: bool,
        max_error_rate: float,
    ) -> None:
        self.site = site
        self.spool_root = spool_root
        self.site_dir = SiteDir.of(self.spool_root, site.name)
        self.lock = SiteLock(self.site_dir.lock_path, site.name)
        self.history_on = history_on
        self.resume_on = resume_on
        self.payloads = PayloadIndex() if revisits else None
        self.max_error_rate = max_error_rate
        self.history = RunHistory(site.name, self.site_dir.history_path)
        self.resume = ResumeState()
        self.plan = JobPlan("", resumed=False, unclean=False, runs=1)
        self.journal: CrawlJournal | None = None
        self.archive: CrawlArchive | None = None
        self.s3: S3Config | None = None
        self._client: S3Client | None = None
        self._reader: RecordReader | None = None

    @property
    def crawl_id(self) -> str:
        """The crawl id: new, or the one of the crawl being resumed."""
        return self.plan.crawl_id

    @property
    def stats(self) -> RunStats | None:
        """The crawl's stats (None here; the crawler's SiteRun gives Scrapy's)."""
        return None

    # --- before the engine starts ------------------------------------------------
    def begin(self) -> None:
        """Take (or adopt) the site's lock and open its job directory."""
        inherited = os.environ.get(LOCK_FD_ENV)
        try:
            if inherited:
                self.lock.adopt(int(inherited))
            else:
                self.lock.acquire(command=" ".join(["scrapy", *sys.argv[1:]])[:200])
        except AlreadyRunning as exc:
            holder = exc.holder
            logger.error(
                "event=already_running site=%s holder_pid=%s holder_host=%s holder_since=%s",
                self.site.name,
                holder.pid if holder else "-",
                holder.host if holder else "-",
                holder.since.isoformat() if holder else "-",
            )
            raise
        now = datetime.now(UTC)
        if self.resume_on:
            self.plan = start_job(self.site_dir, new_crawl_id(self.site.name, now), now)
            self.journal = CrawlJournal(self.site_dir.job_dir / JOURNAL_FILE)
        else:
            self.plan = JobPlan(new_crawl_id(self.site.name, now), False, False, 1)
        logger.info(
            "event=site_run_started site=%s crawl=%s resumed=%s unclean=%s run=%d",
            self.site.name,
            self.crawl_id,
            self.plan.resumed,
            self.plan.unclean,
            self.plan.runs,
        )

    def attach(self, archive: CrawlArchive) -> None:
        """Journal and record in the history everything the archive writes."""
        self.archive = archive
        archive.add_event_hook(self._on_event)

    def _on_event(self, event: dict[str, Any]) -> None:
        # On the WARC writer thread (captures, metadata), the post-close thread (closed files)
        # or the items thread (articles): a line appended, an event queued, nothing waits.
        if self.journal is not None:
            self.journal.append(event)
        info = self.archive.crawl_dir.info if self.archive is not None else None
        self.history.submit(event, self.crawl_id, info.crawl_date if info else self.crawl_id)

    # --- before the first request (a thread) --------------------------------------
    def load(self, cfg: S3Config | None) -> None:
        """Restore and load the history, recover what a killed run left (blocking)."""
        stats = self.stats
        if cfg is not None and cfg.enabled:
            self.s3 = cfg
            self._client = make_client(cfg)
        self._reader = RecordReader(self.spool_root, self.s3, self._client)
        if self.history_on:
            self.history.open(self.s3, self._client, self.payloads, stats)
        if self.plan.resumed and self.archive is not None and self.journal is not None:
            self._resume(self.archive)
        if stats is not None:
            stats.set_value("archiver/site", self.site.name)
            stats.set_value("archiver/history/pages", len(self.history.pages))
            stats.set_value("archiver/history/payloads", len(self.payloads or ()))

    def _resume(self, archive: CrawlArchive) -> None:
        assert self.journal is not None
        stats = self.stats
        crawl = archive.crawl_dir
        s3, client = self.s3, self._client
        state = recover_crawl(
            crawl,
            self.journal,
            crawl.root / ITEMS_PART,
            remote=lambda name: remote_file(s3, client, crawl.info, name),
        )
        self.resume = state
        archive.adopt_files(state.files, released=state.released)
        if self.payloads is not None:
            for ref in state.own_payloads(crawl.info.crawl_id, crawl.info.crawl_date):
                self.payloads.add(ref)
        # Batches the killed process had not committed yet; applying one twice is harmless.
        for event in state.events:
            self.history.submit(event, crawl.info.crawl_id, crawl.info.crawl_date)
        if stats is not None:
            stats.set_value("archiver/resume/runs", self.plan.runs - 1)
            stats.set_value("archiver/resume/recovered_files", len(state.recovered))
            stats.set_value("archiver/resume/known_captures", len(state.captures))
        logger.warning(
            "event=crawl_resumed site=%s crawl=%s unclean=%s recovered=%s corrupt=%d "
            "captures=%d items=%d files=%d",
            self.site.name,
            crawl.info.crawl_id,
            self.plan.unclean,
            ",".join(p.name for p in state.recovered) or "-",
            state.corrupt,
            len(state.captures),
            len(state.items_done),
            len(state.files),
        )

    # --- during the crawl (reactor thread: memory only) ----------------------------
    def decide(self, url: str, listed_date: datetime | None = None) -> Decision:
        """Whether the recrawl policy wants `url` fetched now, and with which headers."""
        if url in self.resume.captures:
            # Archived by this crawl's killed process: answered from its records, so the
            # links and item it leads to are not lost.
            return Decision(True, "resume")
        return decide(
            self.site.recrawl,
            self.history.pages.get(url),
            datetime.now(UTC),
            listed_date=listed_date,
        )

    def replayable(self, url: str) -> dict[str, Any] | None:
        """The capture an earlier process of this crawl made of `url`, if any."""
        return self.resume.replayable(url)

    def load_replay(self, capture: dict[str, Any]) -> StoredResponse:
        """The archived response for a replay (blocking: call it in a thread)."""
        assert self._reader is not None
        archive = self.archive
        assert archive is not None
        info = archive.crawl_dir.info
        payload = None
        if capture.get("kind") == "revisit" and self.payloads is not None:
            payload = self.payloads.get(str(capture.get("payload_digest")))
        return self._reader.response(capture, info.crawl_id, info.crawl_date, payload)

    def note_article(self, url: str, published: str | None = None) -> None:
        """Record in the history that `url` is an article (queued; never waits)."""
        if self.archive is not None:
            self.archive.note_article(url, published)

    def earlier_metadata(self, response_id: str) -> tuple[bool, str | None]:
        """(item line already written, metadata record already written) for a response."""
        return response_id in self.resume.items_done, self.resume.metadata.get(response_id)

    # --- at the end (a thread) -------------------------------------------------------
    def final(self, reason: str) -> bool:
        """Whether the crawl ends for good (else it is paused, to be resumed by the next run)."""
        return reason == "finished" or not self.resume_on

    def judge(self, doc: dict[str, Any]) -> list[str]:
        """Back up the history, then name the run's problems (archive.close calls this)."""
        errors = self.history.close()
        if errors and self.stats is not None:
            self.stats.inc_value("archiver/history/errors", errors)
        self.history.back_up(self.s3, self._client)
        doc["history_backup"] = self.history.backup
        problems = assess(
            doc,
            previous_runs=self.site_dir.read_runs(RUNS_READ),
            min_articles=self.site.min_articles,
            max_error_rate=self.max_error_rate,
        )
        if self.history.backup in ("failed", "unverified"):
            problems.append(f"history_backup_{self.history.backup}")
        return problems

    def finish(self, reason: str, doc: Mapping[str, Any]) -> None:
        """Log the run, close or keep the job, release the lock."""
        now = datetime.now(UTC)
        try:
            run = {
                **doc,
                "site": self.site.name,
                "final": self.final(reason),
                "resumed": self.plan.resumed,
                "unclean_resume": self.plan.unclean,
                "run": self.plan.runs,
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "logged": now.isoformat(),
            }
            self.site_dir.append_run(run)
            if self.journal is not None:
                self.journal.close()
            if self.resume_on:
                end_job(self.site_dir, finished=self.final(reason), now=now)
            problems = list(doc.get("problems") or [])
            logger.log(
                logging.WARNING if problems else logging.INFO,
                "event=site_run_finished site=%s crawl=%s reason=%s final=%s problems=%s",
                self.site.name,
                self.crawl_id,
                reason,
                self.final(reason),
                ",".join(problems) or "none",
            )
        finally:
            if os.environ.get(LOCK_FD_ENV):
                self.lock.close()
            else:
                self.lock.release()
