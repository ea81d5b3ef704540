"""Full-text search engines on 100,000 dataset-like articles: SQLite FTS5 against tantivy, grep as baseline.

    .venv/bin/python -m bench.search                     # 100,000 articles, 200 queries of each kind
    .venv/bin/python -m bench.search --articles 10000    # a quick look
    .venv/bin/python -m bench.search --quick             # smoke test: 2,000 articles

Generates the articles (bench/_search_corpus.py: sentences of the dataset's clean texts with
Zipf-distributed words swapped in, seeded) in chunks of 10,000, each chunk a pyarrow table of
the article dataset's schema, and indexes every chunk into both engines:

- fts5 (SQLite's FTS5, in the standard library; bench/_search_fts5.py): an external-content
  FTS5 table beside an articles table holding the metadata, one transaction per chunk.
- tantivy (PyPI `tantivy`, Rust): archiver.search.SearchIndex.add_table, the index that
  `archiver search` and `archiver serve` use, with one writer thread (the machine is shared;
  tantivy can use more).

Both answer a query the same way: the top 20 by BM25 (title weighted 10) with the total,
the site/language/month facets over all matches, the page's stored rows and their HTML
snippets with the matched words marked.

Then it times three kinds of query, the same strings for all: a single word, a phrase of 2-3
words and a phrase filtered by site and a one-year date range, with a grep (Python `in` over
the lowercased texts, the filters checked first) as the baseline. Prints build rate, index
size and p50/p95 latency per engine and the ratios against the targets of issue 14:
p95 < 50 ms for a filtered phrase query and >= 2,000 articles/s indexed.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa

from archiver.dataset.schema import ARTICLE_SCHEMA
from archiver.search import SearchIndex, SearchQuery
from bench._common import MB, figure, ratio_line, workdir
from bench._search_corpus import Corpus, dataset_rows
from bench._search_fts5 import Fts5Index

CHUNK = 10_000
KINDS = ("word", "phrase", "filtered")
_WORDS = re.compile(r"[A-Za-z]{3,}")


@dataclass(frozen=True)
class Probe:
    """One benchmark query: its text, optional site and date range."""

    text: str
    words: tuple[str, ...]
    site: str | None = None
    since: date | None = None
    until: date | None = None


@dataclass
class Kept:
    """What the grep baseline and the query generator keep of each article."""

    site: str
    day: str
    lowered: str


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _probes(kept: list[Kept], kind: str, count: int, rng: random.Random) -> list[Probe]:
    probes: list[Probe] = []
    while len(probes) < count:
        doc = rng.choice(kept)
        words = _WORDS.findall(doc.lowered)
        if len(words) < 4:
            continue
        if kind == "word":
            word = rng.choice(words)
            probes.append(Probe(word, (word,)))
            continue
        start = rng.randrange(len(words) - 3)
        phrase = tuple(words[start : start + rng.choice((2, 3))])
        if " ".join(phrase) not in doc.lowered:
            continue  # the words were split by punctuation in the text
        if kind == "phrase":
            probes.append(Probe(f'"{" ".join(phrase)}"', phrase))
            continue
        day = date.fromisoformat(doc.day)
        since = day - timedelta(days=rng.randrange(365))
        probes.append(
            Probe(f'"{" ".join(phrase)}"', phrase, doc.site, since, since + timedelta(days=365))
        )
    return probes


def _grep(kept: list[Kept], probe: Probe) -> int:
    needle = " ".join(probe.words)
    since = probe.since.isoformat() if probe.since else ""
    until = probe.until.isoformat() if probe.until else "9999"
    return sum(
        1
        for k in kept
        if (probe.site is None or k.site == probe.site)
        and since <= k.day <= until
        and needle in k.lowered
    )


def _latencies(
    run: Callable[[Probe], object], probes: list[Probe]
) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU milliseconds of each query, after ten to warm the caches."""
    for probe in probes[:10]:
        run(probe)
    wall, cpu = [], []
    for probe in probes:
        started, started_cpu = time.perf_counter(), time.process_time()
        run(probe)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return wall, cpu


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _fts_run(index: Fts5Index) -> Callable[[Probe], object]:
    def run(probe: Probe) -> object:
        return index.search(probe.text, probe.site, probe.since, probe.until)

    return run


def _tantivy_run(index: SearchIndex) -> Callable[[Probe], object]:
    def run(probe: Probe) -> object:
        return index.search(
            SearchQuery(probe.text, site=probe.site, since=probe.since, until=probe.until)
        )

    return run


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200, help="queries of each kind per engine")
    parser.add_argument(
        "--grep-queries", type=int, default=20, help="queries of each kind for grep"
    )
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument(
        "--quick", action="store_true", help="smoke test: 2,000 articles, 20 queries of each kind"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.articles, args.queries, args.grep_queries = 2_000, 20, 5

    corpus = Corpus(args.seed)
    with workdir(args.keep, prefix="bench-search-") as work:
        (work / "fts5").mkdir()
        fts = Fts5Index(work / "fts5" / "search.sqlite3")
        tan = SearchIndex.open(work / "tantivy")
        kept: list[Kept] = []
        # Wall-clock and CPU seconds (all threads of this process) spent indexing per engine.
        spent = {"fts5": [0.0, 0.0], "tantivy": [0.0, 0.0]}
        text_bytes = 0
        stream = corpus.articles(args.articles)
        for chunk_no in range(0, args.articles, CHUNK):
            chunk = [next(stream) for _ in range(min(CHUNK, args.articles - chunk_no))]
            table = pa.Table.from_pylist(dataset_rows(chunk), schema=ARTICLE_SCHEMA)
            key = f"bench/chunk-{chunk_no}/articles.parquet"
            for name in ("fts5", "tantivy"):
                started, started_cpu = time.perf_counter(), time.process_time()
                if name == "fts5":
                    fts.add_table(table, key)
                else:
                    tan.add_table(table, key, "etag")
                spent[name][0] += time.perf_counter() - started
                spent[name][1] += time.process_time() - started_cpu
            for a in chunk:
                text_bytes += len(a.text.encode())
                kept.append(Kept(a.site, a.published, (a.title + "\n" + a.text).lower()))
        fts_size = fts.size()
        tan_size = _dir_bytes(work / "tantivy")

        n = len(kept)
        print(figure("articles", n, "articles", f"{text_bytes / MB:.0f} MB of text"))
        for name in ("fts5", "tantivy"):
            w, c = spent[name]
            print(figure(f"{name} build rate (CPU)", n / c, "articles/s", f"{c:.1f} CPU s"))
            print(figure(f"{name} build rate (wall)", n / w, "articles/s", f"{w:.1f} s"))
        print(figure("fts5 index size", fts_size / MB, "MB", "with the text and the metadata"))
        print(figure("tantivy index size", tan_size / MB, "MB", "with the stored text"))

        rng = random.Random(args.seed + 1)
        wall: dict[tuple[str, str], list[float]] = {}
        cpu: dict[tuple[str, str], list[float]] = {}
        for kind in KINDS:
            probes = _probes(kept, kind, args.queries, rng)
            runs = {
                "fts5": (_fts_run(fts), probes),
                "tantivy": (_tantivy_run(tan), probes),
                "grep": (lambda p: _grep(kept, p), probes[: args.grep_queries]),
            }
            for engine, (run, some) in runs.items():
                wall[engine, kind], cpu[engine, kind] = _latencies(run, some)
                print(
                    figure(
                        f"{engine} {kind} p50",
                        _pct(wall[engine, kind], 0.5),
                        "ms",
                        f"p95 {_pct(wall[engine, kind], 0.95):.1f} ms; CPU p50 "
                        f"{_pct(cpu[engine, kind], 0.5):.1f} p95 {_pct(cpu[engine, kind], 0.95):.1f} ms",
                    )
                )
        fts.close()

        for kind in KINDS:
            grep = statistics.median(wall["grep", kind])
            for engine in ("fts5", "tantivy"):
                print(
                    ratio_line(
                        f"grep p50 / {engine} p50 {kind}",
                        grep,
                        statistics.median(wall[engine, kind]),
                    )
                )
        for engine in ("fts5", "tantivy"):
            print(
                ratio_line(
                    f"{engine} filtered p95 wall (ms)",
                    _pct(wall[engine, "filtered"], 0.95),
                    1.0,
                    "< 50",
                )
            )
            print(
                ratio_line(
                    f"{engine} filtered p95 CPU (ms)",
                    _pct(cpu[engine, "filtered"], 0.95),
                    1.0,
                    "< 50",
                )
            )
            print(
                ratio_line(f"{engine} build CPU (articles/s)", n / spent[engine][1], 1.0, ">= 2000")
            )
            print(
                ratio_line(
                    f"{engine} build wall (articles/s)", n / spent[engine][0], 1.0, ">= 2000"
                )
            )
        print(
            figure(
                "load average (1 min) at the end",
                os.getloadavg()[0],
                "",
                f"on {os.cpu_count()} CPUs",
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
