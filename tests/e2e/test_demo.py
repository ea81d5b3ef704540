"""`make demo` end to end: it must keep working as the README promises."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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
    # The demo's own S3 server is gone with it: no data directory left behind.
    assert not (tmp_path / "demo" / "s3").exists()
