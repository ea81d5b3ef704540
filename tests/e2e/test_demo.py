"""`make demo` end to end: it must keep working as the README promises."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from archiver.devserver.demo import STORAGE_PORT
from archiver.devserver.s3server import pick_ports
from tests.support.paths import ROOT

pytestmark = [pytest.mark.s3, pytest.mark.slow]


def test_demo_crawls_uploads_and_reads_an_article_back(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "archiver.devserver.demo", "--workdir", str(tmp_path / "demo")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    out = proc.stdout
    assert "Kremlin rejects NATO advances, insists on diplomatic hurdles" in out
    assert "Russia cannot allow NATO infrastructure" in out
    for boilerplate in ("Images source", "Related content"):
        assert boilerplate not in out
    assert "uploads waiting: 0" in out
    assert "== stopped the sample site and the S3 server" in out
    # The demo's own S3 server is gone with it: no data directory left behind, and it says so.
    assert not (tmp_path / "demo" / "s3").exists()
    assert f"== removed the S3 data ({tmp_path / 'demo' / 's3'})" in out
    assert "make demo KEEP=1" in out
    # get's citation, as the demo shows it, names each part.
    assert "cite: url=http://127.0.0.1:" in out and " record=<urn:uuid:" in out


def test_demo_keep_leaves_an_archive_the_printed_commands_browse(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "archiver.devserver.demo", "--workdir", str(workdir), "--keep"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    out = proc.stdout
    assert "== removed" not in out
    assert list((workdir / "spool").rglob("*.warc.gz")), "the local WARCs are kept"
    steps = out.split("== kept:", 1)[1].splitlines()
    commands = [line.strip() for line in steps if line.startswith("     ")]
    storage, source, export, find, get, replay, export_wacz, serve = commands
    assert source == f". {workdir / 's3' / 'credentials.env'}"
    assert "ARCHIVER_S3_PREFIX=demo" in export
    assert all(c.split()[1] == name for c, name in [
        (storage, "storage"), (find, "find"), (get, "get"), (replay, "replay"),
        (export_wacz, "export-wacz"), (serve, "serve"),
    ])  # fmt: skip

    # The storage line, on a free port instead of 8333 (which this machine may be using).
    (port,) = pick_ports("127.0.0.1", 1)
    argv = shlex.split(storage.replace(f"--port {STORAGE_PORT}", f"--port {port}"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ARCHIVER_"))}
    server = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        endpoint = server.stdout.readline().strip()
        assert endpoint == f"http://127.0.0.1:{port}", endpoint
        rows = (workdir / "s3" / "credentials.env").read_text().splitlines()
        env.update(row.removeprefix("export ").split("=", 1) for row in rows)
        for pair in export.removeprefix("export ").split():
            name, value = pair.split("=", 1)
            env[name] = value.replace(f":{STORAGE_PORT}", f":{port}")
        for line in (find, get, export_wacz):
            done = subprocess.run(
                shlex.split(line), cwd=tmp_path, env=env, capture_output=True, text=True,
                timeout=300,
            )  # fmt: skip
            assert done.returncode == 0, (line, done.stderr[-2000:])
            if line == get:
                assert done.stdout.startswith("Kremlin rejects NATO advances")
        assert (tmp_path / "demo.wacz").stat().st_size > 0
        # The last line printed: the web page over the kept archive finds the seed article.
        (web_port,) = pick_ports("127.0.0.1", 1)
        web = subprocess.Popen(
            [*shlex.split(serve), "--port", str(web_port)], cwd=tmp_path, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        try:
            assert web.stdout is not None
            assert web.stdout.readline().strip() == f"http://127.0.0.1:{web_port}/"
            api = f"http://127.0.0.1:{web_port}/api/search?q=Kremlin"
            with urllib.request.urlopen(api, timeout=60) as resp:
                titles = [r["title"] for r in json.load(resp)["results"]]
            assert "Kremlin rejects NATO advances, insists on diplomatic hurdles" in titles
        finally:
            web.send_signal(signal.SIGTERM)
            web.communicate(timeout=60)
        assert web.returncode == 0
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=60)
    assert server.returncode == 0
