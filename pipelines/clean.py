"""Item pipeline that cleans article pages into title, authors, dates and body text.

Cleaning is CPU work, so it runs in a process pool (one worker per core by default)
and the reactor only awaits the result.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import DropItem, NotConfigured

from archiver.cleaning import RuleBook, clean_html, install_rulebook, load_rulebook
from archiver.cleaning.pagekind import judge_article
from archiver.crawler.items import ArticleItem
from archiver.discovery.parse import CANDIDATE_PREFIX

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

# The cleaner's judgement of a candidate page, passed back beside the article's fields.
KIND_KEY = "_page_kind"


def clean_to_dict(
    body: bytes,
    url: str,
    content_type: str | None,
    rules: RuleBook | None = None,
    *,
    candidate: bool = False,
    date_hint: str | None = None,
) -> dict[str, Any]:
    """Run the cleaner and return a picklable dict (what crosses the process boundary).

    Workers of the process pool get their rules once, from the pool's initializer, so
    `rules` is only passed where no pickling happens (the one-thread executor). For a
    candidate (a page without article markup) the cleaner's judgement of the page
    (archiver.cleaning.pagekind) sets `is_article`, and the KIND_KEY entry says why.
    """
    article = clean_html(body, url, content_type=content_type, rules=rules, date_hint=date_hint)
    if not candidate:
        return article.to_dict()
    kind = judge_article(article)
    result = article.to_dict()
    result["is_article"] = kind.is_article
    if not kind.is_article:
        result["reason"] = kind.reason
    result[KIND_KEY] = kind.reason
    return result


class CleanPipeline:
    """Fills ArticleItem.article with the cleaner's result; drops pages that hold no article."""

    def __init__(self, crawler: Crawler, workers: int, rules: RuleBook | None = None) -> None:
        self.stats = crawler.stats
        self.workers = workers
        self.rules = rules
        self.executor: Executor | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Build from settings; off when ARCHIVER_CLEAN_ENABLED is false."""
        if not crawler.settings.getbool("ARCHIVER_CLEAN_ENABLED"):
            raise NotConfigured("ARCHIVER_CLEAN_ENABLED is off")
        workers = crawler.settings.getint("ARCHIVER_CLEAN_WORKERS")
        if workers < 0:
            raise NotConfigured(f"ARCHIVER_CLEAN_WORKERS must be 0 or more, not {workers}")
        # Rule files are read and checked once, here: a bad file stops the crawl at start.
        dirs = crawler.settings.getlist("ARCHIVER_CLEAN_RULES_DIRS")
        rules = load_rulebook(dirs) if dirs else None
        return cls(crawler, workers or (os.cpu_count() or 1), rules)

    def open_spider(self) -> None:
        """Start the workers."""
        if self.workers == 1:
            self.executor = ThreadPoolExecutor(1, thread_name_prefix="archiver-clean")
        else:
            # forkserver: forking the crawl process itself would copy the reactor and its threads.
            context = multiprocessing.get_context("forkserver")
            self.executor = ProcessPoolExecutor(
                self.workers,
                mp_context=context,
                initializer=install_rulebook,
                initargs=(self.rules,),
            )
        logger.info(
            "event=clean_pool_started workers=%d site_rule_files=%d",
            self.workers,
            len(self.rules.sites) if self.rules is not None else 0,
        )

    def close_spider(self) -> None:
        """Stop the workers."""
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
            self.executor = None

    async def process_item(self, item: Any) -> Any:
        """Clean an ArticleItem in the pool; other items pass through."""
        if not isinstance(item, ArticleItem):
            return item
        assert self.executor is not None
        candidate = (item.detection or "").startswith(CANDIDATE_PREFIX)
        rules = self.rules if self.workers == 1 else None
        future = self.executor.submit(
            clean_to_dict,
            item.body,
            item.url,
            item.content_type,
            rules,
            candidate=candidate,
            date_hint=item.listed_date,
        )
        try:
            article = await asyncio.wrap_future(future)
        except Exception as exc:
            self._inc("archiver/clean/errors")
            raise DropItem(f"cleaning failed for {item.url}: {exc!r}") from exc
        kind = article.pop(KIND_KEY, None)
        if candidate and not article.get("is_article"):
            self._inc("archiver/clean/not_article")
            self._inc("archiver/clean/candidates_dropped")
            # Most candidates that are not articles are listings: routine, not a warning.
            raise DropItem(
                f"not an article: {item.url}: {article.get('reason') or 'empty'}",
                log_level="DEBUG",
            )
        if not article.get("is_article") or not article.get("body"):
            self._inc("archiver/clean/not_article")
            raise DropItem(f"no article body in {item.url}: {article.get('reason') or 'empty'}")
        if candidate:
            # Judged an article by the cleaner: counted with those the spider recognised.
            item.detection = f"{item.detection}; judged an article: {kind}"
            self._inc("archiver/clean/candidates_kept")
            self._inc("archiver/spider/articles")
        item.article = article
        item.body = b""
        self._inc("archiver/clean/articles")
        return item

    def _inc(self, key: str) -> None:
        if self.stats is not None:
            self.stats.inc_value(key)
