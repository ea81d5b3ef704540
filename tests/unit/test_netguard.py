"""The address guard: private, loopback and link-local addresses are refused unless allowed.

The ranges are checked at the two decisions that come before any connection: the
resolver's answer, and the connected peer (a fake transport standing in for the socket).
Real crawls against the guard: tests/e2e/test_netguard_crawl.py.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import pytest
from scrapy import Request
from scrapy.resolver import dnscache
from twisted.internet.address import IPv4Address
from twisted.internet.error import DNSLookupError
from twisted.internet.testing import StringTransport
from twisted.web._newclient import Request as TxRequest
from twisted.web.client import URI
from twisted.web.http_headers import Headers

from archiver.crawler.capture import _CapturingProtocol
from archiver.crawler.netguard import (
    AddressGuard,
    BlockedAddressError,
    NetGuard,
    classify,
    is_allowed,
    literal_host,
    parse_networks,
)
from archiver.crawler.resolver import GuardedResolver

REFUSED_BY_DEFAULT = [
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("::1", "loopback"),
    ("10.0.0.5", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.168.1.1", "private"),
    ("fd00:ec2::254", "private"),
    ("169.254.169.254", "link-local"),
    ("fe80::1", "link-local"),
    ("100.64.0.1", "shared"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("224.0.0.251", "multicast"),
    ("ff02::1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("192.0.2.10", "private"),  # documentation range
    # IPv6 spellings of IPv4 addresses are judged by the IPv4 address they carry.
    ("::ffff:169.254.169.254", "link-local"),
    ("::ffff:10.1.2.3", "private"),
    ("2002:a9fe:a9fe::1", "link-local"),  # 6to4 of 169.254.169.254
    ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
    ("64:ff9b::7f00:1", "loopback"),  # NAT64 of 127.0.0.1
]
PUBLIC = ["93.184.216.34", "1.1.1.1", "8.8.8.8", "2606:4700:4700::1111", "::ffff:1.1.1.1"]


@pytest.mark.parametrize(("address", "kind"), REFUSED_BY_DEFAULT)
def test_non_public_addresses_are_refused_by_default(address: str, kind: str) -> None:
    assert not is_allowed(address)
    assert classify(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert is_allowed(address)


def test_allowed_networks_open_exactly_their_ranges() -> None:
    loopback = parse_networks(["127.0.0.0/8"])
    assert is_allowed("127.0.0.1", loopback)
    assert is_allowed("127.0.0.2", loopback)
    assert is_allowed("::ffff:127.0.0.1", loopback)
    assert not is_allowed("::1", loopback)
    assert not is_allowed("10.0.0.1", loopback)
    assert not is_allowed("169.254.169.254", loopback)
    one = parse_networks("127.0.0.1/32, 10.20.0.0/16")
    assert is_allowed("127.0.0.1", one)
    assert not is_allowed("127.0.0.2", one)
    assert is_allowed("10.20.3.4", one)
    assert not is_allowed("10.21.3.4", one)


def test_bad_networks_are_refused_with_the_setting_name() -> None:
    with pytest.raises(ValueError, match=re.escape("ARCHIVER_ALLOWED_NETWORKS: '10.0.0.0/33'")):
        parse_networks(["10.0.0.0/33"])
    with pytest.raises(ValueError, match="'localhost'"):
        parse_networks("127.0.0.0/8,localhost")
    assert parse_networks("") == ()
    assert parse_networks(None) == ()


def test_literal_hosts_are_found_in_urls() -> None:
    assert literal_host("http://169.254.169.254/latest/meta-data/") == "169.254.169.254"
    assert literal_host("http://[::1]:8080/") == "::1"
    assert literal_host("https://news.example/") is None
    assert literal_host("http://[::1/") is None


# --- the resolver's decision ------------------------------------------------------------


def _resolve(resolver: GuardedResolver, name: str) -> tuple[str | None, Exception | None]:
    outcome: dict[str, Any] = {}
    d = resolver.getHostByName(name)
    d.addCallbacks(lambda ip: outcome.setdefault("ip", ip), lambda f: outcome.setdefault("err", f))
    failure = outcome.get("err")
    return outcome.get("ip"), None if failure is None else failure.value


@pytest.mark.parametrize(
    ("name", "answer", "kind"),
    [
        ("metadata.example", "169.254.169.254", "link-local"),
        ("intranet.example", "10.0.0.5", "private"),
        ("router.example", "192.168.0.1", "private"),
        ("rebind.example", "127.0.0.1", "loopback"),
    ],
)
def test_resolver_refuses_answers_outside_public_addresses(
    name: str, answer: str, kind: str
) -> None:
    # A cached answer is returned without any lookup or thread: nothing leaves the process.
    dnscache[name] = answer
    try:
        resolver = GuardedResolver(object(), 100, 5.0, AddressGuard())  # type: ignore[arg-type]
        ip, error = _resolve(resolver, name)
        assert ip is None
        assert isinstance(error, DNSLookupError)
        assert answer in str(error) and kind in str(error)
        assert resolver.refused[name].reason == kind
        # The handler turns the failed lookup into a clear refusal of the request.
        netguard = NetGuard(AddressGuard())
        blocked = netguard.explain_lookup_failure(Request(f"http://{name}/x"), resolver)
        assert isinstance(blocked, BlockedAddressError)
        assert "ARCHIVER_ALLOWED_NETWORKS" in str(blocked)
    finally:
        dnscache.pop(name, None)


def test_resolver_passes_public_and_allowed_answers() -> None:
    dnscache["public.example"] = "93.184.216.34"
    dnscache["lab.example"] = "10.20.0.7"
    try:
        resolver = GuardedResolver(
            object(),  # type: ignore[arg-type]
            100,
            5.0,
            AddressGuard(parse_networks(["10.20.0.0/16"])),
        )
        assert _resolve(resolver, "public.example") == ("93.184.216.34", None)
        assert _resolve(resolver, "lab.example") == ("10.20.0.7", None)
        assert "public.example" not in resolver.refused
    finally:
        dnscache.pop("public.example", None)
        dnscache.pop("lab.example", None)


# --- the connection's decision ------------------------------------------------------------


def _send_through(peer: str, allowed: tuple[str, ...] = ()) -> tuple[StringTransport, Any]:
    """Issue a request on a protocol whose (fake) connection reached `peer`."""
    protocol = _CapturingProtocol(None)  # type: ignore[no-untyped-call]
    protocol._guard = NetGuard(AddressGuard(parse_networks(list(allowed))))
    transport = StringTransport(peerAddress=IPv4Address("TCP", peer, 80))
    protocol.makeConnection(transport)
    url = f"http://{peer}/latest/meta-data/".encode()
    request = TxRequest._construct(
        b"GET",
        b"/latest/meta-data/",
        Headers({b"host": [peer.encode()]}),
        None,
        parsedURI=URI.fromBytes(url),
    )
    outcome: dict[str, Any] = {}
    protocol.request(request).addErrback(lambda f: outcome.setdefault("error", f.value))
    return transport, outcome.get("error")


@pytest.mark.parametrize("peer", ["169.254.169.254", "10.0.0.5", "172.20.1.1", "127.0.0.1"])
def test_connection_to_a_refused_peer_is_dropped_before_the_request_is_written(
    peer: str,
) -> None:
    transport, error = _send_through(peer)
    assert isinstance(error, BlockedAddressError)
    assert peer in str(error)
    assert transport.value() == b"", "request bytes were written to a refused peer"
    assert transport.disconnecting


def test_connection_to_a_public_or_allowed_peer_goes_ahead() -> None:
    transport, error = _send_through("93.184.216.34")
    assert error is None
    assert transport.value().startswith(b"GET /latest/meta-data/ HTTP/1.1\r\n")
    transport, error = _send_through("127.0.0.1", allowed=("127.0.0.0/8",))
    assert error is None and transport.value().startswith(b"GET ")


def test_urls_naming_refused_addresses_are_stopped_before_the_pool() -> None:
    stats: dict[str, int] = {}

    class Stats:
        def inc_value(self, key: str) -> None:
            stats[key] = stats.get(key, 0) + 1

    guard = NetGuard(AddressGuard(), Stats())
    for url in (
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:8080/",
        "http://10.0.0.1/",
    ):
        with pytest.raises(BlockedAddressError):
            guard.check_request(Request(url))
    guard.check_request(Request("http://news.example/"))  # left to the resolver
    guard.check_request(Request("http://93.184.216.34/"))
    assert stats["archiver/netguard/refused"] == 3
    assert stats["archiver/netguard/refused/link-local"] == 1


def test_test_and_invalid_names_never_reach_dns_unless_archiver_hosts_maps_them() -> None:
    # RFC 6761 names: no lookup thread, no query; an ARCHIVER_HOSTS entry answers them.
    resolver = GuardedResolver(
        object(),  # type: ignore[arg-type]
        100,
        5.0,
        AddressGuard(parse_networks(["127.0.0.0/8"])),
        {"cdn.sample.test": "127.0.0.2"},
    )
    for name in ("cdn.other.test", "news.invalid", "CDN.Other.Test."):
        ip, error = _resolve(resolver, name)
        assert ip is None and isinstance(error, DNSLookupError)
    assert _resolve(resolver, "cdn.sample.test") == ("127.0.0.2", None)
