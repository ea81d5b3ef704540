"""Programs the tests run beside the archiver: pywb, the `wacz` validator, chromium; free ports.

pywb and wacz live in their own virtualenvs under var/ (their pins differ from ours), built
on first use; a tool that cannot be had fails the test under CI and skips it elsewhere.
"""

from __future__ import annotations

import fcntl
import socket
import subprocess
from pathlib import Path

import pytest

from archiver.access import ReplayError, ensure_pywb
from tests.support.ci import in_ci
from tests.support.paths import ROOT

PYWB_VENV = ROOT / "var" / "pywb-venv"
WACZ_VENV = ROOT / "var" / "wacz-venv"
CHROMIUM = Path("/usr/bin/chromium")


def pywb_bin() -> Path:
    """pywb in its own virtualenv (it pins an old redis client), built once and reused."""
    try:
        return ensure_pywb(PYWB_VENV)
    except (ReplayError, subprocess.SubprocessError, OSError) as exc:
        if in_ci():
            raise
        pytest.skip(f"pywb cannot be installed here: {exc}")


def wacz_bin() -> Path:
    """The `wacz` validator in its own virtualenv (its pins differ from ours), built once."""
    wacz = WACZ_VENV / "bin" / "wacz"
    if wacz.exists():
        return wacz
    WACZ_VENV.parent.mkdir(parents=True, exist_ok=True)
    # Test processes (pytest-xdist) build it once: the others wait, then find it.
    with (WACZ_VENV.parent / ".wacz-venv.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if wacz.exists():
            return wacz
        return _install_wacz(wacz)


def _install_wacz(wacz: Path) -> Path:
    subprocess.run(["python3", "-m", "venv", str(WACZ_VENV)], check=True, timeout=300)
    install = subprocess.run(
        [str(WACZ_VENV / "bin" / "pip"), "install", "--quiet", "wacz>=0.5"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if install.returncode != 0 or not wacz.exists():
        if in_ci():
            raise RuntimeError(f"wacz cannot be installed: {install.stderr[-500:]}")
        pytest.skip(f"wacz cannot be installed here: {install.stderr.strip()[-500:]}")
    return wacz


def chromium() -> Path:
    """Debian's chromium; a failure under CI (.ci/run installs it), a skip elsewhere."""
    if CHROMIUM.exists():
        return CHROMIUM
    if in_ci():
        pytest.fail("chromium is missing: .ci/run installs Debian's chromium package")
    pytest.skip("chromium is not installed (apt-get install chromium); CI installs it")


def chromium_dump_dom(url: str, profile: Path, timeout: float = 90) -> str:
    """The DOM of a page after headless chromium ran its scripts, kept off every outside host."""
    proc = subprocess.run(
        [
            str(chromium()),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--disable-extensions",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=10000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
