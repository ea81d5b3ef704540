"""Replay of the archive in pywb: its own virtualenv, our archive-wide index, WARCs read from S3.

pywb reads each index run as a ZipNum cluster (cluster.idx here, the part files in S3 by
range requests, named in a .loc file) and each WARC record from s3:// with a range request.
Credentials reach it only through the standard AWS chain (environment, profile, role).
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from archiver.index import CLUSTER_FILE, ArchiveIndex, RunInfo, storage_key
from archiver.storage import S3Config

logger = logging.getLogger(__name__)

# pywb pins an old redis client and gevent, so it gets a virtualenv of its own; boto3 lets it
# read s3:// paths.
PYWB_REQUIREMENTS = ("pywb>=2.8", "boto3>=1.28")
READY_STAMP = ".archiver-pywb-ready"
COLLECTION = "news"
# Seconds pywb gets to answer after it starts (it loads gevent and its templates first).
START_TIMEOUT = 60.0


class ReplayError(RuntimeError):
    """pywb could not be installed or started."""


def ensure_pywb(venv: Path, *, python: str | None = None) -> Path:
    """The bin directory of a virtualenv holding pywb and boto3, created on first use.

    Absolute (a relative venv is taken from the working directory), so pywb starts from its
    own working directory.
    """
    venv = Path(venv).absolute()
    bin_dir = venv / "bin"
    if (venv / READY_STAMP).exists() and (bin_dir / "wayback").exists():
        return bin_dir
    venv.parent.mkdir(parents=True, exist_ok=True)
    # Two commands (or test processes) starting at once build the virtualenv once: the second
    # waits for the first and then finds it ready.
    with (venv.parent / f".{venv.name}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (venv / READY_STAMP).exists() and (bin_dir / "wayback").exists():
            return bin_dir
        return _install_pywb(venv, python)


def _install_pywb(venv: Path, python: str | None) -> Path:
    bin_dir = venv / "bin"
    if not (bin_dir / "pip").exists():
        logger.info("event=pywb_venv_create path=%s", venv)
        subprocess.run(
            [python or sys.executable, "-m", "venv", str(venv)],
            check=True,
            capture_output=True,
            timeout=300,
        )
    install = subprocess.run(
        [str(bin_dir / "pip"), "install", "--quiet", *PYWB_REQUIREMENTS],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if install.returncode != 0 or not (bin_dir / "wayback").exists():
        raise ReplayError(f"pywb cannot be installed in {venv}: {install.stderr.strip()[-800:]}")
    (venv / READY_STAMP).write_text(" ".join(PYWB_REQUIREMENTS) + "\n", encoding="utf-8")
    return bin_dir


@dataclass(frozen=True)
class ReplayConfig:
    """A pywb working directory: config.yaml and one ZipNum cluster per index run."""

    directory: Path
    collection: str
    runs: int


def _yaml_string(value: str) -> str:
    # JSON strings are valid YAML flow scalars and escape everything that needs it.
    import json

    return json.dumps(value)


def prepare(index: ArchiveIndex, directory: Path, *, collection: str = COLLECTION) -> ReplayConfig:
    """Write pywb's config.yaml and the index runs' cluster.idx and .loc files into directory.

    config.yaml names the index files by absolute path: pywb runs in directory, and reads
    relative paths against its collections root instead ("Collection not found").
    """
    directory = Path(directory).absolute()
    directory.mkdir(parents=True, exist_ok=True)
    runs: list[RunInfo] = index.runs()
    if not runs:
        raise ReplayError(
            f"no archive index under s3://{index.bucket}/{index.root}/: "
            "run `archiver reindex` (or a crawl) first"
        )
    sources = []
    for run in runs:
        run_dir = directory / "index" / run.run_id
        run_dir.mkdir(parents=True, exist_ok=True)
        idx = run_dir / CLUSTER_FILE
        idx.write_bytes(index.get(index.run_key(run.run_id, CLUSTER_FILE)))
        loc_lines = [
            f"{part['name']}\ts3://{index.bucket}/{index.run_key(run.run_id, str(part['name']))}\n"
            for part in run.doc.get("parts", [])
        ]
        idx.with_suffix(".loc").write_text("".join(loc_lines), encoding="utf-8")
        sources.append((run.run_id, idx))
    archive_root = f"s3://{index.bucket}/{storage_key(index.prefix, '')}"
    lines = [
        "# Written by `archiver replay`; rewritten on every start.",
        "collections:",
        f"  {collection}:",
        "    index_group:",
        *(
            f"      {_yaml_string(run_id)}: {_yaml_string('zipnum+' + str(idx))}"
            for run_id, idx in sources
        ),
        f"    archive_paths: {_yaml_string(archive_root)}",
        # Frameless: the page itself at its replay URL (a browser, or a test, sees its text there).
        "framed_replay: false",
        "enable_memento: true",
    ]
    (directory / "config.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ReplayConfig(directory, collection, len(sources))


def pywb_environment(cfg: S3Config) -> dict[str, str]:
    """The environment for pywb: ours, with the endpoint and region made explicit for boto3."""
    env = dict(os.environ)
    if cfg.endpoint_url:
        env["AWS_ENDPOINT_URL"] = cfg.endpoint_url
    if cfg.region:
        env["AWS_DEFAULT_REGION"] = cfg.region
    return env


class ReplayServer:
    """A pywb `wayback` process bound to 127.0.0.1 over a prepared working directory."""

    def __init__(self, bin_dir: Path, config: ReplayConfig, port: int, env: dict[str, str]) -> None:
        # Absolute: the process starts in the config's directory.
        self.bin_dir = Path(bin_dir).absolute()
        self.config = config
        self.port = port
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        """The collection's replay URL."""
        return f"http://127.0.0.1:{self.port}/{self.config.collection}/"

    def replay_url(self, url: str, timestamp: str = "") -> str:
        """Where a capture of url replays (the capture nearest the timestamp, else the latest)."""
        return f"{self.url}{timestamp}/{url}" if timestamp else f"{self.url}{url}"

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start pywb and wait until it answers."""
        log = open(self.config.directory / "pywb.log", "ab")  # noqa: SIM115 - closed in stop()
        self._log = log
        self.proc = subprocess.Popen(
            [str(self.bin_dir / "wayback"), "--bind", "127.0.0.1", "--port", str(self.port)],
            cwd=self.config.directory,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ReplayError(
                    f"pywb exited with code {self.proc.returncode}; see "
                    f"{self.config.directory / 'pywb.log'}"
                )
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=2):
                    return
            except urllib.error.HTTPError:
                return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise ReplayError(f"pywb did not answer on port {self.port} within {timeout:.0f}s")

    def wait(self) -> int:
        """Wait for pywb to exit; returns its exit code."""
        assert self.proc is not None
        return self.proc.wait()

    def stop(self) -> None:
        """Stop pywb (SIGTERM, then SIGKILL after 10 s)."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


def clear(directory: Path) -> None:
    """Remove a replay working directory."""
    shutil.rmtree(directory, ignore_errors=True)
