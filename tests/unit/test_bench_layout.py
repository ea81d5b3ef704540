"""bench/ holds benchmarks, not tests: pytest collects nothing from it."""

from __future__ import annotations

import subprocess
import sys

from tests.support.paths import ROOT


def test_pytest_collects_nothing_from_bench() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "bench"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # Exit code 5: no tests were collected.
    assert proc.returncode == 5, proc.stdout[-2000:]
