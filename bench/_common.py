"""Helpers shared by the benchmarks in bench/: paths, the dataset, SeaweedFS, timing, RSS, output.

Every benchmark prints its figures as aligned `name  value` lines and each comparison as
a line starting with `ratio`, measured against a baseline in the same run.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
# The shared data sets sit beside the repository (../shared/datasets/...).
DATA = REPO.parent / "shared" / "datasets" / "article-extraction-benchmark"
KB = 1024
MB = 1024 * 1024
# The issue asks for article pages of realistic size: 50-200 KB of HTML.
MIN_PAGE = 50 * KB
MAX_PAGE = 200 * KB


@dataclass(frozen=True)
class DatasetPage:
    """One benchmark page: its key, original URL and HTML bytes (UTF-8)."""

    key: str
    url: str | None
    html: bytes


def load_pages(
    data: Path = DATA, min_size: int = MIN_PAGE, max_size: int = MAX_PAGE
) -> list[DatasetPage]:
    """The dataset's pages whose HTML is between min_size and max_size bytes, in key order."""
    if not (data / "html").is_dir():
        raise SystemExit(
            f"dataset not found at {data}: expected ../shared/datasets/article-extraction-benchmark "
            "beside the repository (or pass --data)"
        )
    truth = json.loads((data / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for path in sorted((data / "html").glob("*.html.gz")):
        key = path.name.removesuffix(".html.gz")
        html = gzip.decompress(path.read_bytes())
        if min_size <= len(html) <= max_size:
            pages.append(DatasetPage(key, truth.get(key, {}).get("url"), html))
    if not pages:
        raise SystemExit(f"no page of {min_size}-{max_size} bytes in {data}")
    return pages


def ratio_line(name: str, ours: float, base: float, target: str = "") -> str:
    """A `ratio` line: ours / base, with the target and whether it was met when one is given."""
    value = ours / base if base else float("nan")
    line = f"ratio {name:<34} {value:8.2f}"
    if target:
        op, _, number = target.partition(" ")
        goal = float(number)
        met = {">=": value >= goal, "<": value < goal, "<=": value <= goal}[op]
        line += f"  (target {target}: {'met' if met else 'NOT met'})"
    return line


def figure(name: str, value: float, unit: str, note: str = "") -> str:
    """An aligned `name  value unit` line."""
    return f"{name:<40} {value:10.1f} {unit}" + (f"  {note}" if note else "")


@dataclass
class RunResult:
    """A child process run: exit status, wall seconds, peak RSS (own and whole tree), output."""

    returncode: int
    seconds: float
    maxrss: int  # bytes, the child's own peak (VmHWM)
    tree_rss: int  # bytes, peak of the child and its descendants summed (sampled)
    cpu: float = 0.0  # CPU seconds (user + system) of the child and all its descendants
    log: Path | None = None
    rss: list[int] = field(default_factory=list)  # the child's own RSS at each sample, bytes
    extra: dict[str, Any] = field(default_factory=dict)

    def tail(self, lines: int = 30) -> str:
        """The end of the child's log, for error messages."""
        if self.log is None or not self.log.exists():
            return ""
        return "\n".join(
            self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
        )


def _status_kib(pid: int, field_name: str) -> int:
    """A `VmRSS`/`VmHWM` figure (KiB) from /proc/PID/status; 0 once the process is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return 0
    return 0


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", encoding="ascii") as fh:
                children = [int(c) for c in fh.read().split()]
        except (OSError, ValueError):
            continue
        for child in children:
            found.append(child)
            found.extend(_descendants(child))
    return found


_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (/proc/PID/stat); 0 once gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            fields = fh.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    # Fields 14 and 15 of stat(5), counted after the ")" that ends the command name.
    return (int(fields[11]) + int(fields[12])) / _TICK


def run_measured(
    command: Sequence[str],
    *,
    log: Path | None = None,
    env: dict[str, str] | None = None,
    cwd: Path = REPO,
    timeout: float = 3600.0,
    sample_every: float = 0.2,
) -> RunResult:
    """Run a child to completion; wall time, its own peak RSS, and its process tree's peak RSS.

    The child's peak is its VmHWM, read from /proc while it runs (Linux).  getrusage's
    ru_maxrss cannot serve: Linux carries the parent's high-water mark across fork and
    exec, so every child would report at least this process's size.
    """
    out = open(log, "w", encoding="utf-8") if log else subprocess.DEVNULL  # noqa: SIM115
    peak = 0
    hwm = 0
    cpu_seen: dict[int, float] = {}
    samples: list[int] = []
    done = threading.Event()
    start = time.perf_counter()
    try:
        proc = subprocess.Popen(
            list(command), cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT
        )

        def sample() -> None:
            nonlocal peak, hwm
            while not done.wait(sample_every):
                pids = [proc.pid, *_descendants(proc.pid)]
                peak = max(peak, sum(_status_kib(p, "VmRSS") for p in pids) * KB)
                hwm = max(hwm, _status_kib(proc.pid, "VmHWM") * KB)
                samples.append(_status_kib(proc.pid, "VmRSS") * KB)
                for p in pids:
                    # The last reading of each process counts; one that ends between two
                    # samples loses at most one interval of its CPU time.
                    cpu_seen[p] = max(cpu_seen.get(p, 0.0), _cpu_seconds(p))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        seconds = time.perf_counter() - start
        done.set()
        sampler.join()
    finally:
        if log:
            out.close()  # type: ignore[union-attr]
    return RunResult(
        proc.returncode, seconds, hwm, max(peak, hwm), sum(cpu_seen.values()), log, samples
    )


@contextlib.contextmanager
def workdir(keep: bool = False, prefix: str = "bench-") -> Iterator[Path]:
    """A scratch directory under var/bench (gitignored), removed afterwards unless keep."""
    base = REPO / "var" / "bench"
    base.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    try:
        yield path
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def seaweed(directory: Path) -> Iterator[Any]:
    """A SeaweedFS S3 server on 127.0.0.1 (telemetry off) with fresh random keys."""
    from archiver.devserver.s3server import SeaweedServer

    server = SeaweedServer(
        directory,
        access_key="AK" + secrets.token_hex(9).upper(),
        secret_key=secrets.token_urlsafe(30),
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def child_env(server: Any | None = None) -> dict[str, str]:
    """Environment for a child: ours, minus any AWS profile, plus the local server's keys."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    # Keep boto3 off ~/.aws and the instance-metadata service: only the local server is used.
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env["AWS_CONFIG_FILE"] = os.devnull
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    if server is not None:
        env.update(server.env())
    return env


def best(values: Sequence[float]) -> float:
    """The best (largest) of repeated rates: the run least disturbed by other processes."""
    return max(values)


def cores() -> int:
    """CPU cores this process may use."""
    return len(os.sched_getaffinity(0))
