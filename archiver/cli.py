"""The `archiver` command: one entry point, one subcommand per module in archiver/commands/."""

from __future__ import annotations

import importlib
import logging
import pkgutil
import sys
from typing import Any

import click

from archiver import __version__
from archiver.config import SettingError, load_settings

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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="news-archiver")
@click.option(
    "-s",
    "--set",
    "overrides",
    multiple=True,
    metavar="NAME=VALUE",
    help="Override a setting, as with `scrapy crawl -s` (repeatable).",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.pass_context
def cli(ctx: click.Context, overrides: tuple[str, ...], verbose: int) -> None:
    """news-archiver: crawl news into WARC archives on S3-compatible storage."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx.obj = Context(overrides, verbose)


def _register_commands() -> None:
    import archiver.commands as package

    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        command = getattr(module, "command", None)
        if isinstance(command, click.Command):
            cli.add_command(command)


_register_commands()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (for tests and the console script)."""
    try:
        result = cli.main(args=argv, prog_name="archiver", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return EXIT_FAILURE
    return int(result) if isinstance(result, int) else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
