"""The `shared` directory beside the repository: the cleaner's development sets and scorers.

It is not part of the repository.  A test that reads it calls `require_shared` first: a
missing file fails the test under CI and skips it elsewhere, naming the path.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.ci import unavailable
from tests.support.paths import ROOT

SHARED = ROOT.parent / "shared"


def require_shared(*paths: Path) -> None:
    """Skip (fail under CI) unless every path, inside ../shared, exists."""
    missing = [path for path in paths if not path.exists()]
    if missing:
        names = ", ".join(str(path) for path in missing)
        unavailable(
            f"{names} is missing: this test reads ../shared, the directory beside the "
            f"repository ({SHARED}); put it there to run the test (under CI it must be there)"
        )
