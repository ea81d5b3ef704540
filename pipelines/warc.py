"""Item pipeline that writes each cleaned article into the WARC beside its capture."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy.exceptions import DropItem, NotConfigured

from archiver.crawler.items import ArticleItem
from archiver.crawler.runtime import SiteRun, archive_for, site_run_for

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

    from archiver.operations import CrawlArchive

# Fields of the cleaner's result that go into the metadata record.
METADATA_FIELDS = (
    "title",
    "authors",
    "published",
    "modified",
    "language",
    "canonical_url",
    "section",
    "description",
    "image",
    "word_count",
    "body",
)


class WarcMetadataPipeline:
    """Writes a JSON metadata record linked to the article's response record, and items.jsonl."""

    def __init__(self, crawler: Crawler, archive: CrawlArchive) -> None:
        self.archive = archive
        self.stats = crawler.stats
        self.site_run: SiteRun | None = site_run_for(crawler)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Build from settings; off when WARC capture is off."""
        if not crawler.settings.getbool("ARCHIVER_WARC_ENABLED"):
            raise NotConfigured("ARCHIVER_WARC_ENABLED is off")
        return cls(crawler, archive_for(crawler))

    def process_item(self, item: Any) -> Any:
        """Queue the metadata record and the item line; returns the item."""
        if not isinstance(item, ArticleItem) or not item.article:
            return item
        self.archive.note_article(item.url, item.article.get("published"))
        earlier: str | None = None
        if self.site_run is not None and item.warc_record_id:
            # A resumed crawl replays what its killed process archived: not twice.
            done, earlier = self.site_run.earlier_metadata(item.warc_record_id)
            if done:
                if self.stats is not None:
                    self.stats.inc_value("archiver/resume/items_skipped")
                raise DropItem(
                    f"already archived before the crawl resumed: {item.url}", log_level="INFO"
                )
        if earlier is not None:
            item.article["metadata_record_id"] = earlier
        elif item.warc_record_id:
            document: dict[str, Any] = {"url": item.url, "warc_date": item.warc_date}
            document.update({name: item.article.get(name) for name in METADATA_FIELDS})
            record_id = self.archive.write_metadata(
                item.url, document, refers_to=item.warc_record_id
            )
            item.article["metadata_record_id"] = record_id
            if self.stats is not None:
                self.stats.inc_value("archiver/warc/metadata_records")
        self.archive.write_item(item.to_dict())
        return item
