"""Unit tests: no servers, no crawls, fast (`make test-fast` runs them)."""
