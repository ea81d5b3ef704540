"""Storage that misbehaves on demand: a proxy in front of SeaweedFS, and `archiver upload`.

The proxy on 127.0.0.1 answers 503 or 500, answers slowly, or refuses everything (the
server is down) as its policy says; tests/conftest.py's `make_proxy` fixture starts them.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tests.support.paths import ROOT

# What the proxy does with one request: forward it, answer with a status, wait then
# forward, or drop the connection as a server that is down would.
Action = tuple[str, float]
FORWARD: Action = ("forward", 0)
DOWN: Action = ("down", 0)


def status(code: int) -> Action:
    """Answer with this error status (500 or 503), as S3 words it."""
    return ("status", code)


def slow(seconds: float) -> Action:
    """Wait this long, then forward."""
    return ("slow", seconds)


_S3_ERRORS = {
    500: ("InternalError", "We encountered an internal error. Please try again."),
    503: ("SlowDown", "Please reduce your request rate."),
}


class FlakyProxy:
    """An HTTP proxy on 127.0.0.1 in front of one S3 endpoint; policy(n) decides request n."""

    def __init__(self, upstream: str, policy: Callable[[int], Action]) -> None:
        host_port = upstream.split("://", 1)[1].rstrip("/")
        host, _, port = host_port.rpartition(":")
        self.upstream = (host, int(port))
        self.policy = policy
        self.requests: list[tuple[str, Action]] = []
        self._lock = threading.Lock()
        self._sock = socket.create_server(("127.0.0.1", 0))
        # accept() wakes up now and then, so close() does not wait on it.
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        self._thread.join(timeout=5)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(30)
            try:
                head = b""
                while b"\r\n\r\n" not in head:
                    data = conn.recv(65536)
                    if not data:
                        return
                    head += data
            except OSError:
                return
            head, _, rest = head.partition(b"\r\n\r\n")
            line = head.split(b"\r\n", 1)[0].decode("latin-1")
            with self._lock:
                n = len(self.requests)
                action = self.policy(n)
                self.requests.append((line, action))
            kind, value = action
            if kind == "down":
                return
            if kind == "status":
                self._answer(conn, head, rest, int(value))
                return
            if kind == "slow":
                time.sleep(value)
            self._forward(conn, head, rest)

    def _answer(self, conn: socket.socket, head: bytes, rest: bytes, code: int) -> None:
        headers = head.lower()
        if b"expect: 100-continue" not in headers:
            # Read the body the client is sending, so the answer is not a connection reset.
            length = 0
            for header in headers.split(b"\r\n")[1:]:
                name, _, value = header.partition(b":")
                if name.strip() == b"content-length":
                    length = int(value)
            while len(rest) < length:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                rest += chunk
        error, message = _S3_ERRORS[code]
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{error}</Code>'
            f"<Message>{message}</Message></Error>"
        ).encode()
        reason = {500: "Internal Server Error", 503: "Service Unavailable"}[code]
        conn.sendall(
            f"HTTP/1.1 {code} {reason}\r\nContent-Type: application/xml\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )

    def _forward(self, conn: socket.socket, head: bytes, rest: bytes) -> None:
        lines = [h for h in head.split(b"\r\n") if not h.lower().startswith(b"connection:")]
        # One request per upstream connection, so the relay ends when the answer does.
        lines.append(b"Connection: close")
        try:
            upstream = socket.create_connection(self.upstream, timeout=60)
        except OSError:
            return
        with upstream:
            upstream.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + rest)

            def client_to_upstream() -> None:
                try:
                    while data := conn.recv(65536):
                        upstream.sendall(data)
                except OSError:
                    pass

            pump = threading.Thread(target=client_to_upstream, daemon=True)
            pump.start()
            try:
                while data := upstream.recv(65536):
                    conn.sendall(data)
            except OSError:
                pass


def archiver_upload(
    spool: Path, bucket: str, endpoint: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """`archiver upload --json` of the spool, run as a user runs it, two attempts per call."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "archiver",
            "-s",
            f"ARCHIVER_WARC_DIR={spool}",
            "-s",
            f"ARCHIVER_S3_BUCKET={bucket}",
            "-s",
            f"ARCHIVER_S3_ENDPOINT_URL={endpoint}",
            "-s",
            "ARCHIVER_S3_MAX_ATTEMPTS=2",
            "upload",
            "--json",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
