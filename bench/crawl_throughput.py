"""Crawl throughput: pages/s of our capture path and full pipeline against bare Scrapy and wget.

    .venv/bin/python -m bench.crawl_throughput                # 5,000 article pages
    .venv/bin/python -m bench.crawl_throughput --quick        # 100 pages, a smoke run
    .venv/bin/python -m bench.crawl_throughput --repeat 3     # best of three rounds
    .venv/bin/python -m bench.crawl_throughput --profile var/profile   # py-spy profiles
    .venv/bin/python -m bench.crawl_throughput --latency-ms 50 # the second set at 50 ms
    .venv/bin/python -m bench.crawl_throughput --requisites --only req-none,req-all

All runs of one invocation crawl the same generated loopback site (bench/loopsite.py),
one after another, and each is timed from process start to process exit:

- bare Scrapy: a plain spider following every <a href> on the site, Scrapy's default
  handler, no pipelines, no WARC;
- capture path: `scrapy crawl news` with the project's settings (capture handler, WARC
  middleware, uploads to a SeaweedFS started here), cleaning off;
- full pipeline: the same with cleaning on, one worker process per core;
- wget --warc-file over the same URLs, given as a list (-i).

Politeness is lifted for the loopback site in every Scrapy run alike: no delay, no
AutoThrottle, 16 requests at once per site, robots.txt not fetched.  The single-process
cleaning rate is measured in this process on the same pages.

With --requisites (or the kinds req-none, req-all in --only), the capture path also crawls a
second loopback site whose articles load their stylesheets, scripts and images from it (bench/
loopsite.py --requisites), once with ARCHIVER_REQUISITES=none and once with all: pages/s and
CPU per page (the requisites' CPU counted against the pages that need them).

Then bare Scrapy, the capture path and wget run again over the same URLs with every
response held back --latency-ms (20 by default; 0 skips this set), as a distant server's
round trip would: on loopback nothing waits on the network, so a crawler with one
connection (wget) loses nothing to latency there, which no real site allows.  Both sets of
ratios are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench._common import (
    DATA,
    RunResult,
    best,
    child_env,
    cores,
    figure,
    ratio_line,
    run_measured,
    seaweed,
    workdir,
)
from bench.loopsite import LoopSite

CONCURRENCY = 16
# Politeness lifted for the loopback site, the same for every Scrapy run.
FAST = {
    "DOWNLOAD_DELAY": "0",
    "AUTOTHROTTLE_ENABLED": "false",
    "CONCURRENT_REQUESTS": str(CONCURRENCY),
    "CONCURRENT_REQUESTS_PER_DOMAIN": str(CONCURRENCY),
    "ROBOTSTXT_OBEY": "false",
    "LOG_LEVEL": "INFO",
}
HTML_TYPE = "text/html; charset=utf-8"


# --- bare Scrapy (runs in a child: python -m bench.crawl_throughput --bare-worker URL OUT) ----


def bare_worker(url: str, out: Path) -> int:
    """Crawl with a plain spider and Scrapy's defaults, then write its stats to `out`."""
    from urllib.parse import urlsplit

    import scrapy
    from scrapy.crawler import CrawlerProcess

    host = urlsplit(url).hostname or ""

    class BareSpider(scrapy.Spider):
        name = "bare"

        async def start(self) -> Any:
            # Without dont_filter (Scrapy's default for start URLs): "/" is linked from
            # every section page and must not be fetched twice.
            for start_url in self.start_urls:
                yield scrapy.Request(start_url, callback=self.parse)

        def parse(self, response: Any, **kwargs: Any) -> Any:
            # Links to other hosts are dropped before a Request is made, as the news spider
            # does: building a Request for each of an article's hundreds of off-site links
            # (for the offsite middleware to drop) would make this baseline the slow one.
            for href in response.xpath("//a/@href").getall():
                link = response.urljoin(href)
                if urlsplit(link).hostname == host:
                    yield scrapy.Request(link, callback=self.parse)

    settings: dict[str, Any] = {k: v for k, v in FAST.items()}
    settings.update({"TELNETCONSOLE_ENABLED": False, "COOKIES_ENABLED": False})
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(BareSpider)
    process.crawl(crawler, start_urls=[url], allowed_domains=[host])
    process.start()
    stats = {k: v for k, v in (crawler.stats.get_stats() if crawler.stats else {}).items()}
    out.write_text(json.dumps(stats, default=str), encoding="utf-8")
    return 0


# --- one run of each kind ----------------------------------------------------------------


class Bench:
    """The site, the S3 server and a scratch directory shared by all runs of one invocation."""

    def __init__(
        self, site: LoopSite, server: Any, work: Path, profile: Path | None, name: str = ""
    ) -> None:
        self.site = site
        self.server = server
        self.work = work
        self.profile = profile
        # Tells apart the run directories of a second Bench in the same scratch directory.
        self.name = name
        self.expected = len(site.urls())
        self.url_file = work / f"urls{name}.txt"
        self.url_file.write_text("\n".join(site.urls()) + "\n", encoding="utf-8")
        self._n = 0

    def _name(self, kind: str) -> Path:
        self._n += 1
        path = self.work / f"{self._n:02d}{self.name}-{kind}"
        path.mkdir()
        return path

    def _wrap(self, command: list[str], name: str) -> list[str]:
        if self.profile is None:
            return command
        py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        self.profile.mkdir(parents=True, exist_ok=True)
        out = self.profile / f"{name}.txt"
        # --subprocesses: the cleaning workers are processes of their own.
        return [py_spy, "record", "--subprocesses", "--nonblocking", "--format", "raw",
                "--rate", "200", "-o", str(out), "--", *command]  # fmt: skip

    def bare(self) -> tuple[RunResult, int]:
        """Bare Scrapy; returns the run and the pages it fetched."""
        run_dir = self._name("bare")
        stats_path = run_dir / "stats.json"
        command = [sys.executable, "-m", "bench.crawl_throughput", "--bare-worker",
                   f"{self.site.url}/", str(stats_path)]  # fmt: skip
        result = run_measured(self._wrap(command, "bare"), log=run_dir / "log.txt")
        check(result, "bare Scrapy")
        stats = json.loads(stats_path.read_text(encoding="utf-8"))
        return result, int(stats.get("response_received_count", 0))

    def ours(
        self, clean: bool, jobdir: bool = False, extra: dict[str, str] | None = None
    ) -> tuple[RunResult, int, dict[str, Any]]:
        """`scrapy crawl news`, capture path or full pipeline; the run, pages, manifest stats.

        With `jobdir`, Scrapy keeps the frontier on disk (JOBDIR) instead of in memory;
        `extra` settings are passed last, with -s.
        """
        kind = "full" if clean else "capture"
        run_dir = self._name(kind)
        bucket = f"bench-{kind}-" + secrets.token_hex(4)
        self.server.create_bucket(bucket)
        settings = dict(FAST)
        settings.update(
            {
                "ARCHIVER_WARC_DIR": str(run_dir / "spool"),
                "ARCHIVER_S3_BUCKET": bucket,
                "ARCHIVER_S3_ENDPOINT_URL": self.server.endpoint_url,
                "ARCHIVER_CLEAN_ENABLED": "true" if clean else "false",
                "ARCHIVER_CLEAN_WORKERS": "0",
                # The dataset pages name their original sites' stylesheets and images (through
                # their <base>): no crawl here fetches those; req-all turns requisites on.
                "ARCHIVER_REQUISITES": "none",
            }
        )
        if jobdir:
            settings["JOBDIR"] = str(run_dir / "job")
        settings.update(extra or {})
        if allowed_networks_setting():
            # The private-address guard would refuse 127.0.0.1 otherwise.
            settings["ARCHIVER_ALLOWED_NETWORKS"] = "127.0.0.0/8"
        command = [sys.executable, "-m", "scrapy", "crawl", "news", "-a", f"urls={self.site.url}/"]
        for name, value in settings.items():
            command += ["-s", f"{name}={value}"]
        result = run_measured(
            self._wrap(command, kind), log=run_dir / "log.txt", env=child_env(self.server)
        )
        check(result, kind)
        manifest = read_manifest(self.server, bucket)
        stats = manifest.get("stats", {})
        if not manifest.get("files") or manifest.get("uploads_waiting"):
            raise SystemExit(f"{kind}: WARCs were not all uploaded:\n{json.dumps(manifest)[:2000]}")
        delete_bucket(self.server, bucket)
        return result, int(stats.get("archiver/warc/responses", 0)), stats

    def wget(self) -> tuple[RunResult, int]:
        """wget --warc-file over the URL list; the run and the responses in its WARC."""
        run_dir = self._name("wget")
        warc = run_dir / "wget"
        wget = shutil.which("wget") or "/usr/bin/wget"
        command = [wget, "-q", "--warc-file", str(warc), "-i", str(self.url_file),
                   "-O", os.devnull]  # fmt: skip
        result = run_measured(command, log=run_dir / "log.txt", cwd=run_dir)
        check(result, "wget")
        return result, count_responses(warc.with_suffix(".warc.gz"))


def allowed_networks_setting() -> bool:
    """Whether the project has the private-address guard's setting (added by another issue)."""
    import archiver.settings

    return hasattr(archiver.settings, "ARCHIVER_ALLOWED_NETWORKS")


def check(result: RunResult, what: str) -> None:
    """Stop the benchmark with the child's log tail when a run failed."""
    if result.returncode != 0:
        raise SystemExit(f"{what} exited with {result.returncode}:\n{result.tail()}")


def read_manifest(server: Any, bucket: str) -> dict[str, Any]:
    """The crawl manifest uploaded to the bucket (it goes up last, after every file)."""
    client = server.client()
    keys = [
        obj["Key"]
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for obj in page.get("Contents", [])
    ]
    manifest_key = next((k for k in keys if k.endswith("/manifest.json")), None)
    if manifest_key is None:
        raise SystemExit(f"no manifest.json in bucket {bucket}: {keys[:20]}")
    data: dict[str, Any] = json.loads(
        client.get_object(Bucket=bucket, Key=manifest_key)["Body"].read()
    )
    return data


def delete_bucket(server: Any, bucket: str) -> None:
    """Delete a run's objects, so the server's disk use stays flat over many runs."""
    client = server.client()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            client.delete_object(Bucket=bucket, Key=obj["Key"])


def count_responses(path: Path) -> int:
    """Response records in a WARC file."""
    from warcio.archiveiterator import ArchiveIterator

    with open(path, "rb") as fh:
        return sum(1 for record in ArchiveIterator(fh) if record.rec_type == "response")


def cleaning_rate(site: LoopSite, limit: int | None, repeat: int) -> float:
    """Articles/s of the cleaner in one process, on the pages the site serves, as the pipeline calls it.

    One pass over each distinct dataset page (or the first `limit`), as article 0, 1, ...
    """
    from archiver.cleaning import clean_html

    count = min(limit or len(site.dataset), len(site.dataset), site.pages)
    pages = [
        (site.article_body(i), f"http://127.0.0.1{site.article_path(i)}") for i in range(count)
    ]
    clean_html(pages[0][0], pages[0][1], content_type=HTML_TYPE)  # rules load once per process
    best_seconds = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for body, url in pages:
            clean_html(body, url, content_type=HTML_TYPE).to_dict()
        best_seconds = min(best_seconds, time.perf_counter() - start)
    return len(pages) / best_seconds


# --- profiles -------------------------------------------------------------------------------


def summarize_profile(path: Path, top: int = 15) -> str:
    """Top functions of a py-spy raw (collapsed stacks) profile, by own and by total samples."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if f]
        # py-spy puts the process and thread first; functions look like "name (file:line)".
        frames = [f.split(" (")[0] + " (" + f.split(" (")[1].split(":")[0] + ")"
                  if " (" in f else f for f in frames]  # fmt: skip
        samples += count
        if frames:
            own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count
    lines = [f"{path.name}: {samples} samples", "  own time:"]
    lines += [f"    {n / samples:6.1%}  {name}" for name, n in own.most_common(top)]
    lines.append("  including callees:")
    lines += [f"    {n / samples:6.1%}  {name}" for name, n in total.most_common(top * 2)
              if "process " not in name and "thread " not in name][:top]  # fmt: skip
    return "\n".join(lines)


# --- main -----------------------------------------------------------------------------------


def _at(latency: float) -> str:
    """ ", 20 ms latency" for a run with latency, "" for one without."""
    return f", {latency * 1000:g} ms latency" if latency else ""


def rate(pages: int, result: RunResult) -> float:
    """Pages per wall-clock second, process start to exit."""
    return pages / result.seconds


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=5000, help="article pages (default 5000)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds; the best of each is kept")
    parser.add_argument("--quick", action="store_true", help="100 pages: a smoke run")
    parser.add_argument("--data", type=Path, default=DATA, help="the article-extraction-benchmark")
    parser.add_argument(
        "--only", help="comma-separated subset of bare,capture,full,wget,req-none,req-all"
    )
    parser.add_argument(
        "--requisites", action="store_true", help="add req-none and req-all (see the module doc)"
    )
    parser.add_argument("--profile", type=Path, help="record py-spy profiles of our runs here")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=20.0,
        help="per-response latency of the second set of runs (default 20; 0: no second set)",
    )
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="a setting for our crawls"
    )
    parser.add_argument("--bare-worker", nargs=2, metavar=("URL", "OUT"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


Figures = dict[tuple[str, float], list[float]]


def run_rounds(
    benches: dict[str, Bench],
    site: LoopSite,
    kinds: list[str],
    args: argparse.Namespace,
    settings: dict[str, str],
) -> tuple[Figures, Figures, dict[str, str]]:
    """Every round of every kind (and the latency set): pages/s and CPU s/page per run."""
    bench = benches["plain"]
    latency = max(args.latency_ms, 0.0) / 1000
    # The latency set: the runs the issue compares, not the full pipeline (it adds
    # cleaning CPU, which latency does not change) nor profiles.
    slow_kinds = (
        [k for k in kinds if k != "full" and not k.startswith("req-")]
        if latency and not args.profile
        else []
    )
    plan = [(k, 0.0) for k in kinds] + [(k, latency) for k in slow_kinds]
    runs: Figures = {key: [] for key in plan}
    # CPU seconds per page of each run: steadier than pages/s on a shared machine,
    # where the load can change between one run and the next.
    cpu: Figures = {key: [] for key in plan}
    extra: dict[str, str] = {}
    for _ in range(args.repeat):
        for kind, delay in plan:
            site.latency = delay
            if kind == "bare":
                result, got = bench.bare()
            elif kind.startswith("req-"):
                req_bench = benches["req"]
                mode = kind.removeprefix("req-")
                result, responses, stats = req_bench.ours(
                    clean=False, extra={**settings, "ARCHIVER_REQUISITES": mode}
                )
                fetched = int(stats.get("archiver/requisites/fetched", 0))
                got = req_bench.expected if responses >= req_bench.expected else responses
                extra[kind] = (f"{fetched} requisites fetched, "
                               f"{int(stats.get('archiver/requisites/bytes', 0)) / 2**20:.0f} MiB")  # fmt: skip
            elif kind in ("capture", "full"):
                result, got, stats = bench.ours(clean=kind == "full", extra=settings)
                if kind == "full":
                    extra["full"] = (f"articles cleaned {stats.get('archiver/clean/articles', 0)}, "
                                     f"not articles {stats.get('archiver/clean/not_article', 0)}")  # fmt: skip
            else:
                result, got = bench.wget()
            expected = benches["req" if kind.startswith("req-") else "plain"].expected
            if got != expected:
                print(f"warning: {kind} fetched {got} pages, the site has {expected}")
            runs[(kind, delay)].append(rate(got, result))
            cpu[(kind, delay)].append(result.cpu / max(got, 1))
            print(figure(f"  {kind} run{_at(delay)}", rate(got, result), "pages/s",
                         f"{got} pages in {result.seconds:.1f} s, "
                         f"CPU {result.cpu / max(got, 1) * 1000:.1f} ms/page, peak RSS "
                         f"{result.maxrss / 2**20:.0f} MiB (tree {result.tree_rss / 2**20:.0f} MiB)"),
                  flush=True)  # fmt: skip
    site.latency = 0.0
    return runs, cpu, extra


def report(runs: Figures, cpu: Figures, extra: dict[str, str], clean: float, n_cores: int) -> None:
    """Print each kind's best rate, CPU per page and the ratios against the baselines."""
    figures = {key: best(v) for key, v in runs.items() if v}
    names = {"bare": "bare Scrapy", "capture": "capture path (WARC + S3, no cleaning)",
             "full": "full pipeline (cleaning on every core)", "wget": "wget --warc-file",
             "req-none": "capture path, site with requisites, ARCHIVER_REQUISITES=none",
             "req-all": "capture path, site with requisites, ARCHIVER_REQUISITES=all"}  # fmt: skip
    for (kind, delay), value in figures.items():
        print(figure(names[kind] + _at(delay), value, "pages/s", extra.get(kind, "")))
    print(figure("cleaning, one process", clean, "articles/s"))
    # The least CPU per page of each kind's rounds, compared the other way round: a ratio
    # above 1 means fewer ms per page than the baseline.
    cpu_ms = {key: min(v) * 1000 for key, v in cpu.items() if v}
    if ("capture", 0.0) in cpu_ms and ("bare", 0.0) in cpu_ms:
        print(figure("CPU per page, bare Scrapy", cpu_ms[("bare", 0.0)], "ms"))
        print(figure("CPU per page, capture path", cpu_ms[("capture", 0.0)], "ms"))
        print(ratio_line("CPU per page, bare / capture", cpu_ms[("bare", 0.0)],
                         cpu_ms[("capture", 0.0)]))  # fmt: skip
    if ("req-none", 0.0) in cpu_ms and ("req-all", 0.0) in cpu_ms:
        print(figure("CPU per page, requisites none", cpu_ms[("req-none", 0.0)], "ms"))
        print(figure("CPU per page, requisites all", cpu_ms[("req-all", 0.0)], "ms"))
        print(ratio_line("CPU per page, all / none", cpu_ms[("req-all", 0.0)],
                         cpu_ms[("req-none", 0.0)]))  # fmt: skip
    if ("req-none", 0.0) in cpu_ms and ("capture", 0.0) in cpu_ms:
        print(ratio_line("CPU per page, requisites none / capture", cpu_ms[("req-none", 0.0)],
                         cpu_ms[("capture", 0.0)]))  # fmt: skip
    for delay in sorted({delay for _, delay in figures}):
        at = _at(delay)
        capture, bare, wget = (figures.get((k, delay)) for k in ("capture", "bare", "wget"))
        if capture and bare:
            print(ratio_line(f"capture / bare Scrapy{at}", capture, bare, ">= 0.7"))
        if capture and wget:
            print(ratio_line(f"capture / wget{at}", capture, wget, ">= 1.5"))
    full, capture = figures.get(("full", 0.0)), figures.get(("capture", 0.0))
    if full:
        print(ratio_line(f"full / ({n_cores} cores x cleaning rate)", full, n_cores * clean,
                         ">= 0.8"))  # fmt: skip
    if full and capture:
        print(ratio_line("full / capture", full, capture))
        # If cleaning's CPU were all that the full pipeline adds to the capture path, a page
        # would take 1/capture + 1/(cores x cleaning rate) seconds of the machine.
        expected = 1 / (1 / capture + 1 / (n_cores * clean))
        print(figure("full pipeline if cleaning CPU were its only cost", expected, "pages/s"))
        print(ratio_line("full / that expectation", full, expected, ">= 0.8"))


def main(argv: list[str] | None = None) -> int:
    """Run every configuration against the same site and print pages/s and the ratios."""
    args = parse_args(argv)
    if args.bare_worker:
        return bare_worker(args.bare_worker[0], Path(args.bare_worker[1]))
    pages = 100 if args.quick else args.pages
    extra_settings = dict(item.split("=", 1) for item in args.set)
    kinds = (args.only or "bare,capture,full,wget").split(",")
    if args.requisites:
        kinds += [k for k in ("req-none", "req-all") if k not in kinds]
    if args.profile is not None:
        kinds = [k for k in kinds if k in ("capture", "full")]
    n_cores = cores()
    with workdir(keep=args.keep, prefix="crawl-") as work, seaweed(work / "s3") as server:
        site = LoopSite(pages, args.data)
        site.start()
        req_site = None
        try:
            bench = Bench(site, server, work, args.profile)
            benches = {"plain": bench}
            if any(k.startswith("req-") for k in kinds):
                req_site = LoopSite(pages, args.data, requisites=True)
                req_site.start()
                benches["req"] = Bench(req_site, server, work, args.profile, "-req")
            print(f"site                 {pages} articles + {site.sections} sections + home = "
                  f"{bench.expected} pages, {site.article_bytes / pages / 1024:.1f} KB per article")  # fmt: skip
            print(f"cores                {n_cores}")
            runs, cpu, extra = run_rounds(benches, site, kinds, args, extra_settings)
        finally:
            site.stop()
            if req_site is not None:
                req_site.stop()
        if args.profile is not None:
            for path in sorted(args.profile.glob("*.txt")):
                print(summarize_profile(path))
            return 0
        clean = cleaning_rate(site, 10 if args.quick else None, 1 if args.quick else 2)
    report(runs, cpu, extra, clean, n_cores)
    return 0


if __name__ == "__main__":
    sys.exit(main())
