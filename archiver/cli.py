"""The `archiver` command: one entry point, one subcommand per module in archiver/commands/."""

from __future__ import annotations

import logging
import sys

import click

from archiver import __version__
from archiver.commands import (
    articles,
    clean,
    crawl,
    export_wacz,
    extract,
    fetch,
    find,
    get,
    ls,
    reindex,
    replay,
    search,
    serve,
    status,
    storage,
    upload,
    verify,
)
from archiver.commands._base import (
    EXIT_FAILURE,
    EXIT_OK,
    SETTINGS_HELP,
    Context,
    add_settings_option,
)
from archiver.commands._errors import ErrorReportingGroup


@click.group(cls=ErrorReportingGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="news-archiver")
@click.option(
    "-s",
    "--set",
    "overrides",
    multiple=True,
    metavar="NAME=VALUE",
    help=SETTINGS_HELP,
)
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="More log output (-vv for debug); errors show their traceback.",
)
@click.pass_context
def cli(ctx: click.Context, overrides: tuple[str, ...], verbose: int) -> None:
    """news-archiver: crawl news into WARC archives on S3-compatible storage."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx.obj = Context(overrides, verbose)


for _module in (
    articles,
    clean,
    crawl,
    export_wacz,
    extract,
    fetch,
    find,
    get,
    ls,
    reindex,
    replay,
    search,
    serve,
    status,
    storage,
    upload,
    verify,
):
    cli.add_command(_module.command)
for _command in cli.commands.values():
    # `-s` after the subcommand too: `archiver ls -s NAME=VALUE` as `archiver -s NAME=VALUE ls`.
    add_settings_option(_command)


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
