"""A deterministic corpus of dataset-like articles for bench/search.py.

Sentences come from the clean texts of the article-extraction dataset (its ground truth);
each generated article strings 5-30 of them together and swaps about one word in seven for a
word drawn from a Zipf law over a 60,000-word vocabulary (the dataset's own words first,
then made-up ones), so that common words are common, most words are rare, and phrases from
the dataset still occur in some articles and not in others. Sites follow a Zipf law too
(a few big sites, a long tail), dates spread over 2022-2025, a tenth of the articles are
not in English.
"""

from __future__ import annotations

import itertools
import json
import random
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench._common import DATA

VOCABULARY = 60_000
SITES = 60
SWAP = 1 / 7
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"[A-Za-z][A-Za-z']+")
_SYLLABLES = [c + v for c in "bcdfghklmnprstvz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]


@dataclass(frozen=True)
class Article:
    """One generated article, in the columns the search index reads."""

    url: str
    site: str
    title: str
    authors: list[str]
    published: str
    language: str
    captured: datetime
    text: str


def _sentences(data: Path) -> list[str]:
    truth = json.loads((data / "ground-truth.json").read_text(encoding="utf-8"))
    bodies = [entry.get("articleBody") or "" for entry in truth.values()]
    out = []
    for body in bodies:
        out += [s.strip() for s in _SENTENCE.split(body) if 30 <= len(s.strip()) <= 400]
    if not out:
        raise SystemExit(f"no article text in {data}/ground-truth.json")
    return out


def _vocabulary(sentences: list[str], rng: random.Random) -> list[str]:
    """Words by rank: the dataset's by frequency, then made-up ones up to VOCABULARY."""
    counts = Counter(w.lower() for s in sentences for w in _WORD.findall(s))
    words = [w for w, _ in counts.most_common()]
    seen = set(words)
    while len(words) < VOCABULARY:
        word = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words[:VOCABULARY]


def _zipf_weights(n: int) -> list[float]:
    return list(itertools.accumulate(1.0 / (rank + 1) for rank in range(n)))


class Corpus:
    """Generates the same articles for the same seed."""

    def __init__(self, seed: int = 14, data: Path = DATA) -> None:
        self.rng = random.Random(seed)
        self.sentences = _sentences(data)
        self.words = _vocabulary(self.sentences, self.rng)
        self._word_cum = _zipf_weights(len(self.words))
        self.sites = [f"news{n:02d}.example" for n in range(SITES)]
        self._site_cum = _zipf_weights(SITES)
        self.start = datetime(2022, 1, 1, tzinfo=UTC)

    def _swap(self, sentence: str) -> str:
        rng = self.rng
        out = []
        for token in sentence.split(" "):
            if rng.random() < SWAP:
                token = rng.choices(self.words, cum_weights=self._word_cum)[0]
            out.append(token)
        return " ".join(out)

    def articles(self, count: int) -> Iterator[Article]:
        """`count` articles, the same ones for the same seed."""
        rng = self.rng
        for n in range(count):
            site = rng.choices(self.sites, cum_weights=self._site_cum)[0]
            picked = rng.sample(self.sentences, rng.randint(5, 30))
            text = "\n\n".join(self._swap(s) for s in picked)
            day = self.start + timedelta(days=rng.randrange(4 * 365), seconds=rng.randrange(86_400))
            yield Article(
                url=f"https://{site}/{day:%Y/%m/%d}/story-{n}",
                site=site,
                title=self._swap(rng.choice(self.sentences))[:120],
                authors=[f"Author {rng.randrange(500)}"],
                published=day.date().isoformat(),
                language="en" if rng.random() < 0.9 else rng.choice(["de", "fr", "es"]),
                captured=day + timedelta(hours=rng.randrange(1, 72)),
                text=text,
            )


def dataset_rows(articles: list[Article], crawl_id: str = "bench") -> list[dict[str, Any]]:
    """The articles as rows of ARTICLE_SCHEMA."""
    return [
        {
            "url": a.url,
            "canonical_url": a.url,
            "site": a.site,
            "title": a.title,
            "authors": a.authors,
            "published": a.published,
            "modified": None,
            "language": a.language,
            "captured": a.captured,
            "crawl_id": crawl_id,
            "text": a.text,
            "word_count": a.text.count(" ") + 1,
            "warc_key": f"bench/{crawl_id}/part-{n // 5000:05d}.warc.gz",
            "warc_offset": n * 20_000,
            "warc_length": 19_000,
            "record_id": f"<urn:uuid:00000000-0000-4000-8000-{n:012d}>",
            "payload_digest": None,
        }
        for n, a in enumerate(articles)
    ]
