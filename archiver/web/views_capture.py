"""One capture: /article, /api/article, /cite.bib, /cite.json, /replay and /record."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from urllib.parse import urlencode

from botocore.exceptions import BotoCoreError, ClientError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from archiver.search import Hit, SearchQueryError
from archiver.web import cite, downloads
from archiver.web.base import (
    Views,
    article_url,
    hit_json,
    record_url,
    replay_page_url,
)

logger = logging.getLogger(__name__)


class CaptureViews(Views):
    """One capture: its article page, JSON, citations, replay page and WARC record."""

    def _capture(self, request: Request) -> tuple[Hit, str] | Response:
        url = request.query_params.get("url", "")
        at = request.query_params.get("at") or None
        if not url:
            return self.error(request, 400, "which article? give ?url= (and ?at= a capture time)")
        try:
            found = self.search_index.article_text(url, at)
        except SearchQueryError as exc:
            return self.error(request, 400, str(exc))
        if found is None:
            return self.error(request, 404, "no archived article has this URL")
        return found

    async def article(self, request: Request) -> Response:
        """/article?url=&at=: clean text, metadata, citation, other captures, links."""
        found = self._capture(request)
        if isinstance(found, Response):
            return found
        hit, text = found
        captures = [
            {
                "label": cite.captured_label(c.captured),
                "href": article_url(c.url, c.captured),
                "current": c.record_id == hit.record_id,
            }
            for c in self.search_index.captures(hit.url)
        ]
        query = urlencode({"url": hit.url, "at": hit.captured})
        return self.render(
            "article.html",
            hit=hit,
            paragraphs=[p for p in text.split("\n") if p.strip()],
            captured_label=cite.captured_label(hit.captured),
            citation=cite.citation_fields(hit),
            bibtex=cite.bibtex(hit),
            bibtex_url=f"/cite.bib?{query}",
            csl_url=f"/cite.json?{query}",
            captures=captures,
            replay_url=replay_page_url(hit.url, hit.captured),
            record_url=record_url(hit),
            api_url=f"/api/article?{query}",
        )

    async def api_article(self, request: Request) -> Response:
        """GET /api/article?url=&at=: one capture's metadata, text, citation and captures."""
        found = self._capture(request)
        if isinstance(found, Response):
            return found
        hit, text = found
        body = hit_json(hit)
        del body["snippet"]
        body.update(
            {
                "crawl_id": hit.crawl_id,
                "text": text,
                "record_id": hit.record_id,
                "payload_digest": hit.payload_digest,
                "record_url": record_url(hit),
                "citation": {"bibtex": cite.bibtex(hit), "csl_json": cite.csl_json(hit)},
                "captures": [
                    {"captured": c.captured, "article_url": article_url(c.url, c.captured)}
                    for c in self.search_index.captures(hit.url)
                ],
            }
        )
        return JSONResponse(body)

    async def cite_bib(self, request: Request) -> Response:
        """/cite.bib?url=&at=: the capture's BibTeX entry, as a download."""
        found = self._capture(request)
        if isinstance(found, Response):
            return found
        hit = found[0]
        return Response(
            cite.bibtex(hit),
            media_type="application/x-bibtex; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{cite.citation_key(hit)}.bib"'},
        )

    async def cite_json(self, request: Request) -> Response:
        """/cite.json?url=&at=: the capture as CSL-JSON, as a download."""
        found = self._capture(request)
        if isinstance(found, Response):
            return found
        hit = found[0]
        return Response(
            json.dumps(cite.csl_json(hit), ensure_ascii=False, indent=2) + "\n",
            media_type="application/vnd.citationstyles.csl+json",
            headers={
                "content-disposition": f'attachment; filename="{cite.citation_key(hit)}.json"'
            },
        )

    async def replay(self, request: Request) -> Response:
        """/replay?url=&at=: our banner over pywb's copy in a sandboxed frame of another origin."""
        found = self._capture(request)
        if isinstance(found, Response):
            return found
        hit = found[0]
        base = self.config.replay_base
        frame_src = f"{base}{cite.pywb_timestamp(hit.captured)}/{hit.url}" if base else None
        return self.render(
            "replay.html",
            hit=hit,
            captured_label=cite.captured_label(hit.captured),
            frame_src=frame_src,
            replay_venv=self.config.replay_venv,
            article_url=article_url(hit.url, hit.captured),
            record_url=record_url(hit),
        )

    async def record(self, request: Request) -> Response:
        """/record?key=&offset=&length=: one WARC record (gzip member), one range read."""
        archive = self.config.archive
        if archive is None:
            return self.error(request, 503, "this server has no storage to read records from")
        get = request.query_params
        try:
            offset, length = int(get.get("offset", "")), int(get.get("length", ""))
        except ValueError:
            return self.error(request, 400, "offset and length must be whole numbers")
        key = get.get("key", "")
        try:
            data = await run_in_threadpool(
                downloads.read_record, archive, key, offset, length, self.config.max_record_bytes
            )
        except downloads.RecordRefused as exc:
            return self.error(request, 400, str(exc))
        except (ClientError, BotoCoreError) as exc:
            logger.warning("event=record_read_failed key=%s error=%s", key, exc)
            return self.error(request, 404, "this record cannot be read from storage")
        name = f"{Path(key).name.removesuffix('.warc.gz')}-{offset}.warc.gz"
        return Response(
            data,
            media_type="application/warc",
            headers={"content-disposition": f'attachment; filename="{name}"'},
        )
