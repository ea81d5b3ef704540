"""The crawl's shared archive and site run, as Scrapy components reach them.

Adapters over the Scrapy-free modules: archiver.operations.archive (WARC writing, uploads, the
manifest), and for crawls of a sites-file site (`-a site=NAME`) archiver.operations.locks (the
site's lock), archiver.spool.layout (its job directory and journal), archiver.operations.history (its
capture history), archiver.operations.resume (resuming a crawl an earlier process left) and
archiver.operations.crawlstats (judging the run).
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import weakref
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import threads
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from archiver.operations import (
    DEFAULT_MAX_ERROR_RATE,
    ITEMS_PART,
    AlreadyRunning,
    ArticleEvent,
    CaptureEvent,
    CaptureHistory,
    CrawlArchive,
    Decision,
    HistoryError,
    HistoryEvent,
    HistoryWriter,
    KnownPage,
    PayloadIndex,
    RecordReader,
    RemoteFile,
    ResumeState,
    SiteConfig,
    SiteLock,
    StoredResponse,
    assess,
    backup_history,
    decide,
    history_key,
    recover_crawl,
    restore_history,
    warcinfo_fields,
    worker_crawl_id,
)
from archiver.spool import (
    JOURNAL_FILE,
    CrawlDir,
    CrawlInfo,
    CrawlJournal,
    JobPlan,
    SiteDir,
    end_job,
    new_crawl_id,
    start_job,
)
from archiver.storage import (
    METADATA_SHA256,
    S3Config,
    Uploader,
    UploadError,
    make_client,
    object_key,
)
from archiver.warc import parse_digest_algorithm

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

# `archiver crawl` holds the site lock and hands it to its `scrapy crawl` child as this fd.
LOCK_FD_ENV = "NEWS_ARCHIVER_LOCK_FD"
# How many earlier runs of a site are read to judge whether it usually yields articles.
RUNS_READ = 10

_archives: weakref.WeakKeyDictionary[Crawler, CrawlArchive] = weakref.WeakKeyDictionary()
_site_runs: weakref.WeakKeyDictionary[Crawler, SiteRun] = weakref.WeakKeyDictionary()


def archive_for(crawler: Crawler) -> CrawlArchive:
    """The crawl's archive, created on first use and closed when the spider closes."""
    archive = _archives.get(crawler)
    if archive is None:
        archive = _create(crawler)
        _archives[crawler] = archive
    return archive


def site_run_for(crawler: Crawler) -> SiteRun | None:
    """The site run of a `-a site=NAME` crawl (None for a crawl of URLs given by hand)."""
    return _site_runs.get(crawler)


def start_site_run(crawler: Crawler, site: SiteConfig) -> SiteRun:
    """Take the site's lock and begin or resume its job; the spider calls this first."""
    run = SiteRun(crawler, site)
    run.begin()
    _site_runs[crawler] = run
    return run


def _history_event(event: Mapping[str, Any], crawl_id: str, crawl_date: str) -> HistoryEvent | None:
    if event.get("event") == "article":
        return ArticleEvent(str(event["url"]), event.get("published"))
    if event.get("event") != "capture" or not isinstance(event.get("status"), int):
        return None
    return CaptureEvent(
        url=str(event["url"]),
        date=str(event["date"]),
        status=int(event["status"]),
        record_id=str(event["record_id"]),
        kind=str(event["kind"]),
        crawl_id=crawl_id,
        crawl_date=crawl_date,
        payload_digest=event.get("payload_digest"),
        etag=event.get("etag"),
        last_modified=event.get("last_modified"),
        filename=event.get("filename"),
        offset=event.get("offset"),
        length=event.get("length"),
    )


class SiteRun:
    """One run of a sites-file site: lock, job (resume), history, recrawl decisions, run log."""

    def __init__(self, crawler: Crawler, site: SiteConfig) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.site = site
        self.spool_root = Path(settings.get("ARCHIVER_WARC_DIR"))
        self.site_dir = SiteDir.of(self.spool_root, site.name)
        self.lock = SiteLock(self.site_dir.lock_path, site.name)
        self.history_on = settings.getbool("ARCHIVER_HISTORY_ENABLED")
        self.resume_on = settings.getbool("ARCHIVER_RESUME_ENABLED")
        self.payloads = PayloadIndex() if settings.getbool("ARCHIVER_REVISITS_ENABLED") else None
        self.max_error_rate = (
            site.max_error_rate
            if site.max_error_rate is not None
            else settings.getfloat("ARCHIVER_CRAWL_MAX_ERROR_RATE", DEFAULT_MAX_ERROR_RATE)
        )
        self.pages: dict[str, KnownPage] = {}
        self.resume = ResumeState()
        self.plan = JobPlan("", resumed=False, unclean=False, runs=1)
        self.journal: CrawlJournal | None = None
        self.history: CaptureHistory | None = None
        self.writer: HistoryWriter | None = None
        self.s3: S3Config | None = None
        self._client: S3Client | None = None
        self._reader: RecordReader | None = None
        self._prepared: Deferred[None] | None = None
        self._outcome: Failure | bool | None = None
        self._waiters: list[Deferred[None]] = []
        self.history_backup = "off"

    @property
    def crawl_id(self) -> str:
        """The crawl id: new, or the one of the crawl being resumed."""
        return self.plan.crawl_id

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
        settings = self.crawler.settings
        if self.resume_on:
            self.plan = start_job(self.site_dir, new_crawl_id(self.site.name, now), now)
            # Scrapy's own resume (queue, seen requests, spider state) lives beside our journal.
            settings.set("JOBDIR", str(self.site_dir.job_dir), priority="spider")
            self.journal = CrawlJournal(self.site_dir.job_dir / JOURNAL_FILE)
        else:
            self.plan = JobPlan(new_crawl_id(self.site.name, now), False, False, 1)
        self.crawler.signals.connect(
            self._closed_without_archive, signal=signals.spider_closed, weak=False
        )
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
        archive.add_event_hook(self._on_event)

    def _on_event(self, event: dict[str, Any]) -> None:
        # On the WARC writer thread (captures, metadata), the post-close thread (closed files)
        # or the items thread (articles): a line appended, an event queued, nothing waits.
        if self.journal is not None:
            self.journal.append(event)
        if self.writer is not None:
            archive = _archives.get(self.crawler)
            info = archive.crawl_dir.info if archive is not None else None
            history_event = _history_event(
                event, self.crawl_id, info.crawl_date if info else self.crawl_id
            )
            if history_event is not None:
                self.writer.submit(history_event)

    # --- before the first request -------------------------------------------------
    async def prepare(self) -> None:
        """Restore and load the history, recover what a killed run left; once, in a thread.

        Every caller waits for the same preparation: the spider before its start requests,
        and the capture middleware before any request, since Scrapy sends the requests of
        a resumed JOBDIR queue without waiting for the spider.
        """
        if self._prepared is None:
            self._prepared = threads.deferToThread(self._prepare)
            self._prepared.addBoth(self._prepared_done)
        if self._outcome is not None:
            if isinstance(self._outcome, Failure):
                self._outcome.raiseException()
            return
        waiter: Deferred[None] = Deferred()
        self._waiters.append(waiter)
        await maybe_deferred_to_future(waiter)

    @property
    def ready(self) -> bool:
        """Whether preparation succeeded (nothing waits any more)."""
        return self._outcome is not None and not isinstance(self._outcome, Failure)

    def _prepared_done(self, outcome: Any) -> None:
        self._outcome = outcome if isinstance(outcome, Failure) else True
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if isinstance(outcome, Failure):
                waiter.errback(outcome)
            else:
                waiter.callback(None)

    def _prepare(self) -> None:
        settings = self.crawler.settings
        stats = self.crawler.stats
        try:
            cfg = S3Config.from_settings(settings)
        except ValueError:
            cfg = None  # the upload extension reports bad storage settings
        if cfg is not None and cfg.enabled:
            self.s3 = cfg
            self._client = make_client(cfg)
        self._reader = RecordReader(self.spool_root, self.s3, self._client)
        if self.history_on:
            self._open_history()
        archive = _archives.get(self.crawler)
        if self.plan.resumed and archive is not None and self.journal is not None:
            self._resume(archive)
        if stats is not None:
            stats.set_value("archiver/site", self.site.name)
            stats.set_value("archiver/history/pages", len(self.pages))
            stats.set_value("archiver/history/payloads", len(self.payloads or ()))

    def _open_history(self) -> None:
        stats = self.crawler.stats
        history = CaptureHistory(self.site_dir.history_path)
        if not history.path.exists() and self.s3 is not None and self._client is not None:
            key = history_key(self.s3.prefix, self.site.name)
            try:
                if restore_history(self.s3, self._client, key, history.path):
                    if stats is not None:
                        stats.set_value("archiver/history/restored", 1)
                else:
                    logger.info("event=history_new site=%s backup=none key=%s", self.site.name, key)
            except (UploadError, HistoryError, OSError) as exc:
                # Crawling without it only costs bandwidth; the next backup starts it afresh.
                logger.error("event=history_restore_failed site=%s error=%s", self.site.name, exc)
                if stats is not None:
                    stats.inc_value("archiver/history/errors")
        try:
            history.create()
            snapshot = history.snapshot()
        except HistoryError as exc:
            logger.error("event=history_unusable site=%s error=%s", self.site.name, exc)
            if stats is not None:
                stats.inc_value("archiver/history/errors")
            return
        self.history = history
        self.pages = snapshot.pages
        if self.payloads is not None:
            for ref in snapshot.payloads:
                self.payloads.add(ref)
        self.writer = HistoryWriter(history)
        logger.info(
            "event=history_loaded site=%s pages=%d payloads=%d",
            self.site.name,
            len(snapshot.pages),
            len(snapshot.payloads),
        )

    def _remote_file(self, name: str) -> RemoteFile | None:
        archive = _archives.get(self.crawler)
        if self.s3 is None or self._client is None or archive is None:
            return None
        info = archive.crawl_dir.info
        key = object_key(self.s3.prefix, info.crawl_date, info.crawl_id, name)
        try:
            head = self._client.head_object(Bucket=self.s3.bucket, Key=key)
        except Exception as exc:
            logger.warning("event=resume_file_unknown file=%s key=%s error=%s", name, key, exc)
            return None
        return int(head["ContentLength"]), str(
            (head.get("Metadata") or {}).get(METADATA_SHA256, "")
        )

    def _resume(self, archive: CrawlArchive) -> None:
        assert self.journal is not None
        stats = self.crawler.stats
        crawl = archive.crawl_dir
        state = recover_crawl(
            crawl, self.journal, crawl.root / ITEMS_PART, remote=self._remote_file
        )
        self.resume = state
        archive.adopt_files(state.files, released=state.released)
        if self.payloads is not None:
            for ref in state.own_payloads(crawl.info.crawl_id, crawl.info.crawl_date):
                self.payloads.add(ref)
        if self.writer is not None:
            # Batches the killed process had not committed yet; applying one twice is harmless.
            for event in state.events:
                history_event = _history_event(event, crawl.info.crawl_id, crawl.info.crawl_date)
                if history_event is not None:
                    self.writer.submit(history_event)
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
            self.site.recrawl, self.pages.get(url), datetime.now(UTC), listed_date=listed_date
        )

    def replayable(self, url: str) -> dict[str, Any] | None:
        """The capture an earlier process of this crawl made of `url`, if any."""
        return self.resume.replayable(url)

    def load_replay(self, capture: dict[str, Any]) -> StoredResponse:
        """The archived response for a replay (blocking: call it in a thread)."""
        assert self._reader is not None
        archive = _archives.get(self.crawler)
        assert archive is not None
        info = archive.crawl_dir.info
        payload = None
        if capture.get("kind") == "revisit" and self.payloads is not None:
            payload = self.payloads.get(str(capture.get("payload_digest")))
        return self._reader.response(capture, info.crawl_id, info.crawl_date, payload)

    def note_article(self, url: str, published: str | None = None) -> None:
        """Record in the history that `url` is an article (queued; never waits)."""
        archive = _archives.get(self.crawler)
        if archive is not None:
            archive.note_article(url, published)

    def earlier_metadata(self, response_id: str) -> tuple[bool, str | None]:
        """(item line already written, metadata record already written) for a response."""
        return response_id in self.resume.items_done, self.resume.metadata.get(response_id)

    # --- at the end (a thread) -------------------------------------------------------
    def final(self, reason: str) -> bool:
        """Whether the crawl ends for good (else it is paused, to be resumed by the next run)."""
        return reason == "finished" or not self.resume_on

    def judge(self, doc: dict[str, Any]) -> list[str]:
        """Back up the history, then name the run's problems (archive.close calls this)."""
        if self.writer is not None:
            self.writer.close()
            if self.writer.errors and self.crawler.stats is not None:
                self.crawler.stats.inc_value("archiver/history/errors", self.writer.errors)
        if self.history is not None and self.s3 is not None and self._client is not None:
            try:
                verified = backup_history(
                    self.history,
                    Uploader(self.s3, self._client),
                    history_key(self.s3.prefix, self.site.name),
                )
                self.history_backup = "verified" if verified else "unverified"
            except (UploadError, HistoryError, OSError) as exc:
                self.history_backup = "failed"
                logger.error("event=history_backup_failed site=%s error=%s", self.site.name, exc)
        doc["history_backup"] = self.history_backup
        problems = assess(
            doc,
            previous_runs=self.site_dir.read_runs(RUNS_READ),
            min_articles=self.site.min_articles,
            max_error_rate=self.max_error_rate,
        )
        if self.history_backup in ("failed", "unverified"):
            problems.append(f"history_backup_{self.history_backup}")
        return problems

    async def _closed_without_archive(self, spider: Any, reason: str) -> None:
        # With ARCHIVER_WARC_ENABLED off there is no archive, whose close ends the run.
        if _archives.get(self.crawler) is not None:
            return

        def end() -> None:
            if self.writer is not None:
                self.writer.close()
            self.finish(reason, {"finish_reason": reason, "problems": []})

        await maybe_deferred_to_future(threads.deferToThread(end))

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


def _create(crawler: Crawler) -> CrawlArchive:
    settings = crawler.settings
    spider = crawler.spider
    name = getattr(spider, "name", None) or "crawl"
    run = site_run_for(crawler)
    started = datetime.now(UTC)
    if run is not None:
        crawl_id = run.crawl_id
    elif settings.get("ARCHIVER_REDIS_URL"):
        # A worker of a distributed crawl archives under its own id within the shared one.
        crawl_id = worker_crawl_id(settings.get("ARCHIVER_CRAWL_ID"))
    else:
        crawl_id = settings.get("ARCHIVER_CRAWL_ID") or new_crawl_id(name, started)
    try:
        digest = parse_digest_algorithm(str(settings.get("ARCHIVER_WARC_DIGEST", "sha1")))
    except ValueError as exc:
        raise ValueError(f"ARCHIVER_WARC_DIGEST: {exc}") from None
    spool_root = Path(settings.get("ARCHIVER_WARC_DIR"))
    if run is not None and (spool_root / crawl_id).is_dir():
        # Resuming: the crawl directory, its files and its start date are the crawl's own.
        crawl_dir = CrawlDir.load(spool_root / crawl_id)
    else:
        info = CrawlInfo(
            crawl_id=crawl_id,
            spider=name,
            started=started,
            finished=None,
            start_urls=list(getattr(spider, "start_urls", []) or []),
            site=run.site.name if run is not None else None,
        )
        crawl_dir = CrawlDir.create(spool_root, info)
    stats = crawler.stats

    def count(key: str, n: int) -> None:
        if stats is not None:
            stats.inc_value(key, n)

    revisits = settings.getbool("ARCHIVER_REVISITS_ENABLED")
    rate = settings.getfloat("ARCHIVER_CRAWL_MAX_ERROR_RATE", DEFAULT_MAX_ERROR_RATE)
    archive = CrawlArchive(
        crawl_dir,
        prefix=settings.get("ARCHIVER_WARC_PREFIX"),
        max_size=settings.getint("ARCHIVER_WARC_MAX_SIZE"),
        digest_algorithm=digest,
        warcinfo=warcinfo_fields(
            crawl_id=crawl_id,
            user_agent=settings.get("USER_AGENT"),
            operator=settings.get("ARCHIVER_OPERATOR"),
            robots="obey" if settings.getbool("ROBOTSTXT_OBEY") else "ignore",
        ),
        count=count,
        payloads=run.payloads if run is not None else (PayloadIndex() if revisits else None),
    )
    if run is not None:
        run.attach(archive)
    if stats is not None:
        stats.set_value("archiver/crawl_id", crawl_id)
    logger.info("event=crawl_started crawl=%s spool=%s", crawl_id, crawl_dir.root)

    async def on_closed(spider: Any, reason: str) -> None:
        def final_stats() -> dict[str, Any]:
            values = dict(stats.get_stats()) if stats is not None else {}
            values["finish_reason"] = reason
            return values

        def close() -> None:
            if run is None:
                archive.close(final_stats, judge=lambda doc: assess(doc, max_error_rate=rate))
                return
            try:
                archive.close(final_stats, final=run.final(reason), judge=run.judge)
            finally:
                run.finish(reason, archive.stats_document)

        # Closing flushes files and waits for uploads: a thread, so the reactor keeps running.
        await maybe_deferred_to_future(threads.deferToThread(close))

    crawler.signals.connect(on_closed, signal=signals.spider_closed, weak=False)
    return archive
