"""What a missing tool or file means: a failure under CI, a skip (saying why) elsewhere."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    """True under CI: `CI` is set to true (as CI services set it), 1 or yes."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> NoReturn:
    """Fail the test under CI, where everything must be there; skip it elsewhere."""
    if in_ci():
        pytest.fail(reason)
    pytest.skip(reason)
