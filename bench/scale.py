"""Scale-out benchmark: one crawl worker against two workers sharing a Redis frontier.

Both runs crawl the same generated loopback site (bench/loopsite.py) with the capture
path (WARC + upload to a local SeaweedFS, cleaning off) and politeness lifted; the two
workers share one frontier in a redis-server this script starts on 127.0.0.1.  Prints
pages/s of each and their ratio, and checks the two workers fetched every page once.

    .venv/bin/python -m bench.scale            # 2,000 pages
    .venv/bin/python -m bench.scale --quick    # 200 pages, a smoke run
"""

from __future__ import annotations

import argparse
import secrets
import sys
import threading
import time
from pathlib import Path

from archiver.devserver.localredis import LocalRedis
from bench._common import child_env, cores, figure, ratio_line, run_measured, seaweed, workdir
from bench.crawl_throughput import FAST, check, read_manifest
from bench.loopsite import LoopSite


def crawl_command(
    site_url: str, spool: Path, bucket: str, endpoint: str, extra: dict[str, str]
) -> list[str]:
    """`scrapy crawl news` with the capture path and politeness lifted for the loopback site."""
    settings = {
        **FAST,
        "ARCHIVER_WARC_DIR": str(spool),
        "ARCHIVER_S3_BUCKET": bucket,
        "ARCHIVER_S3_ENDPOINT_URL": endpoint,
        "ARCHIVER_CLEAN_ENABLED": "false",
        "ARCHIVER_ALLOWED_NETWORKS": "127.0.0.0/8",
        **extra,
    }
    command = [sys.executable, "-m", "scrapy", "crawl", "news", "-a", f"urls={site_url}/"]
    for name, value in settings.items():
        command += ["-s", f"{name}={value}"]
    return command


def main(argv: list[str] | None = None) -> int:
    """Run one worker, then two workers sharing Redis, and print the throughput ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--quick", action="store_true", help="200 pages: a smoke run")
    args = parser.parse_args(argv)
    pages = 200 if args.quick else args.pages

    with (
        workdir(prefix="scale-") as work,
        seaweed(work / "s3") as server,
        LocalRedis(work / "redis") as redis,
    ):
        site = LoopSite(pages)
        site.start()
        try:
            env = child_env(server)
            bucket = "scale-one-" + secrets.token_hex(3)
            server.create_bucket(bucket)
            one = run_measured(
                crawl_command(site.url, work / "one", bucket, server.endpoint_url, {}),
                log=work / "one.log",
                env=env,
            )
            check(one, "one worker")
            one_pages = int(
                read_manifest(server, bucket)["stats"].get("archiver/warc/responses", 0)
            )

            bucket2 = "scale-two-" + secrets.token_hex(3)
            server.create_bucket(bucket2)
            crawl_id = "scale-" + secrets.token_hex(4)
            extra = {
                "ARCHIVER_REDIS_URL": redis.url,
                "ARCHIVER_CRAWL_ID": crawl_id,
                "ARCHIVER_REDIS_IDLE_TIMEOUT": "2",
            }
            results = {}

            def worker(n: int) -> None:
                results[n] = run_measured(
                    crawl_command(site.url, work / f"two-{n}", bucket2, server.endpoint_url, extra),
                    log=work / f"two-{n}.log",
                    env=env,
                )

            started = time.perf_counter()
            threads = [threading.Thread(target=worker, args=(n,)) for n in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            two_seconds = time.perf_counter() - started
            for n, result in results.items():
                check(result, f"worker {n}")
            merged = read_manifest(server, bucket2)
            two_pages = int(merged["stats"].get("archiver/warc/responses", 0))
        finally:
            site.stop()

    one_rate = one_pages / one.seconds
    two_rate = two_pages / two_seconds
    print(f"site: {pages} article pages on 127.0.0.1, {cores()} cores; capture path, cleaning off")
    print(
        figure("one worker", one_rate, "pages/s", f"{one_pages} responses in {one.seconds:.1f} s")
    )
    print(
        figure(
            "two workers sharing Redis",
            two_rate,
            "pages/s",
            f"{two_pages} responses in {two_seconds:.1f} s",
        )
    )
    # Both workers start their processes and wait out the idle timeout at the end: fixed
    # costs that a small --quick site cannot amortise.
    print(ratio_line("two workers / one worker", two_rate, one_rate))
    return 0


if __name__ == "__main__":
    sys.exit(main())
