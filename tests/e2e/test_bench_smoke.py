"""The benchmarks run: each one's --quick mode once, printing its figures and ratio lines.

Quick runs are too small for their figures to mean anything; what is checked is that every
benchmark still runs end to end (loopback site, real crawls, SeaweedFS, wget, uploads) and
prints each ratio it promises as a number.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys

import pytest

from tests.support.paths import ROOT

BENCH = ROOT / "bench"
RATIO = re.compile(r"^ratio (.+?)\s+(-?[0-9.]+|nan)(?:\s+\(target (.+?): (met|NOT met)\))?$")

pytestmark = pytest.mark.slow


def run_quick(script: str) -> dict[str, float]:
    """Run one benchmark with --quick; return its ratio lines by name."""
    proc = subprocess.run(
        [sys.executable, "-m", f"bench.{script.removesuffix('.py')}", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ratios: dict[str, float] = {}
    for line in proc.stdout.splitlines():
        if line.startswith("ratio "):
            match = RATIO.match(line)
            assert match, f"malformed ratio line: {line!r}"
            ratios[match[1].strip()] = float(match[2])
    assert "warning" not in proc.stdout, proc.stdout
    return ratios


def _finite_positive(ratios: dict[str, float]) -> None:
    for name, value in ratios.items():
        assert math.isfinite(value) and value > 0, f"{name}: {value}"


def test_crawl_throughput_quick() -> None:
    ratios = run_quick("crawl_throughput.py")
    cores = len(os.sched_getaffinity(0))
    assert {
        "capture / bare Scrapy",
        "capture / wget",
        # The same runs again, each response held back 20 ms by the loopback site.
        "capture / bare Scrapy, 20 ms latency",
        "capture / wget, 20 ms latency",
        "CPU per page, bare / capture",
        f"full / ({cores} cores x cleaning rate)",
        "full / capture",
        "full / that expectation",
    } == set(ratios), ratios
    _finite_positive(ratios)


def test_memory_quick() -> None:
    ratios = run_quick("memory.py")
    assert set(ratios) == {
        "peak RSS 600 / 150 pages",
        "median RSS while crawling, same sizes",
        "bare Scrapy peak RSS 600 / 150",
    }, ratios
    _finite_positive(ratios)


def test_upload_quick() -> None:
    ratios = run_quick("upload.py")
    assert {
        "ours / boto3, 10 MB",
        "ours / boto3, 70 MB",
        "peak RSS ours 70 MB / 10 MB",
        "peak RSS boto3 70 MB / 10 MB",
    } == set(ratios), ratios
    _finite_positive(ratios)


def test_warc_write_quick() -> None:
    ratios = run_quick("warc_write.py")
    assert {
        "ours / warcio",
        "ours level 9 / warcio",
        "ours writer thread / warcio",
        "file size ours / warcio",
    } == set(ratios), ratios
    _finite_positive(ratios)


# bench/retrieval.py's ratio lines explain themselves after the number: "(...)" or "x faster ...".
RETRIEVAL_RATIO = re.compile(r"^ratio (.+?)\s+([0-9.]+)x?\s+(?:\(|faster )")
RETRIEVAL_BYTES = re.compile(r"^(large get warm|large download) .*?\s([0-9]+) bytes ")


def test_retrieval_quick() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.retrieval", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ratios: dict[str, float] = {}
    moved: dict[str, int] = {}
    for line in proc.stdout.splitlines():
        if line.startswith("ratio "):
            match = RETRIEVAL_RATIO.match(line)
            assert match, f"malformed ratio line: {line!r}"
            ratios[match[1].strip()] = float(match[2])
        elif bytes_match := RETRIEVAL_BYTES.match(line):
            moved[bytes_match[1]] = int(bytes_match[2])
    assert set(ratios) == {
        "get cold",
        "get warm",
        "get after find",
        "warm/cold",
        "warm/uncached",
        "find",
        "find/scan",
        "large get cold",
        "large get warm",
        "large download/get warm",
    }, ratios
    _finite_positive(ratios)
    # A get reads index blocks and one record, never the WARC that holds it.
    assert moved["large get warm"] * 10 < moved["large download"], moved


def test_search_quick() -> None:
    ratios = run_quick("search.py")
    kinds = ("word", "phrase", "filtered")
    expected = {f"grep p50 / {e} p50 {k}" for e in ("fts5", "tantivy") for k in kinds}
    for engine in ("fts5", "tantivy"):
        expected |= {
            f"{engine} filtered p95 wall (ms)",
            f"{engine} filtered p95 CPU (ms)",
            f"{engine} build CPU (articles/s)",
            f"{engine} build wall (articles/s)",
        }
    assert set(ratios) == expected, ratios
    _finite_positive(ratios)


def test_requisites_quick() -> None:
    ratios = run_quick("requisites.py")
    assert {
        "WARC bytes, requisites all / none",
        "bytes sent, requisites all / none",
        "requests, requisites all / none",
        "WARC bytes, second crawl / first (all)",
    } <= set(ratios)
    _finite_positive(ratios)
    # Requisites cost bytes and requests; an unchanged recrawl stores them as revisits.
    assert ratios["requests, requisites all / none"] > 1
    assert ratios["WARC bytes, second crawl / first (all)"] < 1
