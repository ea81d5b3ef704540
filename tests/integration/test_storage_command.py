"""`archiver storage`: local S3 kept as a user keeps it: a fixed port, a data directory and
keys that survive a restart, the bucket created, and lines to paste that work as printed."""

from __future__ import annotations

import os
import shlex
import signal
import stat
import subprocess
import sys
from pathlib import Path

import boto3

from archiver.devserver.s3server import pick_ports


def start(
    data_dir: str, port: int, cwd: Path, env: dict[str, str], *extra: str
) -> tuple[subprocess.Popen[str], list[str]]:
    """Run `archiver storage` and read what it prints up to its last line to paste."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "archiver",
            "storage",
            "--dir",
            data_dir,
            "--port",
            str(port),
            *extra,
        ],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    while not (lines and lines[-1].startswith("#   -s ")):
        line = proc.stdout.readline()
        assert line, f"archiver storage ended early: {lines}"
        lines.append(line.rstrip("\n"))
    return proc, lines


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == 0


def pasted(lines: list[str], env: dict[str, str]) -> dict[str, str]:
    """The environment after pasting the printed lines into a shell."""
    out = dict(env)
    for line in lines:
        if line.startswith(". "):
            for row in Path(shlex.split(line)[1]).read_text().splitlines():
                name, _, value = row.removeprefix("export ").partition("=")
                out[name] = value
        elif line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            out[name] = value
    return out


def test_storage_runs_until_stopped_and_keeps_keys_and_data_across_restarts(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ARCHIVER_"))}
    env["AWS_ACCESS_KEY_ID"] = "not-these"  # the shell's own keys are not the server's
    (port,) = pick_ports("127.0.0.1", 1)
    proc, lines = start("s3", port, tmp_path, env)
    try:
        data_dir = tmp_path / "s3"  # resolved against the directory it ran in
        creds = data_dir / "credentials.env"
        assert stat.S_IMODE(creds.stat().st_mode) == 0o600
        assert lines[0] == f"http://127.0.0.1:{port}"
        assert f"export ARCHIVER_S3_ENDPOINT_URL=http://127.0.0.1:{port}" in lines
        assert "export ARCHIVER_S3_BUCKET=news-archive" in lines
        shell = pasted(lines, {k: v for k, v in env.items() if not k.startswith("AWS_")})
        secret = shell["AWS_SECRET_ACCESS_KEY"]
        assert secret not in "\n".join(lines), "the secret stays in the 0600 file"
        listed = subprocess.run(
            [sys.executable, "-m", "archiver", "ls"],
            cwd=tmp_path, env=shell, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert listed.returncode == 0 and "0 crawl(s)" in listed.stderr, listed.stderr
        client = boto3.session.Session(
            aws_access_key_id=shell["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=secret,
            region_name="us-east-1",
        ).client("s3", endpoint_url=f"http://127.0.0.1:{port}")
        client.put_object(Bucket="news-archive", Key="kept.txt", Body=b"still here")
    finally:
        stop(proc)
    first_keys = creds.read_text()

    proc, again = start(str(data_dir), port, tmp_path, env, "--write-config")
    try:
        assert again == lines, "the same lines to paste after a restart"
        assert creds.read_text() == first_keys
        body = client.get_object(Bucket="news-archive", Key="kept.txt")["Body"].read()
        assert body == b"still here"
        # The -s form works too.
        settings = lines[-1].removeprefix("#   ").split()
        listed = subprocess.run(
            [sys.executable, "-m", "archiver", *settings, "ls"],
            cwd=tmp_path,
            env=pasted([ln for ln in lines if ln.startswith(". ")], env),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert listed.returncode == 0, listed.stderr
        # With --write-config, ./archiver.toml holds the endpoint and bucket: the keys suffice.
        keys_only = pasted([ln for ln in lines if ln.startswith(". ")], env)
        del keys_only["AWS_ENDPOINT_URL"]
        listed = subprocess.run(
            [sys.executable, "-m", "archiver", "ls"],
            cwd=tmp_path,
            env=keys_only,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert listed.returncode == 0 and "0 crawl(s)" in listed.stderr, listed.stderr
    finally:
        stop(proc)
    assert (
        (tmp_path / "archiver.toml")
        .read_text()
        .endswith(
            f'ARCHIVER_S3_ENDPOINT_URL = "http://127.0.0.1:{port}"\n'
            'ARCHIVER_S3_BUCKET = "news-archive"\n'
        )
    )
