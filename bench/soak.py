"""Soak: crawl a generated loopback site with uploads while the S3 server restarts twice.

    .venv/bin/python -m bench.soak                 # 50,000 pages
    .venv/bin/python -m bench.soak --pages 5000    # a quicker run

Everything runs on 127.0.0.1: archiver.devserver.samplesite.generated serves the pages, an embedded
SeaweedFS stores the WARCs.  The crawl (`scrapy crawl news`, cleaning off: this measures
capture and upload) rotates WARCs every few MB; at a third and at two thirds of the pages
the S3 server is stopped for a few seconds and started again, so uploads fail, retry and
wait in the spool.  Afterwards `archiver upload` sends what waits, and every stored WARC
is read back.  It prints the pages generated, captured once, lost and duplicated, and the
crawl's resident memory over time (memory flat: the last sample against the first one
after warm-up, as a ratio).  Exit status 1 if a page is lost or duplicated.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator

from archiver.devserver.s3server import SeaweedServer
from archiver.devserver.samplesite.generated import GeneratedSite, page_index

ROOT = Path(__file__).resolve().parent.parent

BUCKET = "soak"


def _rss_mib(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def crawl_settings(spool: Path, server: SeaweedServer) -> list[str]:
    """The crawl's -s settings: uploads to the local server, politeness lifted, no cleaning."""
    return [
        f"ARCHIVER_WARC_DIR={spool}",
        f"ARCHIVER_S3_BUCKET={BUCKET}",
        f"ARCHIVER_S3_ENDPOINT_URL={server.endpoint_url}",
        "ARCHIVER_ALLOWED_NETWORKS=127.0.0.0/8",
        "ARCHIVER_CLEAN_ENABLED=false",
        "ARCHIVER_WARC_MAX_SIZE=5000000",
        "ARCHIVER_S3_MAX_ATTEMPTS=3",
        "ARCHIVER_S3_CONNECT_TIMEOUT=2",
        "ARCHIVER_S3_READ_TIMEOUT=10",
        "DOWNLOAD_DELAY=0",
        "AUTOTHROTTLE_ENABLED=false",
        "CONCURRENT_REQUESTS=32",
        "CONCURRENT_REQUESTS_PER_DOMAIN=32",
        "LOG_LEVEL=INFO",
    ]


def crawl_with_restarts(
    site: GeneratedSite,
    server: SeaweedServer,
    command: list[str],
    env: dict[str, str],
    log_path: Path,
    downtime: float,
) -> tuple[float, list[str], list[tuple[float, float]]]:
    """Crawl while S3 is restarted at a third and two thirds; (seconds, restarts, RSS samples)."""
    restarts: list[str] = []
    memory: list[tuple[float, float]] = []
    pages = site.pages
    with open(log_path, "w", encoding="utf-8") as log:
        started = time.monotonic()
        crawl = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        marks = [pages // 3, 2 * pages // 3]

        def restart() -> None:
            server.stop()
            time.sleep(downtime)
            server.start()

        restarter: threading.Thread | None = None
        while crawl.poll() is None:
            done = sum(site.served_pages().values())
            rss = _rss_mib(crawl.pid)
            if rss is not None:
                memory.append((done, rss))
            if marks and done >= marks[0] and (restarter is None or not restarter.is_alive()):
                marks.pop(0)
                restarts.append(f"at {done} pages")
                restarter = threading.Thread(target=restart)
                restarter.start()
            time.sleep(1.0)
        if restarter is not None:
            restarter.join()
    return time.monotonic() - started, restarts, memory


def captured_pages(client: Any) -> Counter[int]:
    """How many response records each generated page has in the stored WARCs."""
    keys = [
        o["Key"]
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
        for o in page.get("Contents", [])
    ]
    captured: Counter[int] = Counter()
    for key in keys:
        if not key.endswith(".warc.gz"):
            continue
        body = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        for record in ArchiveIterator(io.BytesIO(body)):
            if record.rec_type == "response":
                path = "/" + record.rec_headers.get_header("WARC-Target-URI").split("/", 3)[3]
                index = page_index(path)
                if index is not None:
                    captured[index] += 1
    return captured


def main(argv: list[str] | None = None) -> int:
    """Run the soak; returns 0 when nothing was lost or duplicated."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=50_000)
    parser.add_argument("--downtime", type=float, default=5.0, help="seconds each restart is down")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="soak-"))
    server = SeaweedServer(
        work / "s3", access_key="soak" + secrets.token_hex(4), secret_key=secrets.token_urlsafe(24)
    )
    server.start()
    server.create_bucket(BUCKET)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")}, **server.env()}
    settings = crawl_settings(work / "spool", server)
    try:
        with GeneratedSite(args.pages, fanout=10) as site:
            command = [sys.executable, "-m", "scrapy", "crawl", "news", "-a", f"urls={site.url}/"]
            for setting in settings:
                command += ["-s", setting]
            elapsed, restarts, memory = crawl_with_restarts(
                site, server, command, env, work / "crawl.log", args.downtime
            )
            served = site.served_pages()
        upload_command = [sys.executable, "-m", "archiver"]
        for setting in settings[:3]:
            upload_command += ["-s", setting]
        upload = subprocess.run(
            [*upload_command, "upload", "--json"], cwd=ROOT, env=env, capture_output=True, text=True
        )
        report = json.loads(upload.stdout or "{}")
        captured = captured_pages(server.client())
    finally:
        server.stop()

    lost = [i for i in range(args.pages) if captured[i] == 0]
    duplicated = [i for i, n in captured.items() if n > 1]
    fetched_twice = [p for p, n in served.items() if n > 1]
    warm = [m for d, m in memory if d >= args.pages * 0.2] or [m for _, m in memory]
    print(f"pages generated:        {args.pages}")
    print(f"pages captured once:    {sum(1 for n in captured.values() if n == 1)}")
    print(f"pages lost:             {len(lost)}")
    print(f"pages duplicated:       {len(duplicated)}")
    print(f"pages fetched twice:    {len(fetched_twice)}")
    print(f"S3 restarts:            {len(restarts)} ({', '.join(restarts)})")
    print(f"crawl time:             {elapsed:.0f} s ({args.pages / elapsed:.0f} pages/s)")
    print(f"upload after the crawl: exit {upload.returncode}, {report.get('files_uploaded')} files")
    if warm:
        print(
            f"crawl RSS:              {warm[0]:.0f} MiB after warm-up, peak {max(m for _, m in memory):.0f} MiB, "
            f"last {warm[-1]:.0f} MiB (ratio last/warm-up {warm[-1] / warm[0]:.2f})"
        )
    shutil.rmtree(work, ignore_errors=True)
    return 1 if lost or duplicated or upload.returncode != 0 else 0


if __name__ == "__main__":
    sys.exit(main())
