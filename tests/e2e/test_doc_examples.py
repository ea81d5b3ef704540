"""Every `archiver` and `scrapy crawl` example of README.md and docs/*.md runs, and works.

Each example (or the variant a `<!-- doc-test: ... -->` comment gives) runs in bash, in an
empty directory, against one crawl of the sample site in the session's SeaweedFS; it must
exit 0, or with the code its doc-test comment names. How to mark an example:
tests/support/doc_examples.py and CONTRIBUTING.md.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from archiver.devserver.localredis import LocalRedis
from archiver.devserver.s3server import SeaweedServer
from archiver.devserver.samplesite import SampleSite
from tests.support.doc_archive import DocArchive, build_doc_archive, server_port
from tests.support.doc_examples import DocExample, collect, remote_hosts
from tests.support.paths import ROOT
from tests.support.tools import PYWB_VENV, pywb_bin

pytestmark = [pytest.mark.s3, pytest.mark.slow]

EXAMPLES = collect()
OUTPUT_TAIL = 3000
# How long a server example may take to stop after Ctrl-C.
STOP_SECONDS = 120


@pytest.fixture(scope="session")
def doc_archive(
    s3_server: SeaweedServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DocArchive]:
    """The sample site, served for the whole session, crawled once into a bucket."""
    with SampleSite() as site:
        yield build_doc_archive(s3_server, site, tmp_path_factory.mktemp("doc-archive"))


def _extra_env(example: DocExample, request: pytest.FixtureRequest) -> dict[str, str]:
    """A free port for servers; what only some need: Redis for distributed crawls, pywb."""
    extra: dict[str, str] = {"PORT": str(server_port())}
    if "$REDIS_URL" in example.command:
        redis: LocalRedis = request.getfixturevalue("redis_server")
        extra["REDIS_URL"] = redis.url
    if "archiver replay" in example.command:
        pywb_bin()  # built (or skipped, outside CI) before the example would build it
        if example.directive.cwd != "checkout":  # in the checkout, the default finds it
            extra["ARCHIVER_REPLAY_VENV"] = str(PYWB_VENV)
    return extra


def _describe(example: DocExample) -> str:
    ran = f"\n  ran: {example.command}" if example.is_variant else ""
    return f"{example.test_id}: {example.text}{ran}"


def _run(example: DocExample, cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    """Run an example to its end: exit code and output (stdout and stderr together)."""
    proc = subprocess.Popen(
        ["bash", "-c", example.command],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    timed_out = False
    try:
        output, _ = proc.communicate(timeout=example.directive.timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # whatever it started and left behind
    if timed_out:
        pytest.fail(
            f"{_describe(example)}\nstill running after {example.directive.timeout:.0f} s "
            f"(a server? give it until=)\n{output[-OUTPUT_TAIL:]}",
            pytrace=False,
        )
    return proc.returncode, output


def _run_server(example: DocExample, cwd: Path, env: dict[str, str], log: Path) -> tuple[int, str]:
    """Start a long-running example, wait for its `until` text, stop it as Ctrl-C would."""
    directive = example.directive
    if directive.until is None:
        raise ValueError("not a server example")
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            ["bash", "-c", example.command],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    until = directive.until

    def printed() -> bool:
        return until in log.read_text(encoding="utf-8", errors="replace")

    deadline = time.monotonic() + directive.timeout
    started = False
    try:
        while not (started := printed()) and proc.poll() is None:
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        started = started or printed()  # it may have printed it just before it ended
        # As Ctrl-C in a terminal: SIGINT to the whole process group.
        os.killpg(proc.pid, signal.SIGINT if started else signal.SIGKILL)
        try:
            # A server stops its store cleanly first (SeaweedFS gets 15 s, then SIGKILL; a
            # loaded disk can stretch that), so allow well over that before calling it hung.
            code = proc.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            tree = subprocess.run(
                ["ps", "-o", "pid,stat,etime,args", "-g", str(proc.pid)],
                capture_output=True,
                text=True,
            ).stdout
            pytest.fail(
                f"{_describe(example)}\nstill running {STOP_SECONDS} s after Ctrl-C:\n{tree}",
                pytrace=False,
            )
    except ProcessLookupError:
        code = proc.wait()  # it had already ended
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # whatever it started and left behind
        proc.wait()
    output = log.read_text(encoding="utf-8", errors="replace")
    if not started:
        how = f"ended with exit code {code}" if code >= 0 else f"ran {directive.timeout:.0f} s"
        pytest.fail(
            f"{_describe(example)}\n{how} without printing {directive.until!r}\n"
            f"{output[-OUTPUT_TAIL:]}",
            pytrace=False,
        )
    return code, output


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.test_id for e in EXAMPLES])
def test_documented_command_works(
    example: DocExample, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if example.error:
        pytest.fail(f"{example.test_id}: {example.error}", pytrace=False)
    if example.directive.skip:
        pytest.skip(f"{example.test_id}: {example.directive.skip}")
    if not example.is_variant and (hosts := remote_hosts(example.command)):
        pytest.fail(
            f"{_describe(example)}\nnames {', '.join(sorted(set(hosts)))}, not this machine: "
            "give it a variant (<!-- doc-test: COMMAND --> before the block; CONTRIBUTING.md)",
            pytrace=False,
        )
    archive: DocArchive = request.getfixturevalue("doc_archive")
    env = archive.env(_extra_env(example, request))
    cwd = ROOT if example.directive.cwd == "checkout" else tmp_path / "cwd"
    cwd.mkdir(exist_ok=True)
    if example.directive.until is not None:
        code, output = _run_server(example, cwd, env, tmp_path / "output.log")
    else:
        code, output = _run(example, cwd, env)
    if code != example.directive.exit_code:
        pytest.fail(
            f"{_describe(example)}\nexited {code}, expected {example.directive.exit_code}\n"
            f"{output[-OUTPUT_TAIL:]}",
            pytrace=False,
        )
    if "Traceback (most recent call last)" in output:
        pytest.fail(
            f"{_describe(example)}\nprinted a traceback\n{output[-OUTPUT_TAIL:]}", pytrace=False
        )
