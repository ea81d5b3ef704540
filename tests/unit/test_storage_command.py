"""`archiver storage --write-config`: the endpoint and bucket added to the settings file,
never overwriting what the user wrote there."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from archiver.commands._base import ConfigurationError
from archiver.commands.storage import default_data_dir, write_config

VALUES = {"ARCHIVER_S3_ENDPOINT_URL": "http://127.0.0.1:8333", "ARCHIVER_S3_BUCKET": "b"}


def test_settings_are_added_once_and_the_users_own_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "archiver.toml"
    assert write_config(path, VALUES) == list(VALUES)
    assert tomllib.loads(path.read_text()) == VALUES
    assert write_config(path, VALUES) == []
    path.write_text('ARCHIVER_WARC_DIR = "spool"\nARCHIVER_S3_BUCKET = "b"')
    assert write_config(path, VALUES) == ["ARCHIVER_S3_ENDPOINT_URL"]
    assert tomllib.loads(path.read_text()) == {**VALUES, "ARCHIVER_WARC_DIR": "spool"}


def test_a_different_value_in_the_file_is_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "archiver.toml"
    path.write_text('ARCHIVER_S3_BUCKET = "mine"\n')
    with pytest.raises(ConfigurationError, match="already sets ARCHIVER_S3_BUCKET = 'mine'"):
        write_config(path, VALUES)
    assert path.read_text() == 'ARCHIVER_S3_BUCKET = "mine"\n'


def test_the_data_directory_defaults_to_the_xdg_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", "/data")
    assert default_data_dir() == Path("/data/news-archiver/s3")
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_data_dir() == Path.home() / ".local/share/news-archiver/s3"
