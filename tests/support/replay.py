"""`archiver replay` run as the tests run it: a subprocess that prints the replay URLs."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.paths import ROOT
from tests.support.tools import PYWB_VENV, pywb_bin


@dataclass
class RunningReplay:
    """The `archiver replay` process, its base URL and the page URL it printed."""

    proc: subprocess.Popen[str]
    url: str
    page_url: str


@contextmanager
def archiver_replay(
    settings: Sequence[str], env: dict[str, str], workdir: Path, page: str
) -> Iterator[RunningReplay]:
    """Start `archiver replay --url PAGE` over the archive the settings name; stop it after."""
    pywb_bin()  # built (or skipped) before the command would build it
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "archiver",
            *settings,
            "-s",
            f"ARCHIVER_REPLAY_VENV={PYWB_VENV}",
            "replay",
            "--dir",
            str(workdir),
            "--url",
            page,
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        page_url = proc.stdout.readline().strip()
        if not url:
            proc.wait(timeout=30)
            pytest.fail(
                f"archiver replay printed no URL: {proc.stderr.read() if proc.stderr else ''}"
            )
        yield RunningReplay(proc, url, page_url)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
