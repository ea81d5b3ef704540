"""Downloader middleware that archives every response Scrapy receives, as transferred."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import NotConfigured
from scrapy.http import Headers
from scrapy.responsetypes import responsetypes
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import threads

from archiver.crawler.capture import CAPTURE_META_KEY, WireCapture
from archiver.crawler.runtime import SiteRun, archive_for, site_run_for
from archiver.warc import HttpExchange

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

    from archiver.operations import CrawlArchive

logger = logging.getLogger(__name__)

# Request.meta key holding {"request_id", "response_id", "date", "kind", "status"} of the
# archived exchange; "kind" is "response", or "revisit" when the payload was archived before.
WARC_META_KEY = "archiver_warc"
# Request.meta flag of a response answered from the crawl's own archive (a resumed crawl).
REPLAYED_META_KEY = "archiver_replayed"
# Request.meta key: the WARC-Truncated reason of the archived response, when it was cut.
TRUNCATED_META_KEY = "archiver_truncated"
# Request.meta key of a page requisite: {"page": URL, "kind": kind, "depth": CSS depth}
# (archiver/crawler/requisites.py); its request record names the page.
REQUISITE_META_KEY = "archiver_requisite"
_STATUS_LINE = re.compile(rb"HTTP/\d(?:\.\d)? (\d{3})")


def exchange_from_capture(
    url: str, capture: WireCapture, flags: list[str], requisite: dict[str, Any] | None = None
) -> HttpExchange:
    """Turn the handler's wire capture into the exchange the WARC records are built from."""
    request_head, request_body = capture.split_request()
    response_head, response_body = capture.split_response()
    truncated = capture.truncated
    if truncated is None and ("partial" in flags or "dataloss" in flags or not capture.complete):
        truncated = "disconnect"
    return HttpExchange(
        target_uri=url,
        request_head=request_head,
        request_body=request_body,
        response_head=response_head,
        response_body=response_body,
        ip_address=capture.ip_address,
        date=capture.started,
        truncated=truncated,
        requisite_of=str(requisite["page"]) if requisite and requisite.get("page") else None,
        resource_type=str(requisite["kind"]) if requisite and requisite.get("kind") else None,
    )


class WarcCaptureMiddleware:
    """Writes request and response records for every response, before any middleware acts on it."""

    def __init__(self, crawler: Crawler, archive: CrawlArchive) -> None:
        self.crawler = crawler
        self.archive = archive
        self.stats = crawler.stats
        self.site_run: SiteRun | None = site_run_for(crawler)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Build from the crawl's settings; off when ARCHIVER_WARC_ENABLED is false."""
        if not crawler.settings.getbool("ARCHIVER_WARC_ENABLED"):
            raise NotConfigured("ARCHIVER_WARC_ENABLED is off")
        return cls(crawler, archive_for(crawler))

    async def process_request(self, request: Request) -> Response | None:
        """In a resumed crawl, answer a URL an earlier process archived from that archive."""
        run = self.site_run
        if run is None:
            return None
        if not run.ready:
            await run.prepare()
        capture = run.replayable(request.url)
        if capture is None:
            return None
        # Reading the record may mean a ranged GET from storage: a thread, never the reactor.
        response: Response | None = await maybe_deferred_to_future(
            threads.deferToThread(self._replay, run, capture, request)
        )
        return response

    def _replay(self, run: SiteRun, capture: dict[str, Any], request: Request) -> Response | None:
        try:
            stored = run.load_replay(capture)
        except Exception as exc:
            # Fetching it again costs one more capture of the URL, nothing worse.
            self._inc("archiver/resume/replay_failed")
            logger.warning("event=replay_failed url=%s error=%r", request.url, exc)
            return None
        headers = Headers(stored.headers)
        cls = responsetypes.from_args(headers=headers, url=stored.url, body=stored.body)
        request.meta[REPLAYED_META_KEY] = True
        request.meta[WARC_META_KEY] = {
            "request_id": capture.get("request_id"),
            "response_id": capture["record_id"],
            "date": capture["date"],
            "kind": capture["kind"],
            "status": capture["status"],
        }
        return cls(
            url=stored.url,
            status=stored.status,
            headers=headers,
            body=stored.body,
            request=request,
            flags=["replayed"],
        )

    def process_response(self, request: Request, response: Response) -> Response:
        """Archive the exchange, then hand the response on untouched."""
        if request.meta.pop(REPLAYED_META_KEY, False):
            # Archived by an earlier process of this crawl; the flag must not follow redirects.
            self._inc("archiver/resume/replayed")
            return response
        capture = request.meta.pop(CAPTURE_META_KEY, None)
        if not isinstance(capture, WireCapture):
            # Not from the capturing handler (file://, data:, a cache): nothing as transferred.
            self._inc("archiver/warc/not_captured")
            logger.warning("event=not_captured url=%s reason=no-wire-capture", response.url)
            return response
        exchange = exchange_from_capture(
            response.url, capture, list(response.flags), request.meta.get(REQUISITE_META_KEY)
        )
        refs = self.archive.write_exchange(exchange)
        # Plain values only: Scrapy pickles request meta into its JOBDIR queue.
        request.meta[WARC_META_KEY] = {
            "request_id": refs.request_id,
            "response_id": refs.response_id,
            "date": refs.date,
            "kind": refs.kind,
            "status": refs.status,
        }
        self._inc("archiver/warc/responses")
        self._inc(f"archiver/warc/status/{response.status}")
        if response.status == 304:
            self._inc("archiver/warc/not_modified")
        if exchange.truncated:
            request.meta[TRUNCATED_META_KEY] = exchange.truncated
            self._inc("archiver/warc/truncated")
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        """Archive what arrived of a response cut short (too large, too slow, disconnected)."""
        capture = request.meta.pop(CAPTURE_META_KEY, None)
        if not isinstance(capture, WireCapture):
            return None
        exchange = exchange_from_capture(
            request.url, capture, [], request.meta.get(REQUISITE_META_KEY)
        )
        reason = capture.truncated or exchange.truncated or "unspecified"
        try:
            self.archive.write_exchange(replace(exchange, truncated=reason))
        except ValueError as exc:
            # The head itself was cut: there is no HTTP response to build a record from.
            logger.warning(
                "event=partial_not_archived url=%s received=%d error=%s",
                request.url,
                len(capture.received),
                exc,
            )
            return None
        request.meta[TRUNCATED_META_KEY] = reason
        if reason == "length":
            # Cut at a size cap on purpose: fetching it again would bring the same cut.
            request.meta["dont_retry"] = True
        status = _STATUS_LINE.match(bytes(capture.received[:64]))
        self._inc("archiver/warc/responses")
        if status is not None:
            self._inc(f"archiver/warc/status/{int(status[1])}")
        self._inc("archiver/warc/truncated")
        self._inc(f"archiver/warc/truncated/{reason}")
        logger.warning(
            "event=truncated_archived url=%s reason=%s received=%d error=%s",
            request.url,
            reason,
            len(capture.received),
            type(exception).__name__,
        )
        return None

    def _inc(self, key: str) -> None:
        if self.stats is not None:
            self.stats.inc_value(key)
