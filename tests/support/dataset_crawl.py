"""A crawl directory as a crawl leaves it for the article dataset: a WARC of article pages of
two sites over several days, its .cdxj sidecar, and items.jsonl naming each response record.

Used by the dataset's unit tests (build, read) and its storage tests (range reads, reindex).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from archiver.index import write_sidecar
from archiver.spool import CrawlDir, CrawlInfo
from archiver.warc import RotatingWarcWriter, build_exchange_records, warc_date
from tests.support.index_warcs import page_exchange

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
CRAWL_ID = "news-20260301T120000Z-a71c1e"
# Hosts as the crawl meets them; the site column drops "www." and lowercases.
HOSTS = ("www.Alpha.example", "beta.example")
SITES = ("alpha.example", "beta.example")
_WORDS = [
    "council", "budget", "river", "election", "harbour", "school", "minister", "storm",
    "festival", "railway", "hospital", "market", "court", "museum", "bridge", "energy",
]  # fmt: skip


@dataclass
class ArticleCrawl:
    """The crawl directory, its WARC and sidecar, and the items written (in crawl order)."""

    crawl: CrawlDir
    warc: Path
    sidecar: Path
    items: list[dict[str, Any]]

    def expected(self, site: str | None = None) -> list[dict[str, Any]]:
        """The items of a site (all by default) in dataset order: site, then capture time."""
        chosen = [i for i in self.items if site is None or i["site"] == site]
        return sorted(chosen, key=lambda i: (i["site"], i["warc_date"]))


def _text(i: int, words: int) -> str:
    rng = random.Random(i)
    return " ".join(rng.choice(_WORDS) + str(rng.randrange(1000)) for _ in range(words))


def article_crawl(
    spool: Path, count: int, *, days: int = 4, words: int = 120, crawl_id: str = CRAWL_ID
) -> ArticleCrawl:
    """A finished crawl of `count` articles, alternating between the two sites, over `days` days.

    Items are written newest first, so the dataset's sort is what puts them in order.
    """
    spool.mkdir(parents=True, exist_ok=True)
    crawl = CrawlDir.create(spool, CrawlInfo(crawl_id, "news", T0, start_urls=[]))
    writer = RotatingWarcWriter(
        crawl.root, prefix="news", max_size=10**10, warcinfo_fields={"software": "test"}, host="h"
    )
    items = []
    for i in range(count):
        host = HOSTS[i % 2]
        when = T0 + timedelta(days=i % days, minutes=i)
        url = f"https://{host}/news/{i}.html"
        body = f"<html><title>Story {i}</title><p>{_text(i, words)}</p></html>".encode()
        request, response = build_exchange_records(page_exchange(url, body, when))
        writer.write([request, response])
        items.append(
            {
                "url": url,
                "site": SITES[i % 2],
                "warc_record_id": response.rec_headers.get_header("WARC-Record-ID"),
                "warc_date": warc_date(when),
                "title": f"Story {i}",
                "authors": [f"Author {i % 3}", "Desk"] if i % 5 else [],
                "published": f"{when:%Y-%m-%d}",
                "modified": None,
                "language": "en" if i % 3 else "de",
                "canonical_url": url,
                "body": _text(i, words),
                "word_count": words,
            }
        )
    closed = writer.close()
    assert closed is not None
    sidecar = write_sidecar(closed)
    with open(crawl.root / "items.jsonl", "w", encoding="utf-8") as out:
        for item in reversed(items):
            doc = {k: v for k, v in item.items() if k != "site"}
            out.write(json.dumps({"status": 200, "is_article": True, **doc}) + "\n")
    return ArticleCrawl(crawl, closed.path, sidecar, items)
