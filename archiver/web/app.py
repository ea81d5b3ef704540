"""The researchers' web page: an ASGI app (Starlette) over the search index and the archive.

Server-rendered HTML (Jinja2, every value escaped), a JSON API the page's data comes from,
downloads of a result set, one WARC record by range read, and a framed replay page whose
archived copy comes from pywb on another origin. Read-only: nothing here writes to storage.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from archiver.web.auth import AccessMiddleware
from archiver.web.base import STATIC_DIR, SecurityHeaders, WebConfig, origin_of
from archiver.web.views_capture import CaptureViews
from archiver.web.views_download import DownloadViews
from archiver.web.views_search import SearchViews


class Handlers(SearchViews, CaptureViews, DownloadViews):
    """Every view, sharing one open index."""


def create_app(config: WebConfig) -> Starlette:
    """The ASGI app; the search index opens at startup and closes at shutdown."""
    pages = Handlers(config)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        # Opened once per server; handlers use it from the event loop, downloads from threads.
        pages.index = config.open_index()
        try:
            yield
        finally:
            index, pages.index = pages.index, None
            index.close()

    routes = [
        Route("/", pages.home),
        Route("/article", pages.article),
        Route("/replay", pages.replay),
        Route("/record", pages.record),
        Route("/cite.bib", pages.cite_bib),
        Route("/cite.json", pages.cite_json),
        Route("/download.csv", pages.download_csv),
        Route("/download.parquet", pages.download_parquet),
        Route("/download.wacz", pages.download_wacz),
        Route("/api/search", pages.api_search),
        Route("/api/article", pages.api_article),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    frame_origin = origin_of(config.replay_base) if config.replay_base else None
    middleware = [
        Middleware(AccessMiddleware, policy=config.access),
        Middleware(SecurityHeaders, frame_origin=frame_origin),
    ]
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
