"""Upload: our verified Uploader against plain boto3 upload_file, same files, same server.

    .venv/bin/python bench/upload.py                  # a 10 MB and a 1 GB file
    .venv/bin/python bench/upload.py --quick          # 10 MB and 70 MB, a smoke run
    .venv/bin/python bench/upload.py --repeat 3       # best of three uploads each

Each upload runs in a fresh process against a SeaweedFS started here on 127.0.0.1, so its
peak RSS (VmHWM, read from /proc) belongs to that upload alone.  The time is measured inside
the process around the upload call itself (client already built), and MB/s is the file size
over that time:

- ours: `archiver.storage.Uploader.upload_file` with the default ARCHIVER_S3_* settings
  (64 MiB parts, 2 threads): local SHA-256 (whole and per part), a HEAD for an identical
  object, the upload with a SHA-256 checksum the server checks, and a verifying HEAD;
- boto3: `client.upload_file` with the same client and TransferConfig, nothing else;
- boto3 defaults (large file only): `upload_file` with boto3's own TransferConfig
  (8 MiB parts, 10 threads), to show what the project's part size and threads cost.

Files are random bytes, written once per run; uploads of ours and boto3 alternate.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import MB, child_env, figure, ratio_line, run_measured, seaweed, workdir

from archiver.s3server import REGION
from archiver.storage import S3Config, Uploader, make_client

KINDS = ("boto3", "ours")


def worker(kind: str, path: Path, bucket: str, key: str, out: Path) -> int:
    """Upload one file the `kind` way and write the seconds the upload call took to `out`."""
    cfg = S3Config(bucket=bucket, endpoint_url=os.environ["AWS_ENDPOINT_URL"], region=REGION)
    if kind == "ours":
        uploader = Uploader(cfg)
        start = time.perf_counter()
        result = uploader.upload_file(path, key)
        seconds = time.perf_counter() - start
        if not result.verified or result.already_present:
            raise SystemExit(f"upload not verified or skipped: {result}")
    elif kind == "boto3":
        client = make_client(cfg)
        config = Uploader(cfg, client).transfer_config
        start = time.perf_counter()
        client.upload_file(str(path), bucket, key, Config=config)
        seconds = time.perf_counter() - start
    elif kind == "boto3-defaults":
        client = make_client(cfg)
        start = time.perf_counter()
        client.upload_file(str(path), bucket, key)
        seconds = time.perf_counter() - start
    else:
        raise SystemExit(f"unknown kind {kind}")
    out.write_text(json.dumps({"seconds": seconds}), encoding="utf-8")
    return 0


def make_file(path: Path, size: int) -> Path:
    """A file of `size` random bytes, written in 16 MiB blocks."""
    with open(path, "wb") as fh:
        left = size
        while left:
            block = min(left, 16 * MB)
            fh.write(os.urandom(block))
            left -= block
    return path


def upload(
    kind: str, path: Path, server: Any, bucket: str, work: Path
) -> tuple[float, int]:  # fmt: skip
    """One upload in a fresh process: (MB/s, peak RSS in bytes)."""
    key = f"bench/{kind}/{secrets.token_hex(6)}/{path.name}"
    out = work / f"{kind}-{secrets.token_hex(4)}.json"
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, str(path),
               bucket, key, str(out)]  # fmt: skip
    result = run_measured(command, log=out.with_suffix(".log"), env=child_env(server))
    if result.returncode != 0:
        raise SystemExit(f"{kind} upload of {path.name} failed:\n{result.tail()}")
    seconds = float(json.loads(out.read_text(encoding="utf-8"))["seconds"])
    server.client().delete_object(Bucket=bucket, Key=key)
    return path.stat().st_size / MB / seconds, result.maxrss


def main(argv: list[str] | None = None) -> int:
    """Upload each file each way and print MB/s, peak RSS and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", type=int, default=10, help="small file, MB (default 10)")
    parser.add_argument("--large", type=int, default=1024, help="large file, MB (default 1024)")
    parser.add_argument("--repeat", type=int, default=2, help="uploads each; the best is kept")
    parser.add_argument("--quick", action="store_true", help="10 MB and 70 MB once: a smoke run")
    parser.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        kind, path, bucket, key, out = args.worker
        return worker(kind, Path(path), bucket, key, Path(out))
    small, large, repeat = (10, 70, 1) if args.quick else (args.small, args.large, args.repeat)
    with workdir(prefix="upload-") as work, seaweed(work / "s3") as server:
        bucket = "bench-upload"
        server.create_bucket(bucket)
        files = {
            "small": make_file(work / f"small-{small}MB.bin", small * MB),
            "large": make_file(work / f"large-{large}MB.bin", large * MB),
        }
        # The first upload to a new bucket also makes its volumes: keep that out of the figures.
        upload("boto3", files["small"], server, bucket, work)
        rates: dict[tuple[str, str], float] = {}
        rss: dict[tuple[str, str], int] = {}
        for size_name, path in files.items():
            for _ in range(repeat):
                for kind in KINDS:
                    rate, peak = upload(kind, path, server, bucket, work)
                    rates[kind, size_name] = max(rates.get((kind, size_name), 0.0), rate)
                    rss[kind, size_name] = max(rss.get((kind, size_name), 0), peak)
        defaults_rate, defaults_rss = upload("boto3-defaults", files["large"], server, bucket, work)
    labels = {"small": f"{small} MB", "large": f"{large} MB"}
    for size_name in ("small", "large"):
        for kind in KINDS:
            print(figure(f"{kind}, {labels[size_name]} file", rates[kind, size_name], "MB/s",
                         f"peak RSS {rss[kind, size_name] / MB:.0f} MiB"))  # fmt: skip
    print(figure(f"boto3 defaults, {labels['large']} file", defaults_rate, "MB/s",
                 f"peak RSS {defaults_rss / MB:.0f} MiB (8 MiB parts, 10 threads)"))  # fmt: skip
    for size_name in ("small", "large"):
        print(ratio_line(f"ours / boto3, {labels[size_name]}", rates["ours", size_name],
                         rates["boto3", size_name], ">= 0.9"))  # fmt: skip
    print(ratio_line(f"peak RSS ours {labels['large']} / {labels['small']}", rss["ours", "large"],
                     rss["ours", "small"], "< 1.2"))  # fmt: skip
    print(ratio_line(f"peak RSS boto3 {labels['large']} / {labels['small']}",
                     rss["boto3", "large"], rss["boto3", "small"]))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
