"""The embedded SeaweedFS server: loopback only, no telemetry, restartable, runnable as a module."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import boto3
import pytest

from archiver.devserver.s3server import (
    CREDENTIALS_FILE,
    GRPC_PORT_OFFSET,
    IDENTITIES_FILE,
    SeaweedError,
    SeaweedServer,
    pick_ports,
)
from tests.support.s3 import new_server


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on this port (from /proc/net/tcp)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            address, port_hex = fields[1].rsplit(":", 1)
            if int(port_hex, 16) == port and fields[3] == "0A":  # 0A = LISTEN
                found.add(address)
    return found


def accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.s3
def test_server_listens_on_loopback_only_without_telemetry(s3_server: SeaweedServer) -> None:
    assert s3_server.pid is not None
    cmdline = Path(f"/proc/{s3_server.pid}/cmdline").read_bytes().split(b"\0")
    assert b"-master.telemetry=false" in cmdline
    assert b"-ip.bind=127.0.0.1" in cmdline
    loopback = "0100007F"  # 127.0.0.1 as /proc/net/tcp writes it
    for role, port in s3_server.ports.items():
        for p in (port, port + GRPC_PORT_OFFSET):
            assert listening_addresses(p) == {loopback}, f"{role} port {p}"
    identities = s3_server.data_dir / IDENTITIES_FILE
    assert stat.S_IMODE(identities.stat().st_mode) == 0o600
    assert s3_server.endpoint_url == f"http://127.0.0.1:{s3_server.ports['s3']}"


@pytest.mark.s3
def test_env_points_boto3_at_the_server(s3_server: SeaweedServer) -> None:
    env = s3_server.env()
    assert set(env) == {
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
    }
    assert env["AWS_DEFAULT_REGION"] == "us-east-1"
    client = boto3.session.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
    ).client("s3", endpoint_url=env["AWS_ENDPOINT_URL"])
    s3_server.create_bucket("env-check")
    s3_server.create_bucket("env-check")  # a second create of our own bucket is fine
    assert "env-check" in [b["Name"] for b in client.list_buckets()["Buckets"]]


def test_stop_and_restart_keep_ports_and_data(tmp_path: Path) -> None:
    server = new_server(tmp_path)
    try:
        server.start()
        endpoint, pid = server.endpoint_url, server.pid
        server.create_bucket("keep")
        server.client().put_object(Bucket="keep", Key="k", Body=b"survives")
        server.stop()
        assert not server.running and server.pid is None
        assert pid is not None and not Path(f"/proc/{pid}").exists()
        assert not accepts(server.ports["s3"])
        server.stop()  # twice is harmless

        server.start()
        assert server.endpoint_url == endpoint
        assert server.pid != pid
        body = server.client().get_object(Bucket="keep", Key="k")["Body"].read()
        assert body == b"survives"
    finally:
        server.stop()
    assert "Starting SeaweedFS" in server.log_path.read_text()


def test_context_manager_stops_the_server(tmp_path: Path) -> None:
    with new_server(tmp_path) as server:
        port = server.ports["s3"]
        assert server.running and accepts(port)
        with pytest.raises(Exception, match="NoSuchBucket"):
            # The server behaves like AWS: no bucket is created behind our back.
            server.client().put_object(Bucket="never-created", Key="k", Body=b"x")
    assert not server.running
    assert not accepts(port)


def test_a_taken_s3_port_fails_with_the_log(tmp_path: Path) -> None:
    # A port whose gRPC twin fits below 65536, so only the taken port itself can fail.
    (port,) = pick_ports("127.0.0.1", 1)
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", port))
        blocker.listen()
        server = new_server(tmp_path, s3_port=port)
        with pytest.raises(SeaweedError, match=f"port\\(s\\) {port} on 127.0.0.1 are in use"):
            server.start(timeout=20)
    assert not server.running


def test_module_runs_in_the_foreground_until_sigterm(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    data_dir = tmp_path / "demo"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "archiver.devserver.s3server",
            "--dir",
            str(data_dir),
            "--bucket",
            "demo",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()))  # type: ignore[union-attr]
        reader.start()
        reader.join(60)
        assert line and line[0].startswith("http://127.0.0.1:"), line
        endpoint = line[0].strip()

        creds_file = data_dir / CREDENTIALS_FILE
        assert stat.S_IMODE(creds_file.stat().st_mode) == 0o600
        rows = creds_file.read_text().splitlines()
        creds = dict(row.removeprefix("export ").split("=", 1) for row in rows)
        assert creds["AWS_ENDPOINT_URL"] == endpoint
        client = boto3.session.Session(
            aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
            region_name="us-east-1",
        ).client("s3", endpoint_url=endpoint)
        assert [b["Name"] for b in client.list_buckets()["Buckets"]] == ["demo"]
        port = int(endpoint.rsplit(":", 1)[1])
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert not accepts(port)
    assert creds["AWS_SECRET_ACCESS_KEY"] not in out + err + line[0]


def test_module_takes_a_relative_dir_from_the_directory_it_runs_in(tmp_path: Path) -> None:
    # docs/storage.md's `--dir var/s3`: weed runs in the data directory and exited 255 when
    # it was handed the relative path.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "archiver.devserver.s3server", "--dir", "var/s3"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()))  # type: ignore[union-attr]
        reader.start()
        reader.join(60)
        assert line and line[0].startswith("http://127.0.0.1:"), line
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert (tmp_path / "var" / "s3" / CREDENTIALS_FILE).is_file()
    assert SeaweedServer(Path("var/s3"), access_key="a", secret_key="b").data_dir.is_absolute()
