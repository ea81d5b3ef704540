"""Memory: peak RSS of a crawl of 5,000 and of 20,000 article pages; growth should stay under 20%.

    .venv/bin/python -m bench.memory                  # 5,000 then 20,000 pages, capture path
    .venv/bin/python -m bench.memory --clean          # the full pipeline (cleaning on)
    .venv/bin/python -m bench.memory --quick          # 150 then 600 pages, a smoke run
    .venv/bin/python -m bench.memory --set ARCHIVER_FRONTIER=memory   # the queue in memory

Each size is crawled by `scrapy crawl news` with the project's settings (WARC capture and
upload to a SeaweedFS started here) over its own generated loopback site
(bench/loopsite.py), with politeness lifted as in bench/crawl_throughput.py, and, as the
baseline, by the bare Scrapy spider of that benchmark (Scrapy's own growth: its frontier).  Memory is
read from /proc while the crawl runs: the crawl process's own peak (VmHWM), and the peak of
the crawl process and its children summed (the cleaning workers, with --clean).  With the
project's settings the queue of requests waits on disk (ARCHIVER_FRONTIER=disk); each crawl
prints how many of its requests were queued on disk and in memory.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

from bench._common import DATA, MB, RunResult, figure, ratio_line, seaweed, workdir
from bench.crawl_throughput import Bench
from bench.loopsite import LoopSite


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line; --quick replaces the two sizes."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", type=int, default=5000, help="pages of the first crawl")
    parser.add_argument("--large", type=int, default=20000, help="pages of the second crawl")
    parser.add_argument("--clean", action="store_true", help="cleaning on (the full pipeline)")
    parser.add_argument("--quick", action="store_true", help="150 and 600 pages: a smoke run")
    parser.add_argument(
        "--jobdir",
        action="store_true",
        help="frontier in a Scrapy JOBDIR (as site crawls), not the private disk queue",
    )
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="a setting for the crawls"
    )
    parser.add_argument(
        "--no-bare", action="store_true", help="skip the bare Scrapy baseline at the same sizes"
    )
    parser.add_argument("--data", type=Path, default=DATA, help="the article-extraction-benchmark")
    args = parser.parse_args(argv)
    args.sizes = (150, 600) if args.quick else (args.small, args.large)
    if args.sizes[0] >= args.sizes[1]:
        parser.error("--small must be smaller than --large")
    return args


def crawl_line(
    kind: str, pages: int, result: RunResult, got: int, stats: dict[str, Any], median: int
) -> str:
    """One crawl's figure line: peak RSS, then where the queue waited and when RSS peaked."""
    # When the crawl was at its highest: a peak at the very end is work done at close.
    top = max(range(len(result.rss)), key=result.rss.__getitem__) if result.rss else 0
    highest = (
        f"highest sample {result.rss[top] / MB:.0f} MiB at "
        f"{100 * top / max(len(result.rss), 1):.0f}% of the run; "
        if result.rss
        else ""
    )
    queued = (
        f"requests queued on disk {stats.get('scheduler/enqueued/disk', 0)}, "
        f"in memory {stats.get('scheduler/enqueued/memory', 0)}"
    )
    return (
        figure(f"{kind}, {pages} articles", result.maxrss / MB, "MiB peak RSS",
               f"(with child processes {result.tree_rss / MB:.0f} MiB; {got} pages "
               f"in {result.seconds:.0f} s; median while crawling {median / MB:.0f} MiB; "
               f"{highest}{queued})")
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Crawl a small and a large site and print peak RSS of each and their ratio."""
    args = parse_args(argv)
    extra = dict(item.split("=", 1) for item in args.set)
    sizes = args.sizes
    kind = "full pipeline" if args.clean else "capture path"
    if args.jobdir:
        kind += " (JOBDIR)"
    if extra:
        kind += " (" + " ".join(args.set) + ")"
    peaks: list[tuple[int, int]] = []
    medians: list[int] = []
    bare: list[int] = []
    with workdir(prefix="memory-") as work, seaweed(work / "s3") as server:
        for pages in sizes:
            site = LoopSite(pages, args.data)
            site.start()
            try:
                run_dir = work / f"site-{pages}"
                run_dir.mkdir()
                bench = Bench(site, server, run_dir, None)
                result, got, stats = bench.ours(clean=args.clean, jobdir=args.jobdir, extra=extra)
                if not args.no_bare:
                    bare_result, bare_got = bench.bare()
                    bare.append(bare_result.maxrss)
                    print(figure(f"bare Scrapy, {pages} articles", bare_result.maxrss / MB,
                                 "MiB peak RSS", f"({bare_got} pages in {bare_result.seconds:.0f} s)"))  # fmt: skip
            finally:
                site.stop()
            if got != bench.expected:
                print(f"warning: fetched {got} pages, the site has {bench.expected}")
            peaks.append((result.maxrss, result.tree_rss))
            # The middle of the crawl: the peak may come from work done once at the end.
            medians.append(int(statistics.median(result.rss)) if result.rss else 0)
            print(crawl_line(kind, pages, result, got, stats, medians[-1]), flush=True)
    (small_own, small_tree), (large_own, large_tree) = peaks
    print(ratio_line(f"peak RSS {sizes[1]} / {sizes[0]} pages", large_own, small_own, "< 1.2"))
    print(ratio_line("median RSS while crawling, same sizes", medians[1], medians[0]))
    if args.clean:
        print(ratio_line("same, with cleaning workers", large_tree, small_tree, "< 1.2"))
    if bare:
        print(ratio_line(f"bare Scrapy peak RSS {sizes[1]} / {sizes[0]}", bare[1], bare[0]))
        # Scrapy's own growth (its in-memory frontier) beside ours.
        print(figure("growth, ours", (large_own - small_own) / MB, "MiB"))
        print(figure("growth, bare Scrapy", (bare[1] - bare[0]) / MB, "MiB"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
