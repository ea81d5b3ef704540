"""What the tests share: paths, CI rules, the S3 bucket fixture's type, crawl commands, tools.

Nothing here is a test.  Test modules import from here and never from one another; the
fixtures themselves stay in tests/conftest.py (and the test modules that alone use them).
"""

from __future__ import annotations
