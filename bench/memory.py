"""Memory: peak RSS of a crawl of 5,000 and of 20,000 article pages; growth should stay under 20%.

    .venv/bin/python bench/memory.py                  # 5,000 then 20,000 pages, capture path
    .venv/bin/python bench/memory.py --clean          # the full pipeline (cleaning on)
    .venv/bin/python bench/memory.py --quick          # 300 then 1,200 pages, a smoke run

Each size is crawled by `scrapy crawl news` with the project's settings (WARC capture and
upload to a SeaweedFS started here) over its own generated loopback site
(bench/loopsite.py), with politeness lifted as in bench/crawl_throughput.py.  Memory is
read from /proc while the crawl runs: the crawl process's own peak (VmHWM), and the peak of
the crawl process and its children summed (the cleaning workers, with --clean).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DATA, MB, figure, ratio_line, seaweed, workdir
from crawl_throughput import Bench
from loopsite import LoopSite


def main(argv: list[str] | None = None) -> int:
    """Crawl a small and a large site and print peak RSS of each and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", type=int, default=5000, help="pages of the first crawl")
    parser.add_argument("--large", type=int, default=20000, help="pages of the second crawl")
    parser.add_argument("--clean", action="store_true", help="cleaning on (the full pipeline)")
    parser.add_argument("--quick", action="store_true", help="300 and 1,200 pages: a smoke run")
    parser.add_argument("--data", type=Path, default=DATA, help="the article-extraction-benchmark")
    args = parser.parse_args(argv)
    sizes = (300, 1200) if args.quick else (args.small, args.large)
    if sizes[0] >= sizes[1]:
        parser.error("--small must be smaller than --large")
    kind = "full pipeline" if args.clean else "capture path"
    peaks: list[tuple[int, int]] = []
    with workdir(prefix="memory-") as work, seaweed(work / "s3") as server:
        for pages in sizes:
            site = LoopSite(pages, args.data)
            site.start()
            try:
                run_dir = work / f"site-{pages}"
                run_dir.mkdir()
                bench = Bench(site, server, run_dir, None)
                result, got, _ = bench.ours(clean=args.clean)
            finally:
                site.stop()
            if got != bench.expected:
                print(f"warning: fetched {got} pages, the site has {bench.expected}")
            peaks.append((result.maxrss, result.tree_rss))
            print(
                figure(f"{kind}, {pages} articles", result.maxrss / MB, "MiB peak RSS",
                       f"(with child processes {result.tree_rss / MB:.0f} MiB; {got} pages "
                       f"in {result.seconds:.0f} s)"),
                flush=True,
            )  # fmt: skip
    (small_own, small_tree), (large_own, large_tree) = peaks
    print(ratio_line(f"peak RSS {sizes[1]} / {sizes[0]} pages", large_own, small_own, "< 1.2"))
    if args.clean:
        print(ratio_line("same, with cleaning workers", large_tree, small_tree, "< 1.2"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
