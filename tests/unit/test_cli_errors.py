"""The CLI's error layer on its own: which exception becomes which one-line message and exit
code (the same against the real SeaweedFS: tests/integration/test_cli_storage_errors.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from warcio.exceptions import ArchiveLoadFailed

from archiver.access import ArchiveDamage, WarcDamage
from archiver.commands._base import ConfigurationError, usage_errors
from archiver.commands._errors import explain
from archiver.config import SettingError


def _client_error(code: str, status: int, operation: str = "GetObject") -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": f"{code} message"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, operation)


CASES: list[tuple[BaseException, int, str]] = [
    (ReadTimeoutError(endpoint_url="http://127.0.0.1:9"), 1, "did not answer within"),
    (_client_error("AccessDenied", 403), 1, "access denied to GetObject"),
    (_client_error("InternalError", 500), 1, "try again later"),
    (_client_error("InvalidRange", 416), 1, "shorter than its index says"),
    (_client_error("NoSuchKey", 404), 1, "no such object"),
    (SettingError("ARCHIVER_S3_BUCKET: 'x' is not a bucket name"), 2, "ARCHIVER_S3_BUCKET"),
    (WarcDamage("damaged WARC record at f.warc.gz@12: cut short"), 1, "archiver verify"),
    (ArchiveDamage("the archive-wide index is damaged"), 1, "index is damaged"),
    (ArchiveLoadFailed("Unknown archive format, first line: \x1f\x8b\x08"), 1, "damaged data"),
    (json.JSONDecodeError("Expecting value", "{", 1), 1, "archiver reindex"),
    (FileNotFoundError(2, "No such file or directory", "out/x"), 1, "out/x: No such file"),
    (RuntimeError("a bug"), 1, "unexpected RuntimeError: a bug"),
]


@pytest.mark.parametrize(("exc", "code", "says"), CASES, ids=[type(c[0]).__name__ for c in CASES])
def test_each_failure_is_one_printable_line_with_its_exit_code(
    exc: BaseException, code: int, says: str
) -> None:
    error = explain(exc)
    message = error.format_message()
    assert error.exit_code == code
    assert says in message, message
    assert "\n" not in message and message.isprintable()


def test_usage_errors_are_one_line_exit_2_but_damage_is_not_a_usage_error() -> None:
    with pytest.raises(ConfigurationError) as info, usage_errors():
        raise ValueError("cannot read the date 'soon'")
    assert info.value.exit_code == 2 and info.value.format_message() == (
        "cannot read the date 'soon'"
    )
    for damage in (WarcDamage("w"), ArchiveDamage("i"), json.JSONDecodeError("x", "y", 0)):
        with pytest.raises(type(damage)), usage_errors():
            raise damage
