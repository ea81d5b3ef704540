"""The live lines of `archiver crawl` in a terminal: sites done, and per running site its
pages, articles, rate and errors, read from the progress file each crawl writes
(ARCHIVER_PROGRESS_FILE, written by archiver.crawler.progress)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

PROGRESS_NAME = "progress.json"
# How often the lines are redrawn from the files the crawls rewrite once a second.
POLL_SECONDS = 0.5


def read_progress(path: Path) -> dict[str, Any] | None:
    """The counts a crawl last wrote; None before its first write or when unreadable."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def progress_line(site: str, doc: dict[str, Any] | None) -> str:
    """One site's live line: `NAME: 42 pages, 12 articles, 3.1 pages/s, 0 errors`."""
    if doc is None:
        return f"{site}: starting"
    pages = int(doc.get("pages") or 0)
    elapsed = float(doc.get("elapsed") or 0.0)
    rate = pages / elapsed if elapsed > 0 else 0.0
    return (
        f"{site}: {pages} pages, {int(doc.get('articles') or 0)} articles, "
        f"{rate:.1f} pages/s, {int(doc.get('errors') or 0)} errors"
    )


class LiveLines:
    """A rich display on stderr: the sites done, and a live line per running site."""

    def __init__(self, sites: dict[str, Path]) -> None:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.files = sites
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
        )
        self._count = len(sites)
        self._done = 0
        self._total = self._progress.add_task(self._summary(), total=None)
        self._tasks: dict[str, Any] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._poll, name="crawl-live", daemon=True)

    def start(self) -> None:
        """Show the lines and start redrawing them."""
        self._progress.start()
        self._thread.start()

    def site_done(self, site: str) -> None:
        """Count a site as done and drop its live line."""
        with self._lock:
            task = self._tasks.pop(site, None)
            if task is not None:
                self._progress.remove_task(task)
            self.files.pop(site, None)
            self._done += 1
            self._progress.update(self._total, description=self._summary())

    def _summary(self) -> str:
        return f"sites done: {self._done}/{self._count}"

    def _poll(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            with self._lock:
                for site, path in self.files.items():
                    doc = read_progress(path)
                    if doc is None and site not in self._tasks:
                        continue  # not started yet (waiting for a slot or its lock)
                    line = progress_line(site, doc)
                    task = self._tasks.get(site)
                    if task is None:
                        self._tasks[site] = self._progress.add_task(line, total=None)
                    else:
                        self._progress.update(task, description=line)

    def stop(self) -> None:
        """Stop redrawing and take the lines off the screen."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._progress.stop()
