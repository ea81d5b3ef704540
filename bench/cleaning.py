"""Speed of the article cleaner against trafilatura on the same pages, in the same run.

    .venv/bin/python -m bench.cleaning            # all 181 benchmark pages
    python -m bench.cleaning --repeat 3           # best of three runs each

Prints pages/s of archiver.cleaning.cleaner.clean_html and of trafilatura.extract (plain text,
comments off) and their ratio (ours / trafilatura; above 1.0 means faster). trafilatura
is optional: install it in a separate virtualenv together with this project to compare,
otherwise only our figure is printed.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from archiver.cleaning import clean_html

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "datasets" / "article-extraction-benchmark"


def load_pages(data: Path) -> list[tuple[str, str | None]]:
    """(html, url) of every benchmark page, decoded before any timing."""
    truth = json.loads((data / "ground-truth.json").read_text(encoding="utf-8"))
    return [
        (gzip.decompress((data / "html" / f"{key}.html.gz").read_bytes()).decode("utf-8", "replace"),
         truth[key].get("url"))
        for key in sorted(truth)
    ]  # fmt: skip


def one_pass(
    func: Callable[[str, str | None], object], pages: list[tuple[str, str | None]]
) -> float:
    """Seconds to run func over every page once."""
    start = time.perf_counter()
    for html, url in pages:
        func(html, url)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args(argv)
    pages = load_pages(args.data)
    extractors: dict[str, Callable[[str, str | None], object]] = {
        "ours": lambda h, u: clean_html(h, u)
    }
    try:
        import trafilatura
    except ImportError:
        trafilatura = None
    else:
        extractors["trafilatura"] = lambda h, u: trafilatura.extract(
            h, url=u, include_comments=False
        )
    for func in extractors.values():
        func(pages[0][0], pages[0][1])  # one-time set-up (rules, caches) is not timed
    # Passes alternate between the extractors and the best pass of each counts, so a
    # burst of load from other processes on the machine does not favour either side.
    best = dict.fromkeys(extractors, float("inf"))
    for _ in range(args.repeat):
        for name, func in extractors.items():
            best[name] = min(best[name], one_pass(func, pages))
    rate = {name: len(pages) / seconds for name, seconds in best.items()}
    print(f"pages        {len(pages)}")
    print(f"ours         {rate['ours']:8.1f} pages/s")
    if trafilatura is None:
        print("trafilatura  not installed: pip install trafilatura==2.3.1 (in a separate venv) "
              "to compare")  # fmt: skip
        return 0
    print(f"trafilatura  {rate['trafilatura']:8.1f} pages/s  ({trafilatura.__version__})")
    print(f"ratio        {rate['ours'] / rate['trafilatura']:8.2f}  (ours / trafilatura)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
