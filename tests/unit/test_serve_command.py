"""`archiver serve`'s refusals and its password helper, without a server."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from archiver.cli import cli, main
from archiver.search import SearchIndex, SearchIndexBusy
from archiver.web import verify_password


def test_serve_without_a_bucket_says_so_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["-s", "ARCHIVER_S3_BUCKET=", "serve", "--no-sync"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines() == [
        "Error: no bucket configured: set ARCHIVER_S3_BUCKET (or -s ARCHIVER_S3_BUCKET=NAME)"
    ]


def test_serve_on_a_taken_port_says_so_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        code = main(["-s", "ARCHIVER_S3_BUCKET=bucket", "serve", "--no-sync", "--port", str(port)])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert f"Error: cannot listen on 127.0.0.1:{port}:" in err
    assert "Traceback" not in err


def test_bad_users_setting_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "-s",
            "ARCHIVER_S3_BUCKET=bucket",
            "-s",
            "ARCHIVER_SERVE_USERS=ada:secret",
            "serve",
            "--no-sync",
        ]
    )
    assert code == 2
    assert "ARCHIVER_SERVE_USERS takes USER:HASH entries" in capsys.readouterr().err


def test_hash_password_prints_a_hash_that_verifies() -> None:
    result = CliRunner().invoke(cli, ["serve", "--hash-password"], input="s3cret\ns3cret\n")
    assert result.exit_code == 0, result.output
    stored = result.stdout.strip().splitlines()[-1]
    assert stored.startswith("scrypt$")
    assert verify_password("s3cret", stored) and not verify_password("other", stored)


def test_a_busy_search_index_is_one_line_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Error path only: another process holding the index's writer is stood in for by a sync
    # that raises what the engine raises then.
    def busy(*_args: object) -> None:
        raise SearchIndexBusy("the search index in var/search is being updated by another process")

    monkeypatch.setattr(SearchIndex, "sync", busy)
    code = main(
        [
            "-s",
            "ARCHIVER_S3_BUCKET=bucket",
            "-s",
            f"ARCHIVER_SEARCH_CACHE_DIR={tmp_path / 'search'}",
            "serve",
        ]
    )
    err = capsys.readouterr().err
    assert code != 0
    assert "being updated by another process" in err and "--no-sync" in err
    assert "Traceback" not in err
