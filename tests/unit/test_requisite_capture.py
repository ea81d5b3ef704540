"""The crawler side of requisites without a crawl: the size cap of the capture handler, the
ARCHIVER_HOSTS mapping of the guarded resolver, the request records naming their page, and
robots.txt checked for every request that waited for it."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime
from typing import Any

import pytest
from scrapy import Request
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.utils.test import get_crawler
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.error import DNSLookupError
from twisted.internet.testing import StringTransport
from twisted.web._newclient import Request as TxRequest
from twisted.web.client import URI
from twisted.web.http_headers import Headers
from warcio.warcwriter import WARCWriter

from archiver.config import SettingError
from archiver.crawler.capture import WireCapture, _CapturingProtocol
from archiver.crawler.middleware import exchange_from_capture
from archiver.crawler.netguard import AddressGuard, parse_networks
from archiver.crawler.resolver import GuardedResolver, parse_hosts
from archiver.crawler.robots import WaitingRobotsTxtMiddleware
from archiver.index.sidecar import index_warc
from archiver.warc import build_exchange_records

BODY = bytes(range(256)) * 40  # 10240 bytes


def _response(length: int = len(BODY)) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n"
        + f"Content-Length: {length}\r\n\r\n".encode()
    )


def test_capture_is_cut_at_its_cap_byte_for_byte() -> None:
    capture = WireCapture(started=datetime.now(UTC), max_body=1000)
    capture.received += _response() + BODY[:600]
    assert not capture.cut_at_limit()
    capture.received += BODY[600:4000]
    assert capture.cut_at_limit()
    head, body = capture.split_response()
    assert head == _response()
    assert body == BODY[:1000]
    assert capture.truncated == "length"
    # Cut once: later calls change nothing.
    assert not capture.cut_at_limit()
    uncapped = WireCapture(started=datetime.now(UTC))
    uncapped.received += _response() + BODY
    assert not uncapped.cut_at_limit()
    assert uncapped.truncated is None


def test_protocol_drops_the_connection_once_past_the_cap() -> None:
    protocol = _CapturingProtocol(None)  # type: ignore[no-untyped-call]
    transport = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.2", 80))  # type: ignore[no-untyped-call]
    protocol.makeConnection(transport)
    request = TxRequest._construct(  # type: ignore[no-untyped-call]
        b"GET",
        b"/huge.png",
        Headers({b"host": [b"cdn.sample.test"]}),
        None,
        parsedURI=URI.fromBytes(b"http://cdn.sample.test/huge.png"),  # type: ignore[no-untyped-call]
    )
    outcome: dict[str, Any] = {}
    protocol.request(request).addBoth(lambda r: outcome.update(result=r))
    capture = protocol._capture
    assert capture is not None
    # Set by the agent once the head is parsed (from request.meta[MAX_BYTES_META_KEY]).
    capture.max_body = 3000
    protocol.dataReceived(_response() + BODY[:2000])
    assert not transport.disconnecting
    protocol.dataReceived(BODY[2000:5000])
    assert transport.disconnecting or transport.disconnected
    protocol.dataReceived(BODY[5000:6000])
    assert capture.split_response()[1] == BODY[:3000]
    exchange = exchange_from_capture("http://cdn.sample.test/huge.png", capture, [])
    assert exchange.truncated == "length"


def test_parse_hosts_reads_every_spelling_and_refuses_bad_ones() -> None:
    assert parse_hosts({}) == {}
    assert parse_hosts({"CDN.Sample.Test.": "127.0.0.2"}) == {"cdn.sample.test": "127.0.0.2"}
    assert parse_hosts('{"cdn.sample.test": "127.0.0.2"}') == {"cdn.sample.test": "127.0.0.2"}
    assert parse_hosts("a.test=127.0.0.2, b.test=::1") == {"a.test": "127.0.0.2", "b.test": "::1"}
    for bad in ("{not json", "a.test", {"a.test": "not-an-address"}, ["a.test"]):
        with pytest.raises(SettingError, match="ARCHIVER_HOSTS"):
            parse_hosts(bad)


def _resolve(resolver: GuardedResolver, name: str) -> tuple[str | None, Exception | None]:
    outcome: dict[str, Any] = {}
    d = resolver.getHostByName(name)
    d.addCallbacks(lambda ip: outcome.update(ip=ip), lambda f: outcome.update(err=f))
    failure = outcome.get("err")
    return outcome.get("ip"), None if failure is None else failure.value


def test_mapped_host_resolves_without_dns_and_the_guard_still_judges() -> None:
    hosts = {"cdn.sample.test": "127.0.0.2"}
    allowed = GuardedResolver(
        object(),  # type: ignore[arg-type]
        100,
        5.0,
        AddressGuard(parse_networks(["127.0.0.0/8"])),
        hosts,
    )
    assert _resolve(allowed, "cdn.sample.test") == ("127.0.0.2", None)
    assert _resolve(allowed, "CDN.sample.test.") == ("127.0.0.2", None)
    refused = GuardedResolver(object(), 100, 5.0, AddressGuard(), hosts)  # type: ignore[arg-type]
    ip, error = _resolve(refused, "cdn.sample.test")
    assert ip is None
    assert isinstance(error, DNSLookupError)
    assert "loopback" in str(error)


def test_request_record_names_the_page_and_the_index_line_carries_it() -> None:
    capture = WireCapture(started=datetime.now(UTC), complete=True, ip_address="127.0.0.2")
    capture.sent += b"GET /a.css HTTP/1.1\r\nHost: cdn.sample.test\r\n\r\n"
    capture.received += _response(5) + b"body!"
    page = "http://news.example/2026/11/20/story.html"
    exchange = exchange_from_capture(
        "http://cdn.sample.test/a.css", capture, [], {"page": page, "kind": "style", "depth": 0}
    )
    plain = exchange_from_capture("http://news.example/", capture, [])
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True)
    for ex in (exchange, plain):
        request, response = build_exchange_records(ex)
        writer.write_record(request)
        writer.write_record(response)
        assert (request.rec_headers.get_header("WARC-Requisite-Of") is not None) == (ex is exchange)
    first = build_exchange_records(exchange)[0]
    assert first.rec_headers.get_header("WARC-Resource-Type") == "style"
    out.seek(0)
    lines = {c.url: c for c in index_warc(out, "x.warc.gz")}
    assert lines["http://cdn.sample.test/a.css"].get("page") == page
    assert lines["http://news.example/"].get("page") is None


async def _waiters(cls: type[RobotsTxtMiddleware]) -> list[bool]:
    mw = cls.from_crawler(get_crawler(settings_dict={"ROBOTSTXT_OBEY": True}))
    pending: Deferred[Any] = Deferred()
    # The host's robots.txt is being fetched: three requests arrive meanwhile.
    mw._parsers["cdn.sample.test"] = pending
    waiting = [
        asyncio.ensure_future(mw.robot_parser(Request(f"http://cdn.sample.test/track/{i}.gif")))
        for i in range(3)
    ]
    await asyncio.sleep(0)
    parser = object()
    pending.callback(parser)
    return [got is parser for got in await asyncio.gather(*waiting)]


def test_every_request_waiting_for_a_robots_txt_is_checked_against_it() -> None:
    # Scrapy 2.19 gives the parser to the first waiter only; the others went ahead unchecked.
    assert asyncio.run(_waiters(RobotsTxtMiddleware)) == [True, False, False]
    assert asyncio.run(_waiters(WaitingRobotsTxtMiddleware)) == [True, True, True]
