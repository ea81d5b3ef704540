"""One crawl's manifest.json: the files it closed (or adopted), their sidecars and uploads, its stats.

The manifest marks a crawl complete in storage; :class:`CrawlArchive` writes it when the
crawl ends for good, and uploads it after the crawl's files.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from archiver import SOFTWARE
from archiver.spool import MANIFEST_NAME, CrawlDir
from archiver.storage import UploadResult
from archiver.warc import ClosedWarc, warc_date

MANIFEST_VERSION = 1


def write_json(path: Path, doc: Mapping[str, Any]) -> None:
    """Write a JSON document atomically (a temporary file renamed over the target)."""
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


class CrawlManifest:
    """The files a crawl closed or adopted, their sidecars, and the manifest built from them."""

    def __init__(self, crawl_dir: CrawlDir) -> None:
        self.crawl_dir = crawl_dir
        self._closed_files: list[ClosedWarc] = []
        # Files an earlier process of this crawl closed and uploaded (resumed crawls).
        self._released_earlier: set[str] = set()
        self._sidecars: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        """Where the manifest is written: manifest.json in the crawl directory."""
        return self.crawl_dir.root / MANIFEST_NAME

    def add_closed(self, closed: ClosedWarc) -> None:
        """List a WARC this process closed."""
        with self._lock:
            self._closed_files.append(closed)

    def adopt(self, files: Sequence[ClosedWarc], released: Sequence[str] = ()) -> None:
        """List WARCs an earlier process closed; `released` names those it uploaded and deleted."""
        with self._lock:
            self._closed_files.extend(files)
            self._released_earlier.update(released)

    def set_sidecars(self, name: str, sidecars: Sequence[Path]) -> None:
        """Record the sidecar files (an index, say) written beside a closed WARC."""
        with self._lock:
            self._sidecars[name] = [p.name for p in sidecars]

    def build(
        self,
        results: Mapping[str, UploadResult],
        stats: Mapping[str, Any],
        finished: datetime,
        *,
        items: str | None,
        dataset: str | None = None,
        uploads_waiting: list[str],
        key_for: Callable[[str], str] | None,
    ) -> dict[str, Any]:
        """The manifest document; `key_for` is None when nothing is uploaded."""
        info = self.crawl_dir.info
        files = []
        for closed in sorted(self._closed_files, key=lambda c: c.name):
            uploaded = results.get(closed.name)
            files.append(
                {
                    "name": closed.name,
                    "key": key_for(closed.name) if key_for is not None else None,
                    "size": closed.size,
                    "sha256": closed.sha256,
                    "records": dict(closed.records),
                    "sidecars": self._sidecars.get(closed.name, []),
                    "first_date": warc_date(closed.first_date) if closed.first_date else None,
                    "last_date": warc_date(closed.last_date) if closed.last_date else None,
                    "uploaded": bool(uploaded and uploaded.verified)
                    or closed.name in self._released_earlier,
                }
            )
        return {
            "manifest_version": MANIFEST_VERSION,
            "software": SOFTWARE,
            "crawl_id": info.crawl_id,
            "spider": info.spider,
            "site": info.site,
            "start_urls": list(info.start_urls),
            "started": info.started.isoformat(),
            "finished": finished.isoformat(),
            "files": files,
            "items": items,
            # The article dataset (articles.parquet), None when the crawl archived no article.
            "dataset": dataset,
            "uploads_waiting": uploads_waiting,
            "stats": {str(k): v for k, v in stats.items()},
        }

    def write(self, doc: Mapping[str, Any]) -> Path:
        """Write the manifest into the crawl directory; returns its path."""
        write_json(self.path, doc)
        return self.path

    def read(self) -> dict[str, Any]:
        """The manifest written earlier, or {} when there is none."""
        path = self.path
        if not path.exists():
            return {}
        loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return loaded
