"""A crawl's archive (CrawlArchive) fed article pages and their items, as the spider and the
pipelines feed it, with small WARCs so that a few articles span several files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from archiver.operations import CrawlArchive
from archiver.spool import CrawlDir, CrawlInfo
from tests.support.index_warcs import page_exchange

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
ARCHIVE_CRAWL_ID = "news-20260301T120000Z-0a0b0c"


def new_archive(spool: Path, crawl_id: str = ARCHIVE_CRAWL_ID) -> CrawlArchive:
    """A fresh crawl's archive in the spool, rotating its WARC every few records."""
    crawl = CrawlDir.create(spool, CrawlInfo(crawl_id, "news", T0))
    return CrawlArchive(
        crawl, prefix="news", max_size=3_000, digest_algorithm="sha1", warcinfo={"software": "t"}
    )


def write_articles(archive: CrawlArchive, start: int, count: int) -> list[str]:
    """Archive `count` article pages and their items; their URLs, in capture order."""
    urls = []
    for i in range(start, start + count):
        url = f"https://www.example-news.com/story/{i}"
        body = f"<html><title>Story {i}</title><p>{'text ' * 80}</p></html>".encode()
        refs = archive.write_exchange(page_exchange(url, body, T0 + timedelta(minutes=i)))
        archive.write_item(
            {
                "url": url,
                "warc_record_id": refs.response_id,
                "warc_date": refs.date,
                "title": f"Story {i}",
                "authors": ["Desk"],
                "body": f"Story {i} text.",
                "word_count": 3,
                "language": "en",
            }
        )
        urls.append(url)
    return urls
