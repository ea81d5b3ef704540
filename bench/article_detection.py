"""How many pages of the cleaner's development sets are told to be articles.

    .venv/bin/python -m bench.article_detection            # both sets
    .venv/bin/python -m bench.article_detection --show 20  # and the first 20 pages refused

Every page of both sets is an article or article-like (trafilatura-eval-dev also holds a few
listing-like pages). Two figures per set:

- judged articles: pages the cleaner's judgement (archiver.cleaning.pagekind) calls articles,
  markup or not: the judgement alone, as if no page carried JSON-LD or og:type;
- become items: pages the spider's path makes items of - an article by its markup or URL
  (discovery.parse), or a candidate that the judgement keeps.

docs/cleaning.md ("Which pages are articles") has the figures.
"""

from __future__ import annotations

import argparse
import gzip
import json
from collections import Counter
from collections.abc import Iterator

from archiver.cleaning import clean_html
from archiver.cleaning.pagekind import judge_article
from archiver.discovery import analyze_html
from bench._common import REPO

SHARED = REPO.parent / "shared" / "datasets"
# trafilatura-eval-dev keeps no URL for some pages; they are judged under this one.
NO_URL = "https://example.invalid/page"


def _benchmark() -> Iterator[tuple[str, str, bytes]]:
    root = SHARED / "article-extraction-benchmark"
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    for key, entry in sorted(truth.items()):
        yield (
            key,
            str(entry["url"]),
            gzip.decompress((root / "html" / f"{key}.html.gz").read_bytes()),
        )


def _trafilatura() -> Iterator[tuple[str, str, bytes]]:
    root = SHARED / "trafilatura-eval-dev"
    data = json.loads((root / "evaldata-dev.json").read_text(encoding="utf-8"))
    for key, entry in data.items():
        url = key if key.startswith(("http://", "https://")) else NO_URL
        yield str(entry["file"]), url, (root / "html" / entry["file"]).read_bytes()


SETS = {"article-extraction-benchmark": _benchmark, "trafilatura-eval-dev": _trafilatura}


def measure(name: str, show: int) -> dict[str, object]:
    """The figures of one set (and the first `show` refused pages printed)."""
    pages = judged = items = candidates = kept = 0
    reasons: Counter[str] = Counter()
    for key, url, body in SETS[name]():
        pages += 1
        article = clean_html(body, url)
        kind = judge_article(article)
        judged += kind.is_article
        info = analyze_html(body, url)
        if info.is_article:
            items += 1
        elif info.candidate:
            candidates += 1
            kept += kind.is_article
            items += kind.is_article
        if not kind.is_article:
            reasons[kind.reason.split(":")[0].split("(")[0].strip()] += 1
            if show > 0:
                show -= 1
                print(f"  refused {key[:50]}: {kind.reason}")
    return {
        "set": name,
        "pages": pages,
        "judged_articles": judged,
        "judged_share": round(judged / pages, 3),
        "items": items,
        "items_share": round(items / pages, 3),
        "candidates": candidates,
        "candidates_kept": kept,
        "refused_by_reason": dict(reasons.most_common()),
    }


def main(argv: list[str] | None = None) -> int:
    """Print one JSON line of figures per set."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", choices=sorted(SETS), action="append")
    parser.add_argument("--show", type=int, default=0, help="print this many refused pages")
    args = parser.parse_args(argv)
    for name in args.set or list(SETS):
        print(json.dumps(measure(name, args.show)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
