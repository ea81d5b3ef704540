"""Where settings come from: -s (before or after the subcommand), the environment, the settings
file; every ARCHIVER_* name checked against those declared; path settings made absolute."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from archiver import config
from archiver.cli import cli, main
from archiver.commands._base import Context
from archiver.crawler import project
from archiver.crawler.netguard import AddressGuard, Refusal, refusal_message
from archiver.operations import SitesError, parse_sites

SHOW = (
    "import sys; from archiver.crawler.project import load_settings; "
    "s = load_settings(sys.argv[1:]); "
    "print(*(s.get(n) for n in ('ARCHIVER_S3_BUCKET', 'ARCHIVER_S3_PREFIX', "
    "'ARCHIVER_OPERATOR', 'ARCHIVER_WARC_PREFIX', 'ARCHIVER_WARC_DIR', 'DOWNLOAD_DELAY')), sep='|')"
)


def show_settings(cwd: Path, env: dict[str, str], *overrides: str) -> list[str]:
    """The settings a fresh process loads in cwd with this environment and these -s pairs."""
    out = subprocess.run(
        [sys.executable, "-c", SHOW, *overrides],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "SCRAPY_SETTINGS_MODULE": "archiver.settings", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip().split("|")


def test_precedence_is_command_line_then_environment_then_file_then_defaults(
    tmp_path: Path,
) -> None:
    (tmp_path / "archiver.toml").write_text(
        'ARCHIVER_S3_BUCKET = "file-bucket"\n'
        'ARCHIVER_S3_PREFIX = "file-prefix"\n'
        'ARCHIVER_OPERATOR = "file-operator"\n'
        'ARCHIVER_WARC_DIR = "spool"\n'
        "DOWNLOAD_DELAY = 2.5\n",
        encoding="utf-8",
    )
    env = {"ARCHIVER_S3_PREFIX": "env-prefix", "ARCHIVER_OPERATOR": "env-operator"}
    bucket, prefix, operator, warc_prefix, warc_dir, delay = show_settings(
        tmp_path, env, "ARCHIVER_OPERATOR=cli-operator"
    )
    assert bucket == "file-bucket"  # file over default
    assert prefix == "env-prefix"  # environment over file
    assert operator == "cli-operator"  # command line over environment
    assert warc_prefix == "news"  # the default, where nothing else gives one
    assert warc_dir == str(tmp_path.resolve() / "spool")
    assert float(delay) == 2.5  # Scrapy settings too


def test_archiver_config_names_the_file_and_its_paths_are_relative_to_it(tmp_path: Path) -> None:
    deploy = tmp_path / "deploy"
    deploy.mkdir()
    (deploy / "settings.toml").write_text('ARCHIVER_WARC_DIR = "spool"\n', encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # Ignored: ARCHIVER_CONFIG names another file.
    (elsewhere / "archiver.toml").write_text('ARCHIVER_S3_BUCKET = "ignored"\n', encoding="utf-8")
    values = show_settings(elsewhere, {"ARCHIVER_CONFIG": "../deploy/settings.toml"})
    assert values[0] == ""
    assert values[4] == str(deploy.resolve() / "spool")


def test_unknown_command_line_name_names_the_closest_setting() -> None:
    with pytest.raises(
        config.SettingError,
        match=r"^unknown setting ARCHIVER_S3_BUKET \(-s on the command line\): "
        r"did you mean ARCHIVER_S3_BUCKET\?$",
    ):
        project.load_settings(["ARCHIVER_S3_BUKET=news"])


def test_unknown_environment_names_are_problems_with_the_closest_name(tmp_path: Path) -> None:
    env = {"ARCHIVER_ALLOWED_NETWORK": "127.0.0.0/8", "ARCHIVER_NOTHING_LIKE_IT": "1"}
    problems = [str(p) for p in config.read_sources(project.declared(), env, tmp_path).problems]
    assert problems == [
        "unknown setting ARCHIVER_ALLOWED_NETWORK (in the environment): "
        "did you mean ARCHIVER_ALLOWED_NETWORKS?",
        "unknown setting ARCHIVER_NOTHING_LIKE_IT (in the environment): see docs/settings.md",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'ARCHIVER_S3_BUKET = "x"\n',
            "unknown setting ARCHIVER_S3_BUKET (in the settings file): did you mean ARCHIVER_S3_BUCKET?",
        ),
        (
            's3_bucket = "x"\n',
            "'s3_bucket' is not a setting name (names are upper case): did you mean ARCHIVER_S3_BUCKET?",
        ),
        (
            'ARCHIVER_WARC_MAX_SIZE = "1GB"\n',
            "ARCHIVER_WARC_MAX_SIZE: expected an integer, got '1GB'",
        ),
        (
            "ARCHIVER_KEEP_LOCAL = 1\n",
            "ARCHIVER_KEEP_LOCAL: expected a bool like the default False, got 1",
        ),
        (
            'ARCHIVER_CONFIG = "other.toml"\n',
            "ARCHIVER_CONFIG names the settings file; it cannot be in one",
        ),
        ("ARCHIVER_S3_BUCKET = \n", "not valid TOML"),
    ],
)
def test_settings_file_problems_name_the_file_and_the_setting(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "archiver.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(config.SettingError) as caught:
        config.check_sources(project.declared(), {}, tmp_path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_a_named_settings_file_that_is_missing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(config.SettingError, match=r"missing\.toml: no such settings file"):
        config.check_sources(project.declared(), {"ARCHIVER_CONFIG": "missing.toml"}, tmp_path)


def test_settings_file_values_take_the_types_of_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "archiver.toml"
    path.write_text(
        'ARCHIVER_S3_READ_TIMEOUT = 30\nARCHIVER_KEEP_LOCAL = "yes"\n'
        'ARCHIVER_CLEAN_RULES_DIRS = ["rules", "/srv/rules"]\n'
        '[DOWNLOADER_MIDDLEWARES]\n"x.Y" = 100\n',
        encoding="utf-8",
    )
    values = config.read_settings_file(path, project.declared())
    assert values["ARCHIVER_S3_READ_TIMEOUT"] == 30.0
    assert isinstance(values["ARCHIVER_S3_READ_TIMEOUT"], float)
    assert values["ARCHIVER_KEEP_LOCAL"] is True
    assert values["ARCHIVER_CLEAN_RULES_DIRS"] == [str(tmp_path / "rules"), "/srv/rules"]
    assert values["DOWNLOADER_MIDDLEWARES"] == {"x.Y": 100}


def test_archiver_config_is_refused_on_the_command_line() -> None:
    with pytest.raises(config.SettingError, match="read from the environment only"):
        project.load_settings(["ARCHIVER_CONFIG=archiver.toml"])


def test_every_subcommand_takes_s_after_its_name() -> None:
    without = [
        name
        for name, command in cli.commands.items()
        if not any("-s" in param.opts for param in command.params)
    ]
    assert without == []


@pytest.mark.parametrize(
    "argv",
    [
        ["-s", "ARCHIVER_S3_BUKET=news", "ls"],
        ["ls", "-s", "ARCHIVER_S3_BUKET=news"],
        ["clean", "-s", "ARCHIVER_S3_BUKET=news", "page.html"],
    ],
)
def test_a_misspelt_setting_stops_any_command_with_the_closest_name(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "Error: unknown setting ARCHIVER_S3_BUKET (-s on the command line): "
        "did you mean ARCHIVER_S3_BUCKET?"
    ]


def test_an_environment_typo_stops_a_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ARCHIVER_KEEP_LOCALS", "true")
    assert main(["status"]) == 2
    assert "did you mean ARCHIVER_KEEP_LOCAL?" in capsys.readouterr().err


def test_s_after_the_subcommand_is_applied_with_its_path_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["crawl", "--all", "-s", "ARCHIVER_SITES_FILE=conf/sites.toml"]) == 2
    err = capsys.readouterr().err
    assert f"{Path.cwd() / 'conf' / 'sites.toml'}: no such sites file" in err


def test_path_settings_are_absolute_against_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    cwd = Path.cwd()
    settings = project.load_settings(
        ["ARCHIVER_WARC_DIR=spool", "ARCHIVER_CLEAN_RULES_DIRS=rules,/srv/rules"]
    )
    assert settings.get("ARCHIVER_WARC_DIR") == str(cwd / "spool")
    assert settings.getlist("ARCHIVER_CLEAN_RULES_DIRS") == [str(cwd / "rules"), "/srv/rules"]
    # Defaults too: these are where a child process started elsewhere must look.
    assert settings.get("ARCHIVER_REPLAY_VENV") == str(cwd / "var" / "pywb-venv")
    assert settings.get("ARCHIVER_SITES_FILE") == str(cwd / "sites.toml")
    assert settings.get("ARCHIVER_INDEX_CACHE_DIR") == ""  # empty keeps its meaning


def test_the_overrides_children_get_hold_absolute_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    ctx = Context(("ARCHIVER_WARC_DIR=spool", "ARCHIVER_S3_PREFIX=a/b"), verbose=0)
    ctx.add_overrides(("ARCHIVER_SITES_FILE=sites/news.toml",))
    assert ctx.settings is not None
    assert ctx.overrides == (
        f"ARCHIVER_WARC_DIR={Path.cwd() / 'spool'}",
        "ARCHIVER_S3_PREFIX=a/b",
        f"ARCHIVER_SITES_FILE={Path.cwd() / 'sites' / 'news.toml'}",
    )


def test_sites_file_keys_suggest_the_closest_one(tmp_path: Path) -> None:
    text = '[sites.ledger]\nstart_urls = ["https://ledger.example/"]\nmax_page = 3\n'
    with pytest.raises(SitesError, match=r"max_page: unknown key \(did you mean max_pages\?"):
        parse_sites(text, tmp_path / "sites.toml")


def test_settings_in_the_sites_file_are_refused_with_the_closest_name(tmp_path: Path) -> None:
    text = '[sites.ledger]\nstart_urls = ["https://ledger.example/"]\nARCHIVER_S3_BUKET = "x"\n'
    with pytest.raises(
        SitesError, match=r"ARCHIVER_S3_BUKET: no setting \(did you mean ARCHIVER_S3_BUCKET\?\)"
    ):
        parse_sites(text, tmp_path / "sites.toml")


def test_the_address_guard_refusal_names_the_setting_that_allows_the_host() -> None:
    message = refusal_message("localhost", Refusal("127.0.0.1", "loopback"), AddressGuard())
    assert "ARCHIVER_ALLOWED_NETWORKS (now: none)" in message
    assert message.endswith("to allow it: -s ARCHIVER_ALLOWED_NETWORKS=127.0.0.0/8")


def test_the_project_sets_no_deprecated_scrapy_setting() -> None:
    settings = project.load_settings()
    # Scrapy 2.19 warns in every crawl when RANDOMIZE_DOWNLOAD_DELAY is set above its default.
    assert settings.getpriority("RANDOMIZE_DOWNLOAD_DELAY") == 0
    assert settings.getfloat("DOWNLOAD_DELAY_JITTER") == 0.5


def test_the_crawl_add_on_stops_a_crawl_with_an_unknown_name() -> None:
    # What a crawl started from Python (CrawlerProcess) meets before anything is fetched.
    settings = project.load_settings()
    settings.set("ARCHIVER_S3_BUKET", "news", priority="spider")
    with pytest.raises(config.SettingError, match=r"did you mean ARCHIVER_S3_BUCKET\?$"):
        project.SettingsCheckAddon().update_settings(settings)
