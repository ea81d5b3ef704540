"""`scrapy crawl`, as Scrapy's, but a crawl that cannot start says why in one line.

Settings are checked (unknown ARCHIVER_* names, bad values) before the crawler exists;
a bad spider argument or sites file ends the run with one line and exit code 2; a crawl
whose every start URL failed to download ends with a one-line summary and exit code 1
(archiver.crawler.startup).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError

from archiver.config import SettingError
from archiver.crawler.project import check_settings, resolve_paths
from archiver.crawler.startup import EXIT_USAGE, StartOutcome, one_line, quiet_network_tracebacks

if TYPE_CHECKING:
    import argparse


class Command(ScrapyCrawlCommand):
    """Run a spider; bad settings and start-up errors in one line, non-zero exit codes."""

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        """Scrapy's options, then the settings checked and their paths made absolute."""
        super().process_options(args, opts)
        assert self.settings is not None
        try:
            check_settings(self.settings)
        except SettingError as exc:
            sys.stderr.write(f"Error: {one_line(exc)}\n")
            sys.exit(EXIT_USAGE)
        resolve_paths(self.settings)

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        """Crawl with the named spider; the exit code says how it went."""
        if not args:
            raise UsageError
        if len(args) > 1:
            raise UsageError("running 'scrapy crawl' with more than one spider is not supported")
        assert self.crawler_process is not None
        try:
            crawler = self._create_crawler(args[0])
        except KeyError as exc:
            sys.stderr.write(f"Error: {one_line(exc.args[0] if exc.args else exc)}\n")
            self.exitcode = EXIT_USAGE
            return
        quiet_network_tracebacks()
        outcome = StartOutcome()
        outcome.watch(self.crawler_process.crawl(crawler, **opts.spargs))
        self.crawler_process.start()
        self.exitcode = outcome.exit_code(crawler, self.crawler_process.bootstrap_failed)
