"""`make demo`: the whole job offline, on this machine only.

Serves the bundled sample news site on 127.0.0.1, starts an embedded SeaweedFS S3
server on 127.0.0.1, runs `scrapy crawl news` against the site as a user would,
then lists the bucket and prints one archived article's clean text read back from
storage, a summary, and stops everything it started.  With --keep (`make demo KEEP=1`)
the S3 data and the local WARCs stay, and it prints the commands that browse them.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from archiver.devserver.s3server import CREDENTIALS_FILE, SeaweedServer, write_credentials_env
from archiver.devserver.samplesite import EXPECTED_DIR, SampleSite

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BUCKET = "news-archive"
PREFIX = "demo"
# The port `archiver storage` serves on by default, where the kept archive is browsed.
STORAGE_PORT = 8333


def _archiver() -> str:
    """How to call archiver in the lines printed: by name when that is this one."""
    mine = Path(sys.executable).with_name("archiver")
    found = shutil.which("archiver")
    return "archiver" if found and Path(found).resolve() == mine.resolve() else str(mine)


def next_steps(workdir: Path, site_url: str, seed_url: str, crawl_id: str) -> list[str]:
    """The lines that say how to browse a kept demo archive, commands ready to paste."""
    s3_dir = workdir.resolve() / "s3"
    endpoint = f"http://127.0.0.1:{STORAGE_PORT}"
    cli = _archiver()
    host = site_url.split("://", 1)[1]
    return [
        f"== kept: the S3 data in {s3_dir}, the local WARCs in {workdir.resolve() / 'spool'}",
        "   Browse the archive: start its storage in one terminal (Ctrl-C stops it),",
        f"     {cli} storage --dir {s3_dir} --port {STORAGE_PORT}",
        f"   then in another (the demo's prefix is {PREFIX}, not the default news-archiver):",
        f"     . {s3_dir / CREDENTIALS_FILE}",
        f"     export ARCHIVER_S3_ENDPOINT_URL={endpoint} ARCHIVER_S3_BUCKET={BUCKET} "
        f"ARCHIVER_S3_PREFIX={PREFIX}",
        f"     {cli} find {host} --match host",
        f"     {cli} get {seed_url} --text",
        f"     {cli} replay --url {seed_url}",
        f"     {cli} export-wacz --crawl {crawl_id} -o demo.wacz",
        f"   (instead of the export line: -s ARCHIVER_S3_ENDPOINT_URL={endpoint} "
        f"-s ARCHIVER_S3_BUCKET={BUCKET} -s ARCHIVER_S3_PREFIX={PREFIX} after each command)",
        "   and the web page for researchers (search, read, cite, replay; open the URL it prints):",
        f"     {cli} serve",
    ]


def _client(server: SeaweedServer) -> Any:
    env = server.env()
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint_url,
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )


def _list(client: Any, prefix: str) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        objects.extend(page.get("Contents", []))
    return objects


def run(workdir: Path, *, keep: bool) -> int:
    """Run the demo in `workdir`; returns the process exit code."""
    if workdir.exists():
        shutil.rmtree(workdir)
    spool = workdir / "spool"
    logs = workdir / "logs"
    logs.mkdir(parents=True)
    started = time.monotonic()
    after: list[str] = []

    print("== news-archiver demo (everything on 127.0.0.1, nothing leaves this machine)")
    site = SampleSite()
    site.start(host="127.0.0.1", port=0)
    server = SeaweedServer(
        workdir / "s3",
        access_key="demo" + secrets.token_hex(4),
        secret_key=secrets.token_urlsafe(24),
    )
    try:
        print(f"   sample site: {site.url}/")
        server.start()
        server.create_bucket(BUCKET)
        if keep:
            # Its keys, for `archiver storage --dir` to serve the kept data with later.
            write_credentials_env(server)
        print(f"   S3 server:   {server.endpoint_url} (SeaweedFS, bucket {BUCKET})")

        env = {**os.environ, **server.env(), "PYTHONUNBUFFERED": "1"}
        command = [
            str(Path(sys.executable).with_name("scrapy")),
            "crawl",
            "news",
            "-a",
            f"urls={site.url}/",
            "-s",
            f"ARCHIVER_WARC_DIR={spool}",
            "-s",
            f"ARCHIVER_S3_BUCKET={BUCKET}",
            "-s",
            f"ARCHIVER_S3_PREFIX={PREFIX}",
            "-s",
            f"ARCHIVER_S3_ENDPOINT_URL={server.endpoint_url}",
            # A local site answers in microseconds: the polite delays are for real servers.
            "-s",
            "DOWNLOAD_DELAY=0",
            "-s",
            "AUTOTHROTTLE_START_DELAY=0.05",
            # The address guard refuses loopback unless allowed; the sample site is on it.
            "-s",
            "ARCHIVER_ALLOWED_NETWORKS=127.0.0.0/8",
            # The sample site's CDN host (cdn.sample.test on 127.0.0.2), named without DNS.
            "-s",
            f"ARCHIVER_HOSTS={json.dumps(site.hosts)}",
            "-s",
            "LOG_FILE=" + str(logs / "crawl.log"),
        ]
        if keep:
            command += ["-s", "ARCHIVER_KEEP_LOCAL=true"]
        print(
            "== crawling: scrapy crawl news -a urls="
            + site.url
            + "/  (log: "
            + str(logs / "crawl.log")
            + ")"
        )
        proc = subprocess.run(command, cwd=PROJECT_ROOT, env=env, check=False)
        if proc.returncode != 0:
            print(
                f"!! the crawl exited with {proc.returncode}; see {logs / 'crawl.log'}",
                file=sys.stderr,
            )
            return 1

        client = _client(server)
        objects = _list(client, PREFIX + "/")
        print(f"== bucket {BUCKET}: {len(objects)} objects")
        for obj in objects:
            print(f"   {obj['Size']:>10,}  s3://{BUCKET}/{obj['Key']}")
        manifests = [o["Key"] for o in objects if o["Key"].endswith("/manifest.json")]
        if not manifests:
            print("!! no manifest was uploaded", file=sys.stderr)
            return 1
        manifest = json.loads(client.get_object(Bucket=BUCKET, Key=manifests[0])["Body"].read())

        seed = json.loads((EXPECTED_DIR / "seed-article.json").read_text(encoding="utf-8"))
        seed_url = site.url + seed["url_path"]
        archiver = [
            str(Path(sys.executable).with_name("archiver")),
            "-s",
            f"ARCHIVER_S3_BUCKET={BUCKET}",
            "-s",
            f"ARCHIVER_S3_PREFIX={PREFIX}",
            "-s",
            f"ARCHIVER_S3_ENDPOINT_URL={server.endpoint_url}",
        ]
        print("== one article read back from storage: archiver get URL --text")
        print(f"   {seed_url}")
        # `get` finds the capture in the archive-wide index and reads its records with
        # one HTTP Range request on the stored WARC; its citation goes to stderr.
        got = subprocess.run(
            [*archiver, "get", seed_url, "--text"],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if got.returncode != 0 or not got.stdout.strip():
            print(
                f"!! archiver get failed ({got.returncode}): {got.stderr.strip()}", file=sys.stderr
            )
            return 1
        for line in got.stderr.strip().splitlines():
            print(f"   {line}")
        print()
        print(got.stdout.rstrip())
        print()

        stats = manifest.get("stats", {})
        records: dict[str, int] = {}
        for f in manifest["files"]:
            for kind, n in f["records"].items():
                records[kind] = records.get(kind, 0) + n
        uploaded = sum(o["Size"] for o in objects)
        print("== summary")
        print(f"   crawl id:        {manifest['crawl_id']}")
        print(f"   pages fetched:   {stats.get('downloader/response_count', 0)}")
        print(f"   articles:        {stats.get('archiver/clean/articles', 0)}")
        print(f"   WARC files:      {len(manifest['files'])}")
        print(f"   WARC records:    {sum(records.values())} {dict(sorted(records.items()))}")
        print(f"   bytes uploaded:  {uploaded:,} to s3://{BUCKET}/{PREFIX}/ (verified by SHA-256)")
        print(f"   uploads waiting: {len(manifest.get('uploads_waiting', []))}")
        print(f"   local spool:     {spool}")
        print(f"   crawl log:       {logs / 'crawl.log'}")
        print(f"   took:            {time.monotonic() - started:.1f} s")
        if keep:
            after = next_steps(workdir, site.url, seed_url, str(manifest["crawl_id"]))
        return 0
    finally:
        server.stop()
        site.stop()
        print("== stopped the sample site and the S3 server")
        if keep:
            for line in after:
                print(line)
        else:
            shutil.rmtree(workdir / "s3", ignore_errors=True)
            print(
                f"== removed the S3 data ({workdir / 's3'}): the uploaded WARCs went with it, "
                "and the spool keeps none once they are uploaded; "
                "`make demo KEEP=1` keeps a browsable archive"
            )


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point of `python -m archiver.devserver.demo`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--workdir", type=Path, default=PROJECT_ROOT / "var" / "demo")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the S3 data and the local WARCs, and print how to browse them",
    )
    args = parser.parse_args(argv)
    return run(args.workdir, keep=args.keep)


if __name__ == "__main__":
    sys.exit(main())
