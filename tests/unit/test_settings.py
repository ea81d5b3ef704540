"""Settings are declared once, commented, documented, and overridable from env and -s."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from archiver import config
from archiver.crawler import project
from tests.support.paths import ROOT

SETTINGS_PY = ROOT / "archiver" / "settings.py"
SETTINGS_DOC = ROOT / "docs" / "settings.md"


def _declared() -> list[tuple[str, int]]:
    tree = ast.parse(SETTINGS_PY.read_text(encoding="utf-8"))
    names = []
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id.startswith("ARCHIVER_"):
                    names.append((target.id, node.lineno))
    return names


def test_every_archiver_setting_is_declared_once_with_a_comment() -> None:
    declared = _declared()
    names = [n for n, _ in declared]
    assert len(names) == len(set(names)), "an ARCHIVER_ setting is declared twice"
    lines = SETTINGS_PY.read_text(encoding="utf-8").splitlines()
    for name, lineno in declared:
        above = lines[lineno - 2].strip()
        assert above.startswith("#"), f"{name} has no comment line above it"


def test_every_archiver_setting_is_documented() -> None:
    doc = SETTINGS_DOC.read_text(encoding="utf-8")
    missing = [name for name, _ in _declared() if f"`{name}`" not in doc]
    assert not missing, f"not in docs/settings.md: {missing}"


@pytest.mark.parametrize(
    ("raw", "default", "expected"),
    [
        ("true", False, True),
        ("OFF", True, False),
        ("1_000", 5, 1000),
        ("2.5", 1.0, 2.5),
        ("a, b,,c", [], ["a", "b", "c"]),
        ("s3-bucket", "", "s3-bucket"),
    ],
)
def test_environment_values_take_the_type_of_the_default(
    raw: str, default: object, expected: object
) -> None:
    assert config.coerce("ARCHIVER_X", raw, default) == expected


def test_bad_environment_values_are_refused_with_the_setting_name() -> None:
    with pytest.raises(config.SettingError, match="ARCHIVER_KEEP_LOCAL"):
        config.coerce("ARCHIVER_KEEP_LOCAL", "maybe", False)
    with pytest.raises(config.SettingError, match="ARCHIVER_WARC_MAX_SIZE"):
        config.coerce("ARCHIVER_WARC_MAX_SIZE", "1GB", 1)


def test_apply_environment_overrides_only_archiver_names() -> None:
    namespace = {"ARCHIVER_S3_BUCKET": "", "ARCHIVER_KEEP_LOCAL": False, "USER_AGENT": "x"}
    env = {"ARCHIVER_S3_BUCKET": "news", "ARCHIVER_KEEP_LOCAL": "yes", "USER_AGENT": "evil"}
    applied = config.apply_environment(namespace, env)
    assert sorted(applied) == ["ARCHIVER_KEEP_LOCAL", "ARCHIVER_S3_BUCKET"]
    assert namespace == {
        "ARCHIVER_S3_BUCKET": "news",
        "ARCHIVER_KEEP_LOCAL": True,
        "USER_AGENT": "x",
    }


def test_command_line_overrides_win_over_project_settings() -> None:
    settings = project.load_settings(["ARCHIVER_S3_BUCKET=from-cli", "ARCHIVER_WARC_MAX_SIZE=1234"])
    assert settings.get("ARCHIVER_S3_BUCKET") == "from-cli"
    assert settings.getint("ARCHIVER_WARC_MAX_SIZE") == 1234
    assert settings.getbool("ROBOTSTXT_OBEY") is True


def test_malformed_override_is_a_clear_error() -> None:
    with pytest.raises(config.SettingError, match="NAME=VALUE"):
        config.parse_overrides(["ARCHIVER_S3_BUCKET"])


def test_politeness_defaults() -> None:
    settings = project.load_settings()
    assert settings.getbool("ROBOTSTXT_OBEY")
    assert settings.getbool("AUTOTHROTTLE_ENABLED")
    assert settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN") <= 2
    agent = settings.get("USER_AGENT")
    assert agent.startswith("news-archiver/") and settings.get("ARCHIVER_CONTACT_URL") in agent


def test_list_settings_come_from_the_environment_as_comma_separated_values(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = "from archiver.crawler.project import load_settings; print(load_settings().getlist('ARCHIVER_CLEAN_RULES_DIRS'))"
    env = {"ARCHIVER_CLEAN_RULES_DIRS": "/srv/rules-a, /srv/rules-b", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "['/srv/rules-a', '/srv/rules-b']"
