"""The article item the news spider yields and the pipelines fill in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ArticleItem:
    """One article page: where it was captured, then what the cleaner found in it."""

    url: str
    fetched_at: str
    status: int
    content_type: str | None
    # Raw response body (still as Scrapy decoded it from Content-Encoding); dropped after cleaning.
    body: bytes = field(default=b"", repr=False)
    # Links to the capture: the response record this item was cleaned from.
    warc_record_id: str | None = None
    warc_date: str | None = None
    detection: str | None = None
    # The page's date in the feed or sitemap that listed it (ISO 8601): one more date evidence.
    listed_date: str | None = None
    # Filled in by the cleaning pipeline (archiver.cleaning.cleaner.Article.to_dict()).
    article: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form, without the raw body."""
        return {
            "url": self.url,
            "fetched_at": self.fetched_at,
            "status": self.status,
            "content_type": self.content_type,
            "warc_record_id": self.warc_record_id,
            "warc_date": self.warc_date,
            "detection": self.detection,
            **self.article,
        }
