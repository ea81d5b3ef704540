"""What every subcommand shares: the context with the project settings, the exit codes, the
errors and options several subcommands use, and the size formatting of their reports."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from archiver.access import ArchiveDamage
from archiver.cleaning import RuleBook, RuleError, load_rulebook
from archiver.config import SettingError, resolve_overrides
from archiver.crawler.project import load_settings

EXIT_OK = 0
EXIT_FAILURE = 1  # the command ran and found a problem (failed upload, mismatch, ...)
EXIT_USAGE = 2  # bad arguments or settings; click uses 2 for usage errors too

RULES_SETTING = "ARCHIVER_CLEAN_RULES_DIRS"


class Context:
    """What every subcommand gets: the project settings with the -s overrides applied."""

    def __init__(self, overrides: tuple[str, ...], verbose: int) -> None:
        # -s pairs given before and after the subcommand; path values absolute once loaded.
        self.overrides = tuple(overrides)
        self.verbose = verbose
        self._settings: Any = None

    def add_overrides(self, pairs: tuple[str, ...]) -> None:
        """-s pairs given after the subcommand's name (they win over those before it)."""
        self.overrides = (*self.overrides, *pairs)

    @property
    def settings(self) -> Any:
        """Scrapy Settings, loaded and checked once on first use (ConfigurationError, exit 2)."""
        if self._settings is None:
            try:
                self.overrides = resolve_overrides(self.overrides)
                self._settings = load_settings(self.overrides)
            except SettingError as exc:
                raise ConfigurationError(str(exc)) from None
        return self._settings


pass_context = click.make_pass_decorator(Context)

SETTINGS_HELP = "Override a setting, as with `scrapy crawl -s` (repeatable)."


def _subcommand_overrides(ctx: click.Context, _param: click.Parameter, pairs: Any) -> None:
    context = ctx.find_object(Context)
    if context is None:
        return
    context.add_overrides(tuple(pairs or ()))
    # Every command checks its settings (unknown names, bad values) before it does anything.
    _ = context.settings


def add_settings_option(command: click.Command) -> None:
    """Give a subcommand `-s NAME=VALUE` after its name, as `scrapy crawl` takes it."""
    command.params.append(
        click.Option(
            ["-s", "--set", "subcommand_overrides"],
            multiple=True,
            metavar="NAME=VALUE",
            expose_value=False,
            callback=_subcommand_overrides,
            help=SETTINGS_HELP,
        )
    )


class ConfigurationError(click.ClickException):
    """A sites file or setting that makes the command impossible (exit code 2)."""

    exit_code = EXIT_USAGE


@contextmanager
def usage_errors() -> Iterator[None]:
    """Report a bad setting or argument met inside the block in one line, exit code 2.

    Damaged data (a WARC record, JSON, text that does not decode) is no usage error: it goes
    on to the error layer (archiver/commands/_errors.py), exit code 1.
    """
    try:
        yield
    except (ArchiveDamage, json.JSONDecodeError, UnicodeDecodeError):
        raise
    except (SettingError, ValueError) as exc:
        raise ConfigurationError(str(exc)) from None


def human_size(size: int) -> str:
    """A byte count for people: 512 B, 1.5 KiB, 3.2 MiB, 1.1 GiB."""
    if size < 1024:
        return f"{size} B"
    value = size / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def load_rules_option(ctx: Context, dirs: tuple[str | Path, ...]) -> RuleBook | None:
    """Rules with the site files of ARCHIVER_CLEAN_RULES_DIRS and --rules; None: packaged only."""
    every = [*ctx.settings.getlist(RULES_SETTING), *dirs]
    if not every:
        return None
    try:
        return load_rulebook(every)
    except (RuleError, OSError) as exc:
        raise click.UsageError(f"cannot load rules: {exc}") from None


F = TypeVar("F", bound=Callable[..., Any])


def slice_options(command: F) -> F:
    """The options naming a slice of the archive, shared by fetch and export-wacz:
    --crawl ID, or --site HOST with --from/--to."""
    for option in reversed(
        (
            click.option("--crawl", "crawl_id", metavar="ID", help="One crawl."),
            click.option(
                "--site",
                metavar="HOST",
                help="Captures of this host or domain (subdomains too), via the index.",
            ),
            click.option(
                "--from",
                "since",
                metavar="DATE",
                help="First capture date or timestamp (with --site).",
            ),
            click.option(
                "--to",
                "until",
                metavar="DATE",
                help="Last capture date or timestamp (with --site).",
            ),
        )
    ):
        command = option(command)
    return command


def check_slice_options(
    crawl_id: str | None, site: str | None, since: str | None, until: str | None
) -> None:
    """--crawl ID, or --site S with --from and --to; a UsageError otherwise."""
    if crawl_id is None and site is None:
        raise click.UsageError("choose a slice: --crawl ID, or --site S --from DATE --to DATE")
    if crawl_id is None and not (since and until):
        raise click.UsageError("--site needs --from and --to")
