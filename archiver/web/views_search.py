"""The search page (/) and GET /api/search: results, facets with counts as links, pages."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from archiver.search import SearchQueryError, SearchResults
from archiver.web import cite
from archiver.web.base import (
    FACET_LIMIT,
    PER_PAGE,
    Views,
    article_url,
    hit_json,
    safe_snippet,
)
from archiver.web.params import ParamError, Params, month_range


class SearchViews(Views):
    """The search page and its JSON API."""

    # --- the search page -----------------------------------------------------------------
    async def home(self, request: Request) -> Response:
        """/: the search box, facets, results and pages."""
        params = Params.from_query(dict(request.query_params))
        context: dict[str, Any] = {"form": params.form(), "results": None, "error": None}
        context["active"] = params.filtered
        context["clear_url"] = params.url(
            site="", author="", lang="", **{"from": "", "to": ""}, page=1
        )
        context["api_url"] = params.url("/api/search")
        if params.searched:
            try:
                results = self.run_search(params)
            except (ParamError, SearchQueryError) as exc:
                context["error"] = str(exc)
                return self.render("search.html", status_code=400, **context)
            context.update(self._results_context(params, results))
        return self.render("search.html", **context)

    def _results_context(self, params: Params, results: SearchResults) -> dict[str, Any]:
        rows = [
            {
                "title": hit.title or hit.url,
                "url": hit.url,
                "site": hit.site,
                "published": hit.published,
                "captured_label": cite.captured_label(hit.captured),
                "snippet": safe_snippet(hit.snippet_html),
                "article_url": article_url(hit.url, hit.captured),
            }
            for hit in results.hits
        ]
        return {
            "results": results,
            "rows": rows,
            "first": (params.page - 1) * PER_PAGE + 1,
            "facets": self._facets(params, results),
            "pages": self._pages(params, results.total),
            "downloads": {
                kind: params.url(f"/download.{kind}", page=1) for kind in ("csv", "parquet", "wacz")
            },
        }

    def _facets(self, params: Params, results: SearchResults) -> list[dict[str, Any]]:
        facets = []
        for key, label in (("site", "Site"), ("language", "Language"), ("month", "Month")):
            items = []
            for value, count in results.facets.get(key, [])[:FACET_LIMIT]:
                if key == "month":
                    since, until = month_range(value)
                    href = params.url(page=1, **{"from": since, "to": until})
                    active = params.since == since and params.until == until
                else:
                    field_name = "site" if key == "site" else "lang"
                    href = params.url(page=1, **{field_name: value})
                    active = getattr(params, field_name) == value
                items.append({"value": value, "count": count, "href": href, "active": active})
            if items:
                facets.append({"label": label, "items": items})
        return facets

    def _pages(self, params: Params, total: int) -> list[dict[str, Any]]:
        last = max(1, -(-total // PER_PAGE))
        if last == 1:
            return []
        current = params.page
        shown = sorted({1, last, *range(max(1, current - 3), min(last, current + 3) + 1)})
        pages: list[dict[str, Any]] = []
        if current > 1:
            pages.append(
                {"label": "\u2039 previous", "href": params.url(page=current - 1), "rel": "prev"}
            )
        for number in shown:
            pages.append(
                {
                    "label": str(number),
                    "href": params.url(page=number),
                    "current": number == current,
                }
            )
        if current < last:
            pages.append(
                {"label": "next \u203a", "href": params.url(page=current + 1), "rel": "next"}
            )
        return pages

    async def api_search(self, request: Request) -> Response:
        """GET /api/search: {"total": N, "results": [...], "facets": {...}}."""
        params = Params.from_query(dict(request.query_params))
        try:
            results = self.run_search(params)
        except (ParamError, SearchQueryError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(
            {
                "total": results.total,
                "page": params.page,
                "per_page": PER_PAGE,
                "results": [hit_json(hit) for hit in results.hits],
                "facets": {k: [[v, n] for v, n in items] for k, items in results.facets.items()},
            }
        )
