"""Downloads of a result set: /download.csv, /download.parquet and /download.wacz."""

from __future__ import annotations

import tempfile
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from archiver.search import Hit, SearchQueryError
from archiver.web import downloads
from archiver.web.base import (
    Views,
)
from archiver.web.params import ParamError, Params


class DownloadViews(Views):
    """Downloads of a result set: CSV, Parquet and WACZ."""

    def _all_hits(
        self, request: Request, cap: int, *, with_text: bool = False
    ) -> list[Hit] | Response:
        params = Params.from_query(dict(request.query_params))
        if not params.searched:
            return self.error(request, 400, "search first: a download holds a query's results")
        try:
            query = params.query(page=1)
            found = downloads.iter_hits(self.search_index.search, query, cap, with_text=with_text)
            return list(found)
        except (ParamError, SearchQueryError) as exc:
            return self.error(request, 400, str(exc))

    async def download_csv(self, request: Request) -> Response:
        """/download.csv?...: the query's rows (up to the cap) as CSV."""
        hits = await run_in_threadpool(self._all_hits, request, self.config.max_rows)
        if isinstance(hits, Response):
            return hits
        return Response(
            downloads.csv_bytes(hits),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": 'attachment; filename="articles.csv"'},
        )

    async def download_parquet(self, request: Request) -> Response:
        """/download.parquet?...: the query's rows (up to the cap) as Parquet, with the text."""
        hits = await run_in_threadpool(
            self._all_hits, request, self.config.max_rows, with_text=True
        )
        if isinstance(hits, Response):
            return hits
        data = await run_in_threadpool(downloads.parquet_bytes, hits)
        return Response(
            data,
            media_type="application/vnd.apache.parquet",
            headers={"content-disposition": 'attachment; filename="articles.parquet"'},
        )

    async def download_wacz(self, request: Request) -> Response:
        """/download.wacz?...: a WACZ of the query's captures (up to the cap)."""
        archive = self.config.archive
        if archive is None:
            return self.error(request, 503, "this server has no storage to read captures from")
        hits = await run_in_threadpool(self._all_hits, request, self.config.max_wacz_captures)
        if isinstance(hits, Response):
            return hits
        if not hits:
            return self.error(request, 404, "no results to package")
        title = "Search: " + (request.query_params.get("q") or "all articles")[:100]
        tmp = Path(tempfile.mkdtemp(prefix="archiver-serve-"))
        out = tmp / "results.wacz"
        try:
            await run_in_threadpool(downloads.export_hits, archive, hits, out, title)
        except (ValueError, ClientError, BotoCoreError) as exc:
            _remove(tmp)
            return self.error(request, 502, f"the WACZ could not be made: {exc}")
        return FileResponse(
            out,
            media_type="application/wacz",
            filename="results.wacz",
            background=BackgroundTask(_remove, tmp),
        )


def _remove(directory: Path) -> None:
    for path in directory.glob("*"):
        path.unlink(missing_ok=True)
    directory.rmdir()
