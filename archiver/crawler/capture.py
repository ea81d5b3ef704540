"""A Scrapy HTTP/1.1 download handler that keeps each exchange's bytes as they crossed the wire.

Scrapy's own handler hands on a parsed response: headers re-cased and merged, the
reason phrase dropped, chunked bodies de-chunked, and nothing of the request as
Twisted wrote it (Host, Connection, header order).  An archive needs the exchange
as transferred, so this handler tees the connection: every byte Twisted writes for
a request and every byte the server sends back until the response is complete is
kept in a :class:`WireCapture`, which the WARC middleware turns into records.

Everything else (connection pool, TLS, proxies, size limits, timeouts) is Scrapy's
HTTP/1.1 handler unchanged; this module only adds the recording, and asks the address
guard (archiver.crawler.netguard) before a request is written.  When a download fails after the
response head arrived (DOWNLOAD_MAXSIZE, a timeout, a cut connection), the partial
capture is still left in request.meta, with its WARC-Truncated reason, for the
middleware.  A request may carry its own size cap (``request.meta[MAX_BYTES_META_KEY]``,
set for page requisites): past it, the body is cut at exactly that many bytes, the
connection is dropped and the capture is left truncated with reason "length", whatever
Scrapy then says about the download.  It relies on private parts of Scrapy 2.19's handler, which is why pyproject
pins Scrapy's minor version.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from scrapy.core.downloader.handlers.http11 import (
    HTTP11DownloadHandler,
    _LenientHTTP11ClientFactory,
    _LenientHTTP11ClientProtocol,
    _ScrapyAgent,
)
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadTimeoutError,
    ResponseDataLossError,
)
from scrapy.utils._download_handlers import get_dataloss_msg, wrap_twisted_exceptions
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import defer

from archiver.crawler.netguard import NetGuard
from archiver.crawler.resolver import GuardedResolver

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from twisted.internet.defer import Deferred
    from twisted.internet.interfaces import IAddress

logger = logging.getLogger(__name__)

# Request.meta key under which the handler leaves the capture for the middleware.
CAPTURE_META_KEY = "_archiver_capture"
# Request.meta key: body bytes (as transferred) to keep of this response at most; then it is cut.
MAX_BYTES_META_KEY = "archiver_max_bytes"
_CONTENT_LENGTH = re.compile(rb"(?im)^content-length:[ \t]*(\d{1,19})[ \t]*\r?$")


@dataclass
class WireCapture:
    """The bytes of one HTTP exchange, as written to and read from the connection."""

    started: datetime
    sent: bytearray = field(default_factory=bytearray)
    received: bytearray = field(default_factory=bytearray)
    ip_address: str | None = None
    # Set while a response is being read; the parser needs the head length to split it.
    complete: bool = False
    # WARC-Truncated reason when the download failed part way ("length", "time", "disconnect").
    truncated: str | None = None
    # Body bytes (as transferred) kept at most; beyond them the capture is cut ("length").
    max_body: int | None = None

    def cut_at_limit(self) -> bool:
        """Cut the body at `max_body` bytes if it passed them; True when this call cut it."""
        if self.max_body is None or self.truncated is not None:
            return False
        end = self.received.find(b"\r\n\r\n")
        head_end = end + 4 if end >= 0 else -1
        if head_end < 0:
            end = self.received.find(b"\n\n")
            head_end = end + 2 if end >= 0 else -1
        if head_end < 0 or len(self.received) - head_end <= self.max_body:
            return False
        del self.received[head_end + self.max_body :]
        self.truncated = "length"
        return True

    def split_response(self) -> tuple[bytes, bytes]:
        """Return (status line and headers through the blank line, body bytes)."""
        data = bytes(self.received)
        end = data.find(b"\r\n\r\n")
        if end >= 0:
            return data[: end + 4], data[end + 4 :]
        # Servers that end header lines with a bare LF.
        end = data.find(b"\n\n")
        if end >= 0:
            return data[: end + 2], data[end + 2 :]
        return data, b""

    def split_request(self) -> tuple[bytes, bytes]:
        """Return (request line and headers through the blank line, request body)."""
        data = bytes(self.sent)
        end = data.find(b"\r\n\r\n")
        if end < 0:
            return data, b""
        return data[: end + 4], data[end + 4 :]


class _TeeTransport:
    """Wraps a connection's transport and copies every write into the current capture."""

    def __init__(self, transport: Any) -> None:
        self._transport = transport
        self.capture: WireCapture | None = None

    def write(self, data: bytes) -> None:
        if self.capture is not None:
            self.capture.sent += data
        self._transport.write(data)

    def writeSequence(self, data: Any) -> None:
        chunks = list(data)
        if self.capture is not None:
            for chunk in chunks:
                self.capture.sent += chunk
        self._transport.writeSequence(chunks)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class _CapturingProtocol(_LenientHTTP11ClientProtocol):
    """HTTP/1.1 client protocol that records one exchange at a time (Twisted never pipelines)."""

    _tee: _TeeTransport | None = None
    _capture: WireCapture | None = None
    _guard: NetGuard | None = None
    # The peer of a connection never changes: its address is read, and judged by the
    # guard, once per connection rather than once per request.
    _peer_ip: str | None = None
    _peer_known = False
    _peer_allowed = False

    def makeConnection(self, transport: Any) -> None:
        self._tee = _TeeTransport(transport)
        super().makeConnection(self._tee)  # type: ignore[no-untyped-call]

    def request(self, request: Any) -> Deferred[Any]:
        capture = WireCapture(started=datetime.now(UTC))
        self._capture = capture
        if self._tee is not None:
            self._tee.capture = capture
            capture.ip_address = self._peer_address(self._tee)
            if self._guard is not None and not self._peer_allowed:
                url = (getattr(request, "absoluteURI", None) or b"").decode("ascii", "replace")
                refused = self._guard.check_peer(url, capture.ip_address)
                if refused is not None:
                    # Nothing has been written yet; the connection is dropped, never pooled.
                    self._tee.capture = None
                    self._tee.abortConnection()
                    return defer.fail(refused)
                self._peer_allowed = True
        d = super().request(request)

        def attach(response: Any) -> Any:
            response._archiver_capture = capture
            return response

        d.addCallback(attach)
        return d

    def _peer_address(self, tee: _TeeTransport) -> str | None:
        if not self._peer_known:
            host = getattr(tee.getPeer(), "host", None)
            if host:
                try:
                    self._peer_ip = str(ipaddress.ip_address(host))
                except ValueError:
                    self._peer_ip = None
            self._peer_known = True
        return self._peer_ip

    def dataReceived(self, data: bytes) -> None:
        capture = self._capture
        if capture is None:
            super().dataReceived(data)  # type: ignore[no-untyped-call]
            return
        if capture.truncated is None:
            capture.received += data
        super().dataReceived(data)  # type: ignore[no-untyped-call]
        cut = capture.max_body is not None and capture.cut_at_limit()
        if cut and not capture.complete and self._tee is not None:
            # Nothing more of this response is wanted: the connection is dropped, never pooled.
            self._tee.abortConnection()


class _CapturingClientFactory(_LenientHTTP11ClientFactory):
    # Set on a per-handler subclass: the pool builds factories itself, from a class.
    guard: NetGuard | None = None

    def buildProtocol(self, addr: IAddress | None) -> _CapturingProtocol:
        protocol = _CapturingProtocol(self._quiescentCallback)  # type: ignore[no-untyped-call]
        protocol._guard = self.guard
        return protocol


class _CapturingAgent(_ScrapyAgent):
    """Scrapy's agent, remembering the capture of the response it produced."""

    capture: WireCapture | None = None

    def _cb_bodyready(self, txresponse: Any, request: Request) -> Any:
        # Remembered as soon as the head is parsed, so a download that fails while its body
        # is read (too large, too slow, cut) can still be archived as truncated.
        self.capture = getattr(txresponse, "_archiver_capture", None)
        cap = request.meta.get(MAX_BYTES_META_KEY)
        if self.capture is not None and isinstance(cap, int) and cap > 0:
            self.capture.max_body = cap
        return super()._cb_bodyready(txresponse, request)

    def _cb_bodydone(self, result: Any, url: str) -> Response:
        capture = getattr(result["txresponse"], "_archiver_capture", None)
        if capture is not None:
            capture.complete = True
            self.capture = capture
        return super()._cb_bodydone(result, url)


class CapturingHTTPDownloadHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP/1.1 handler with wire capture; set for http and https in DOWNLOAD_HANDLERS."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self._guard = NetGuard.from_crawler(crawler)
        self._pool._factory = cast(
            "type[_CapturingClientFactory]",
            type("_GuardedClientFactory", (_CapturingClientFactory,), {"guard": self._guard}),
        )
        from twisted.internet import reactor

        if not isinstance(getattr(reactor, "resolver", None), GuardedResolver):
            # Then host names are only checked once connected (the request is still never sent).
            logger.warning(
                "event=netguard_resolver_missing resolver=%s: set TWISTED_DNS_RESOLVER to "
                "archiver.crawler.resolver.GuardedResolver to refuse private addresses before connecting",
                type(getattr(reactor, "resolver", None)).__name__,
            )

    async def download_request(self, request: Request) -> Response:
        """Download as Scrapy does, then leave the wire capture in request.meta."""
        agent = _CapturingAgent(
            contextFactory=self._contextFactory,
            bindAddress=self._bind_address,
            pool=self._pool,
            maxsize=self._default_maxsize,
            warnsize=self._default_warnsize,
            fail_on_dataloss=self._fail_on_dataloss,
            crawler=self._crawler,
            tls_verbose_logging=self._tls_verbose_logging,
        )
        self._guard.check_request(request)
        try:
            with wrap_twisted_exceptions():
                response: Response = await maybe_deferred_to_future(agent.download_request(request))
        except CannotResolveHostError as exc:
            from twisted.internet import reactor

            refused = self._guard.explain_lookup_failure(
                request, getattr(reactor, "resolver", None)
            )
            if refused is not None:
                raise refused from exc
            raise
        except Exception as exc:
            if isinstance(exc, ResponseDataLossError) and not self._fail_on_dataloss_warned:
                logger.warning(get_dataloss_msg(request.url))
                self._fail_on_dataloss_warned = True
            self._keep_partial(request, agent, exc)
            raise
        if agent.capture is not None:
            request.meta[CAPTURE_META_KEY] = agent.capture
        return response

    def _keep_partial(self, request: Request, agent: _CapturingAgent, exc: Exception) -> None:
        """Leave the capture of a download that failed after its head arrived, with the reason."""
        capture = agent.capture
        if capture is None or not capture.received:
            return
        if capture.truncated is not None:
            # Cut at the request's own size cap (MAX_BYTES_META_KEY): the reason stands.
            pass
        elif isinstance(exc, DownloadCancelledError):
            maxsize = request.meta.get("download_maxsize", self._default_maxsize)
            head, body = capture.split_response()
            declared = _CONTENT_LENGTH.search(head)
            over = len(body) > maxsize or (declared is not None and int(declared[1]) > maxsize)
            # Otherwise cancelled for another reason (the crawl shutting down, say).
            capture.truncated = "length" if maxsize and over else "unspecified"
        elif isinstance(exc, DownloadTimeoutError):
            capture.truncated = "time"
        else:
            capture.truncated = "disconnect"
        request.meta[CAPTURE_META_KEY] = capture
