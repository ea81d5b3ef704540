"""Upload: our verified Uploader against plain boto3 upload_file, same files, same server.

    .venv/bin/python -m bench.upload                  # a 10 MB and a 1 GB file, 3 rounds
    .venv/bin/python -m bench.upload --quick          # 10 MB and 70 MB once: a smoke run
    .venv/bin/python -m bench.upload --repeat 5       # five rounds
    .venv/bin/python -m bench.upload --same-process 4 # 4 alternating 1 GB pairs, one process

Each upload runs in a fresh process against a SeaweedFS started here on 127.0.0.1, so its
peak RSS (VmHWM, read from /proc) belongs to that upload alone.  The time is measured inside
the process around the upload call itself (client already built), and MB/s is the file size
over that time:

- ours: `archiver.storage.uploader.Uploader.upload_file` with the default ARCHIVER_S3_* settings
  (64 MiB parts, 2 threads), called as the crawl calls it for a WARC it has just closed:
  with the SHA-256 of the whole file and of each 64 MiB part that the writer computed while
  writing (this benchmark computes them the same way, while writing the file) and no look
  for an existing object.  Every request carries those digests for the server to check (a
  file changed since it was written is refused), and the stored object is verified by the
  checksum in the server's answer;
- ours, upload pass: the same call as `archiver upload` makes for a file waiting in the spool:
  no digest given (the file is hashed before the upload), a HEAD for an identical object;
- boto3: `client.upload_file` with the same client and TransferConfig, nothing else (botocore
  adds its default CRC32 per request);
- boto3 defaults (large file only): `upload_file` with boto3's own TransferConfig
  (8 MiB parts, 10 threads), to show what the project's part size and threads cost.

With --same-process, the large file instead goes up N times each way, alternating, in
this process with one client (no start-up, no drift between rounds), and the CPU seconds of
this process and of the SeaweedFS process are shown; a third way is boto3 told to send
SHA-256 checksums (botocore hashing every part), to separate the server's SHA-256 check.

Files are random bytes, written once per run; each round uploads each file each way, in
turn.  The figures are the best round; the ranges are over all rounds, and each ratio's
range pairs the uploads of one round.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any

from archiver.devserver.s3server import REGION
from archiver.storage import LocalDigest, S3Config, Uploader, make_client
from bench._common import (
    MB,
    _cpu_seconds,
    _descendants,
    child_env,
    figure,
    ratio_line,
    run_measured,
    seaweed,
    workdir,
)

KINDS = ("boto3", "ours", "ours-pass")
LABELS = {"boto3": "boto3", "ours": "ours", "ours-pass": "ours, upload pass"}


def worker(kind: str, path: Path, bucket: str, key: str, out: Path, digest: Path) -> int:
    """Upload one file the `kind` way and write the seconds the upload call took to `out`."""
    cfg = S3Config(bucket=bucket, endpoint_url=os.environ["AWS_ENDPOINT_URL"], region=REGION)
    if kind in {"ours", "ours-pass"}:
        uploader = Uploader(cfg)
        written = load_digest(digest)
        fresh = kind == "ours"
        start = time.perf_counter()
        result = uploader.upload_file(
            path, key, written=written if fresh else None, check_existing=not fresh
        )
        seconds = time.perf_counter() - start
        if not result.verified or result.already_present or result.sha256 != written.sha256_hex:
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


def make_file(path: Path, size: int, part_size: int) -> tuple[Path, Path]:
    """A file of random bytes, and a JSON file of the digests the WARC writer would hand over.

    Hashed as written, as the writer does: the whole file, and each part_size slice.
    """
    assert part_size % (16 * MB) == 0
    whole = hashlib.sha256()
    parts: list[str] = []
    part = hashlib.sha256()
    with open(path, "wb") as fh:
        for done in range(0, size, 16 * MB):
            block = os.urandom(min(size - done, 16 * MB))
            fh.write(block)
            whole.update(block)
            part.update(block)
            if (done + len(block)) % part_size == 0 or done + len(block) == size:
                parts.append(part.hexdigest())
                part = hashlib.sha256()
    digest = path.with_suffix(".digest.json")
    document = {"size": size, "sha256": whole.hexdigest(), "part_size": part_size, "parts": parts}
    digest.write_text(json.dumps(document), encoding="utf-8")
    return path, digest


def load_digest(path: Path) -> LocalDigest:
    """The digests make_file wrote, as the crawl hands a closed WARC's to the uploader."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    parts = tuple(bytes.fromhex(p) for p in doc["parts"])
    return LocalDigest(doc["size"], bytes.fromhex(doc["sha256"]), doc["part_size"], parts)


def upload(
    kind: str, path: Path, digest: Path, server: Any, bucket: str, work: Path
) -> tuple[float, int, float]:
    """One upload in a fresh process: (MB/s, peak RSS in bytes, CPU seconds of the process)."""
    key = f"bench/{kind}/{secrets.token_hex(6)}/{path.name}"
    out = work / f"{kind}-{secrets.token_hex(4)}.json"
    command = [sys.executable, "-m", "bench.upload", "--worker", kind, str(path),
               bucket, key, str(out), str(digest)]  # fmt: skip
    result = run_measured(command, log=out.with_suffix(".log"), env=child_env(server))
    if result.returncode != 0:
        raise SystemExit(f"{kind} upload of {path.name} failed:\n{result.tail()}")
    seconds = float(json.loads(out.read_text(encoding="utf-8"))["seconds"])
    server.client().delete_object(Bucket=bucket, Key=key)
    return path.stat().st_size / MB / seconds, result.maxrss, result.cpu


def same_process(path: Path, digest: Path, server: Any, bucket: str, pairs: int) -> None:
    """Alternate the large file's uploads in this process; print totals, CPU and the ratio."""
    os.environ.update(child_env(server))
    cfg = S3Config(bucket=bucket, endpoint_url=os.environ["AWS_ENDPOINT_URL"], region=REGION)
    uploader = Uploader(cfg)
    client, config = uploader.client, uploader.transfer_config
    written = load_digest(digest)
    weed = [server.pid, *_descendants(server.pid)]
    ways: dict[str, Any] = {
        "boto3": lambda key: client.upload_file(str(path), bucket, key, Config=config),
        "boto3 SHA-256": lambda key: client.upload_file(
            str(path), bucket, key, ExtraArgs={"ChecksumAlgorithm": "SHA256"}, Config=config
        ),
        "ours": lambda key: uploader.upload_file(path, key, written=written, check_existing=False),
    }
    seconds: dict[str, list[float]] = {}
    cpu: dict[str, list[tuple[float, float]]] = {}
    for _ in range(pairs):
        for name, send in ways.items():
            key = f"bench/same/{secrets.token_hex(6)}"
            server_cpu = sum(_cpu_seconds(pid) for pid in weed)
            own_cpu = time.process_time()
            start = time.perf_counter()
            send(key)
            seconds.setdefault(name, []).append(time.perf_counter() - start)
            server_cpu = sum(_cpu_seconds(pid) for pid in weed) - server_cpu
            cpu.setdefault(name, []).append((time.process_time() - own_cpu, server_cpu))
            client.delete_object(Bucket=bucket, Key=key)
    gb = path.stat().st_size / 1024**3
    for name, times in seconds.items():
        own = [c / gb for c, _ in cpu[name]]
        weed_cpu = [w / gb for _, w in cpu[name]]
        note = (f"{spread(times)} s each; CPU per GB: here {spread(own)} s, "
                f"SeaweedFS {spread(weed_cpu)} s")  # fmt: skip
        print(figure(f"{name}, {pairs} uploads in one process", sum(times), "s in all", note))
    print(ratio_line("ours / boto3, one process", sum(seconds["boto3"]), sum(seconds["ours"]),
                     ">= 0.9"))  # fmt: skip


def spread(values: list[float]) -> str:
    """`low-high` of repeated figures."""
    return f"{min(values):.2f}-{max(values):.2f}" if len(values) > 1 else f"{values[0]:.2f}"


def main(argv: list[str] | None = None) -> int:
    """Upload each file each way and print MB/s, peak RSS and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", type=int, default=10, help="small file, MB (default 10)")
    parser.add_argument("--large", type=int, default=1024, help="large file, MB (default 1024)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--quick", action="store_true", help="10 MB and 70 MB once: a smoke run")
    parser.add_argument(
        "--same-process", type=int, metavar="N", help="N alternating large uploads in one process"
    )
    parser.add_argument("--worker", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        kind, path, bucket, key, out, digest = args.worker
        return worker(kind, Path(path), bucket, key, Path(out), Path(digest))
    small, large, repeat = (10, 70, 1) if args.quick else (args.small, args.large, args.repeat)
    with workdir(prefix="upload-") as work, seaweed(work / "s3") as server:
        bucket = "bench-upload"
        server.create_bucket(bucket)
        # The writer hashes parts of the configured size (Uploader takes them when they match).
        part_size = S3Config(bucket=bucket).multipart_chunksize
        if args.same_process:
            path, digest = make_file(work / f"large-{large}MB.bin", large * MB, part_size)
            # The first upload to a new bucket also makes its volumes: keep it out.
            server.client().put_object(Bucket=bucket, Key="warm-up", Body=os.urandom(MB))
            same_process(path, digest, server, bucket, args.same_process)
            return 0
        files = {
            "small": make_file(work / f"small-{small}MB.bin", small * MB, part_size),
            "large": make_file(work / f"large-{large}MB.bin", large * MB, part_size),
        }
        # The first upload to a new bucket also makes its volumes: keep that out of the figures.
        upload("boto3", *files["small"], server, bucket, work)
        rates: dict[tuple[str, str], list[float]] = {}
        rss: dict[tuple[str, str], int] = {}
        cpu: dict[tuple[str, str], list[float]] = {}
        for size_name, (path, digest) in files.items():
            for _ in range(repeat):
                for kind in KINDS:
                    rate, peak, seconds = upload(kind, path, digest, server, bucket, work)
                    rates.setdefault((kind, size_name), []).append(rate)
                    cpu.setdefault((kind, size_name), []).append(seconds)
                    rss[kind, size_name] = max(rss.get((kind, size_name), 0), peak)
        defaults_rate, defaults_rss, _ = upload(
            "boto3-defaults", *files["large"], server, bucket, work
        )
    labels = {"small": f"{small} MB", "large": f"{large} MB"}
    for size_name in ("small", "large"):
        for kind in KINDS:
            got = rates[kind, size_name]
            note = (
                f"range {spread(got)} MB/s, CPU {spread(cpu[kind, size_name])} s, "
                f"peak RSS {rss[kind, size_name] / MB:.0f} MiB"
            )
            if kind != "boto3":
                rounds = [o / b for o, b in zip(got, rates["boto3", size_name], strict=True)]
                note += f", {spread(rounds)} of boto3 by round"
            print(figure(f"{LABELS[kind]}, {labels[size_name]} file", max(got), "MB/s", note))
    print(figure(f"boto3 defaults, {labels['large']} file", defaults_rate, "MB/s",
                 f"peak RSS {defaults_rss / MB:.0f} MiB (8 MiB parts, 10 threads)"))  # fmt: skip
    print("ours is given the digests the writer computed while writing, as a crawl gives them")
    for size_name in ("small", "large"):
        print(ratio_line(f"ours / boto3, {labels[size_name]}", max(rates["ours", size_name]),
                         max(rates["boto3", size_name]), ">= 0.9"))  # fmt: skip
    print(ratio_line(f"peak RSS ours {labels['large']} / {labels['small']}", rss["ours", "large"],
                     rss["ours", "small"], "< 1.2"))  # fmt: skip
    print(ratio_line(f"peak RSS boto3 {labels['large']} / {labels['small']}",
                     rss["boto3", "large"], rss["boto3", "small"]))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
