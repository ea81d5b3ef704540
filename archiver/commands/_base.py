"""What every subcommand shares: the context with the project settings, and the exit codes."""

from __future__ import annotations

from typing import Any

import click

from archiver.config import SettingError
from archiver.crawler.project import load_settings

EXIT_OK = 0
EXIT_FAILURE = 1  # the command ran and found a problem (failed upload, mismatch, ...)
EXIT_USAGE = 2  # bad arguments or settings; click uses 2 for usage errors too


class Context:
    """What every subcommand gets: the project settings with the -s overrides applied."""

    def __init__(self, overrides: tuple[str, ...], verbose: int) -> None:
        self.overrides = overrides
        self.verbose = verbose
        self._settings: Any = None

    @property
    def settings(self) -> Any:
        """Scrapy Settings, loaded once on first use."""
        if self._settings is None:
            try:
                self._settings = load_settings(self.overrides)
            except SettingError as exc:
                raise click.UsageError(str(exc)) from None
        return self._settings


pass_context = click.make_pass_decorator(Context)
