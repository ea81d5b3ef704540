"""What page requisites cost on the sample site: requests, bytes and the revisit share.

    .venv/bin/python -m bench.requisites              # none, styles, images, all; then a recrawl
    .venv/bin/python -m bench.requisites --modes all  # one mode
    .venv/bin/python -m bench.requisites --quick      # none and all only: a smoke run

Each ARCHIVER_REQUISITES mode crawls the bundled sample site and its CDN host (bench runs the
site itself, on 127.0.0.1 and 127.0.0.2) into a fresh local spool, without storage, with
requisites of article pages only (the default). Requests and bytes are counted where they are
exact: at the server (SampleSite.sent), split into pages and requisites; the WARC bytes are the
spool's .warc.gz files. With `all`, the site is crawled a second time into the same spool, every
page again in full, and the share of requisites stored as revisit records is the crawl's own
figure (stats.json: requisites.revisit_share).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archiver.devserver.samplesite import SampleSite, site_manifest
from bench._common import KB, REPO, figure, ratio_line

MODES = ("none", "styles", "images", "all")
SITE = "sample"


@dataclass
class Run:
    """One crawl: what the servers sent and what the crawl wrote."""

    mode: str
    page_requests: int
    page_bytes: int
    requisite_requests: int
    requisite_bytes: int
    warc_bytes: int
    seconds: float
    stats: dict[str, Any]


def crawl(
    site: SampleSite, spool: Path, sites: Path, log: Path, mode: str
) -> tuple[float, dict[str, Any]]:
    """One `scrapy crawl news -a site=sample`; its wall time and its stats.json."""
    command = [sys.executable, "-m", "scrapy", "crawl", "news", "-a", f"site={SITE}"]
    for setting in (
        f"ARCHIVER_SITES_FILE={sites}",
        f"ARCHIVER_WARC_DIR={spool}",
        "ARCHIVER_S3_BUCKET=",
        "ARCHIVER_INDEX_ENABLED=false",
        "ARCHIVER_CLEAN_ENABLED=false",
        "DOWNLOAD_DELAY=0",
        "AUTOTHROTTLE_START_DELAY=0.01",
        "ARCHIVER_ALLOWED_NETWORKS=127.0.0.0/8",
        f"ARCHIVER_HOSTS={json.dumps(site.hosts)}",
        f"ARCHIVER_REQUISITES={mode}",
    ):
        command += ["-s", setting]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")}
    started = time.monotonic()
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.run(
            command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=900
        )
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(f"the {mode} crawl failed:\n{log.read_text(encoding='utf-8')[-3000:]}")
    runs = (spool / "_sites" / SITE / "runs.jsonl").read_text(encoding="utf-8").splitlines()
    crawl_dir = spool / json.loads(runs[-1])["crawl_id"]
    stats: dict[str, Any] = json.loads((crawl_dir / "stats.json").read_text(encoding="utf-8"))
    stats["_warc_bytes"] = sum(f.stat().st_size for f in crawl_dir.glob("*.warc.gz"))
    return seconds, stats


def measure(site: SampleSite, spool: Path, sites: Path, log: Path, mode: str) -> Run:
    """Crawl once in `mode`; count what the servers sent during that crawl."""
    requisite_paths = {(p.host, p.path) for p in site_manifest(site.url) if p.kind == "requisite"}
    before = len(site.sent)
    seconds, stats = crawl(site, spool, sites, log, mode)
    sent = site.sent[before:]
    requisites = [s for s in sent if (s.host, s.path.split("?", 1)[0]) in requisite_paths]
    pages = [s for s in sent if s not in requisites and s.host == "site"]
    return Run(
        mode,
        len(pages),
        sum(len(s.body) for s in pages),
        len(requisites),
        sum(len(s.body) for s in requisites),
        int(stats.pop("_warc_bytes")),
        seconds,
        stats,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--modes", default=",".join(MODES), help="comma-separated ARCHIVER_REQUISITES values"
    )
    parser.add_argument("--quick", action="store_true", help="none and all only")
    args = parser.parse_args(argv)
    modes = [m.strip() for m in ("none,all" if args.quick else args.modes).split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        parser.error(f"unknown mode {unknown[0]!r}: choose from {', '.join(MODES)}")
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="bench-requisites-") as tmp, SampleSite() as site:
        work = Path(tmp)
        sites = work / "sites.toml"
        # Every run looks at every page again, in full: a recrawl fetches the requisites again.
        sites.write_text(
            f'[sites.{SITE}]\nstart_urls = ["{site.url}/"]\n[sites.{SITE}.recrawl]\n'
            'every = "1s"\nconditional_get = false\n',
            encoding="utf-8",
        )
        print(f"site                 {site.url} and {site.cdn_url} (127.0.0.2)")
        for mode in modes:
            runs.append(measure(site, work / f"spool-{mode}", sites, work / f"{mode}.log", mode))
            run = runs[-1]
            print(
                f"  requisites={mode:<7} {run.requisite_requests:4d} requisite requests, "
                f"{run.requisite_bytes / KB:.0f} KB of requisites, {run.page_requests} page "
                f"requests ({run.page_bytes / KB:.0f} KB), WARCs {run.warc_bytes / KB:.0f} KB, "
                f"{run.seconds:.1f} s",
                flush=True,
            )
        second: Run | None = None
        if "all" in modes:
            time.sleep(1.1)  # past the recrawl interval of 1 s
            second = measure(site, work / "spool-all", sites, work / "all-again.log", "all")
    base = next((r for r in runs if r.mode == "none"), None)
    print()
    print(f"{'mode':<8} {'requisite requests':>18} {'requisite KB':>13} {'all requests':>13} "
          f"{'KB sent':>9} {'WARC KB':>9} {'WARC vs none':>13}")  # fmt: skip
    for run in runs:
        total_requests = run.page_requests + run.requisite_requests
        total_kb = (run.page_bytes + run.requisite_bytes) / KB
        versus = f"x{run.warc_bytes / base.warc_bytes:.2f}" if base else "-"
        print(f"{run.mode:<8} {run.requisite_requests:>18} {run.requisite_bytes / KB:>13.0f} "
              f"{total_requests:>13} {total_kb:>9.0f} {run.warc_bytes / KB:>9.0f} {versus:>13}")  # fmt: skip
    first_all = next((r for r in runs if r.mode == "all"), None)
    if base is not None and first_all is not None:
        print(
            ratio_line("WARC bytes, requisites all / none", first_all.warc_bytes, base.warc_bytes)
        )
        sent_all = first_all.page_bytes + first_all.requisite_bytes
        print(ratio_line("bytes sent, requisites all / none", sent_all, base.page_bytes))
        requests_all = first_all.page_requests + first_all.requisite_requests
        print(ratio_line("requests, requisites all / none", requests_all, base.page_requests))
    if second is not None and first_all is not None:
        print(ratio_line("WARC bytes, second crawl / first (all)", second.warc_bytes,
                         first_all.warc_bytes))  # fmt: skip
    if second is not None:
        stats = second.stats.get("requisites", {})
        print()
        print(figure("second crawl (all): requisites fetched", float(stats.get("fetched", 0)), ""))
        print(figure("second crawl (all): stored as revisits", float(stats.get("revisits", 0)), ""))
        share = stats.get("revisit_share", 0.0)
        print(figure("second crawl (all): revisit share", float(share) * 100, "%"))
        print(figure("second crawl (all): WARC bytes", second.warc_bytes / KB, "KB"))
        first = next(r for r in runs if r.mode == "all")
        referenced = first.stats.get("requisites", {}).get("requested", 0)
        print(figure("first crawl (all): requisite requests", float(referenced), "",
                     "(a logo, stylesheet or font named by many pages is fetched once a crawl)"))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
