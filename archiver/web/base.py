"""What the page's views share: the config, the open search index, the templates, links."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from archiver.index import ArchiveIndex
from archiver.search import Hit, SearchIndex, SearchResults
from archiver.web.auth import AccessPolicy
from archiver.web.params import Params

logger = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).parent / "static"
PER_PAGE = 20
FACET_LIMIT = 12
# Only <mark> and </mark> may stay tags in a snippet; any other "<" is shown as text.
_NOT_MARK = re.compile(r"<(?!/?mark>)")


@dataclass
class WebConfig:
    """What the app serves from: the search index, the archive, and pywb for replay."""

    open_index: Callable[[], SearchIndex]
    archive: ArchiveIndex | None = None
    # pywb's collection URL (http://127.0.0.1:PORT/news/); None: replay is not enabled.
    replay_base: str | None = None
    replay_venv: str = "var/pywb-venv"
    access: AccessPolicy = field(default_factory=AccessPolicy)
    max_rows: int = 10_000
    max_wacz_captures: int = 500
    max_record_bytes: int = 64 * 1024 * 1024


def safe_snippet(snippet_html: str) -> str:
    """A snippet with every tag but <mark> escaped (the index escapes already; this is a guard)."""
    return _NOT_MARK.sub("&lt;", snippet_html)


def article_url(url: str, captured: str) -> str:
    """The article page of one capture."""
    return "/article?" + urlencode({"url": url, "at": captured})


def replay_page_url(url: str, captured: str) -> str:
    """The framed replay page of one capture."""
    return "/replay?" + urlencode({"url": url, "at": captured})


def record_url(hit: Hit) -> str:
    """The WARC record download of a capture."""
    return "/record?" + urlencode(
        {"key": hit.warc_key, "offset": hit.warc_offset, "length": hit.warc_length}
    )


def hit_json(hit: Hit) -> dict[str, Any]:
    """A hit as the JSON API gives it."""
    return {
        "url": hit.url,
        "title": hit.title,
        "site": hit.site,
        "authors": list(hit.authors),
        "published": hit.published,
        "captured": hit.captured,
        "language": hit.language,
        "snippet": safe_snippet(hit.snippet_html),
        "article_url": article_url(hit.url, hit.captured),
        "replay_url": replay_page_url(hit.url, hit.captured),
        "warc": {"key": hit.warc_key, "offset": hit.warc_offset, "length": hit.warc_length},
    }


class SecurityHeaders:
    """ASGI middleware: a strict Content-Security-Policy (scripts from /static only, frames
    only from pywb's origin), no sniffing, no referrer."""

    def __init__(self, app: ASGIApp, frame_origin: str | None) -> None:
        self.app = app
        frames = frame_origin or "'none'"
        self.headers = [
            (
                b"content-security-policy",
                (
                    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                    f"frame-src {frames}; object-src 'none'; base-uri 'none'; "
                    "form-action 'self'; frame-ancestors 'none'"
                ).encode(),
            ),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *self.headers]}
            await send(message)

        await self.app(scope, receive, with_headers)


def origin_of(url: str) -> str:
    """scheme://host:port of a URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class Views:
    """The base of the request handlers: the config, the open index and the templates."""

    def __init__(self, config: WebConfig) -> None:
        self.config = config
        self.index: SearchIndex | None = None
        self.env = Environment(
            loader=PackageLoader("archiver.web", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
        )
        self.env.globals["static"] = lambda name: f"/static/{quote(name)}"

    # --- helpers -------------------------------------------------------------------------
    @property
    def search_index(self) -> SearchIndex:
        """The index opened at startup (opened now if the app runs without its lifespan)."""
        if self.index is None:
            self.index = self.config.open_index()
        return self.index

    def render(self, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        """A template rendered to an HTML response."""
        context.setdefault("form", None)
        return HTMLResponse(self.env.get_template(name).render(**context), status_code=status_code)

    def error(self, request: Request, status: int, message: str) -> Response:
        """An error as JSON for /api/ paths, else as a page."""
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": message}, status_code=status)
        return self.render("error.html", status_code=status, status=status, message=message)

    def run_search(self, params: Params) -> SearchResults:
        """The page of results params ask for (ParamError, SearchQueryError)."""
        return self.search_index.search(params.query(per_page=PER_PAGE))
