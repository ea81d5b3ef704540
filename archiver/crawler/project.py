"""Loading project settings the same way for `scrapy crawl` and every `archiver` command.

The settings module (archiver.settings) applies the settings file and the environment as it
loads; `-s` pairs come on top.  Both entry points then check every source for unknown
ARCHIVER_* names and bad values (check_settings) and make path settings absolute against
the working directory (resolve_paths), before a crawl or a child process starts.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy.settings import SETTINGS_PRIORITIES
from scrapy.utils.project import get_project_settings

from archiver.config import (
    CONFIG_ENV,
    ENV_PREFIX,
    PATH_SETTINGS,
    SETTINGS_MODULE,
    SettingError,
    absolute_path,
    check_names,
    check_sources,
    declared_settings,
    parse_overrides,
    resolve_overrides,
)

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

COMMAND_LINE = "-s on the command line"


def declared() -> dict[str, Any]:
    """The settings archiver/settings.py declares (with the file and environment applied)."""
    return declared_settings()


def known_settings() -> frozenset[str]:
    """Every ARCHIVER_* name declared in archiver/settings.py."""
    return frozenset(name for name in declared() if name.startswith(ENV_PREFIX))


def check_command_line(names: Iterable[str]) -> None:
    """Refuse unknown ARCHIVER_* names given with -s, and ARCHIVER_CONFIG (environment only)."""
    names = list(names)
    if CONFIG_ENV in names:
        raise SettingError(
            f"{CONFIG_ENV} is read from the environment only: {CONFIG_ENV}=PATH archiver ..."
        )
    check_names(names, known_settings(), COMMAND_LINE)


def check_settings(settings: BaseSettings) -> None:
    """Raise a SettingError for an unknown ARCHIVER_* name or a bad value in any source.

    Sources: -s (the names Settings holds at command-line priority), the environment and
    the settings file (read again, so their problems are found whatever loaded them).
    """
    defaults = declared()
    cmdline = SETTINGS_PRIORITIES["cmdline"]
    given = [name for name in settings if settings.getpriority(name) == cmdline]
    check_command_line(given)
    check_sources(defaults)
    known = frozenset(n for n in defaults if n.startswith(ENV_PREFIX))
    check_names(list(settings), known, "in the crawl's settings")


def resolve_paths(settings: BaseSettings, cwd: Path | None = None) -> None:
    """Make every path setting absolute against the working directory (same priority)."""
    base = Path.cwd() if cwd is None else cwd
    defaults = declared()
    for name in sorted(PATH_SETTINGS):
        current = settings.get(name)
        value = settings.getlist(name) if isinstance(defaults.get(name), list) else current
        resolved = absolute_path(value, base)
        if resolved != current:
            settings.set(name, resolved, priority=settings.getpriority(name) or "project")


def load_settings(overrides: Iterable[str] = ()) -> Any:
    """Project settings (scrapy.cfg or archiver.settings) plus `-s NAME=VALUE` overrides,
    checked (SettingError names an unknown or bad setting) and with absolute paths."""
    pairs = resolve_overrides(overrides)
    check_command_line(parse_overrides(pairs))
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", SETTINGS_MODULE)
    settings = get_project_settings()
    for name, value in parse_overrides(pairs).items():
        settings.set(name, value, priority="cmdline")
    check_settings(settings)
    resolve_paths(settings)
    return settings


class SettingsCheckAddon:
    """Scrapy add-on: a crawl with an unknown or bad setting stops before anything is fetched.

    `scrapy crawl` checks first and says why in one line (archiver.crawler.scrapy_commands);
    this covers crawls started from Python (CrawlerProcess), where it raises SettingError.
    """

    def update_settings(self, settings: BaseSettings) -> None:
        """Check every source of the crawl's settings and make its paths absolute."""
        check_settings(settings)
        resolve_paths(settings)
