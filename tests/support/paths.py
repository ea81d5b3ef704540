"""Where things are: the repository root and tests/, wherever a test file sits."""

from __future__ import annotations

from pathlib import Path

# tests/support/paths.py -> the repository root, the directory subprocesses run in.
ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
