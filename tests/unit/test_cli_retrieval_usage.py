"""The retrieval commands (ls, find, get, fetch, ...): help, and no bucket is a usage error."""

from __future__ import annotations

import pytest

from tests.support.retrieval import run

COMMANDS = ["ls", "find", "get", "fetch", "verify", "export-wacz", "replay", "reindex"]


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help(capsys: pytest.CaptureFixture[str], name: str) -> None:
    code, out, _ = run(capsys, None, name, "--help")
    assert code == 0 and "Usage: archiver " + name in out


@pytest.mark.parametrize(
    "args", [["find", "http://example.com/"], ["ls"], ["get", "http://example.com/"], ["verify"]]
)
def test_no_bucket_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.delenv("ARCHIVER_S3_BUCKET", raising=False)
    code, _, err = run(capsys, None, *args)
    assert code == 2 and "ARCHIVER_S3_BUCKET" in err
