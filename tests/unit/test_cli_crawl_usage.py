"""`archiver crawl` and `archiver status`: help, and the usage errors that stop them early."""

from __future__ import annotations

from pathlib import Path

import pytest

from archiver.cli import main
from tests.support.cli_crawl import archiver, sites_file


def in_process(
    *args: str, spool: Path, sites: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    """Run the CLI in this process (for commands that stop before crawling)."""
    command = archiver(*args, spool=spool, sites=sites)[3:]
    code = main(command)
    out, err = capsys.readouterr()
    return code, out, err


def test_help_and_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sites = sites_file(tmp_path / "sites.toml", "http://127.0.0.1:9")
    spool = tmp_path / "spool"
    for command in ("crawl", "status"):
        code, out, _ = in_process(command, "--help", spool=spool, sites=sites, capsys=capsys)
        assert code == 0 and "--json" in out
    code, _, err = in_process("crawl", spool=spool, sites=sites, capsys=capsys)
    assert code == 2 and "give --site NAME" in err
    code, _, err = in_process("crawl", "--site", "nope", spool=spool, sites=sites, capsys=capsys)
    assert code == 2 and "no site 'nope' (sites: sample, empty, broken, off)" in err
    bad = tmp_path / "bad.toml"
    bad.write_text('[sites.x]\nstart_urls = ["https://x.example/"]\nmax_pagez = 3\n')
    code, _, err = in_process("crawl", "--all", spool=spool, sites=bad, capsys=capsys)
    assert code == 2 and "site 'x': max_pagez: unknown key" in err
    absent = tmp_path / "absent.toml"
    code, _, err = in_process("crawl", "--all", spool=spool, sites=absent, capsys=capsys)
    assert code == 2 and "no such sites file" in err
    code, _, err = in_process("status", spool=spool, sites=bad, capsys=capsys)
    assert code == 2 and "max_pagez" in err
    assert not spool.exists()
