"""The test suite: unit/, integration/ and e2e/ tests, and support/, the helpers they share."""

from __future__ import annotations

import pytest

# The shared helpers' plain asserts explain their failures as a test's own asserts do.
pytest.register_assert_rewrite("tests.support")
