"""The address guard: private, loopback and link-local addresses are refused unless allowed.

Only 127.0.0.1 (and 127.0.0.2, another loopback address) ever receive traffic here.
The other ranges are checked at the two decisions that come before any connection: the
resolver's answer, and the connected peer (a fake transport standing in for the socket).
"""

from __future__ import annotations

import ipaddress
import os
import re
import subprocess
import sys
from pathlib import Path
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
from warcio.archiveiterator import ArchiveIterator

from archiver.crawler.capture import _CapturingProtocol
from archiver.crawler.netguard import (
    AddressGuard,
    BlockedAddressError,
    GuardedResolver,
    NetGuard,
    classify,
    is_allowed,
    literal_host,
    parse_networks,
)
from archiver.devserver.samplesite import SampleSite

ROOT = Path(__file__).resolve().parent.parent

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
        ("metadata.test", "169.254.169.254", "link-local"),
        ("intranet.test", "10.0.0.5", "private"),
        ("router.test", "192.168.0.1", "private"),
        ("rebind.test", "127.0.0.1", "loopback"),
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
    dnscache["public.test"] = "93.184.216.34"
    dnscache["lab.test"] = "10.20.0.7"
    try:
        resolver = GuardedResolver(
            object(),  # type: ignore[arg-type]
            100,
            5.0,
            AddressGuard(parse_networks(["10.20.0.0/16"])),
        )
        assert _resolve(resolver, "public.test") == ("93.184.216.34", None)
        assert _resolve(resolver, "lab.test") == ("10.20.0.7", None)
        assert "public.test" not in resolver.refused
    finally:
        dnscache.pop("public.test", None)
        dnscache.pop("lab.test", None)


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


# --- real crawls, loopback only -------------------------------------------------------------


def _crawl(url: str, spool: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], str]:
    command = [
        sys.executable,
        "-m",
        "scrapy",
        "crawl",
        "news",
        "-a",
        f"urls={url}",
        "-s",
        f"ARCHIVER_WARC_DIR={spool}",
        "-s",
        "ARCHIVER_S3_BUCKET=",
        "-s",
        "DOWNLOAD_DELAY=0",
        "-s",
        "AUTOTHROTTLE_ENABLED=false",
        "-s",
        "ARCHIVER_CLEAN_WORKERS=1",
        "-s",
        "RETRY_TIMES=0",
        *args,
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")}
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    return proc, proc.stderr


def _archived(spool: Path) -> list[tuple[str, int]]:
    found = []
    for path in sorted(spool.rglob("*.warc.gz")):
        with open(path, "rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type == "response":
                    status = int(record.http_headers.get_statuscode())
                    found.append((record.rec_headers.get_header("WARC-Target-URI"), status))
    return found


def _refusals(log: str) -> list[dict[str, str]]:
    return [
        dict(re.findall(r"(\w+)=(\S+)", line))
        for line in log.splitlines()
        if "event=address_refused" in line
    ]


@pytest.mark.slow
def test_loopback_url_is_refused_when_not_allowed(tmp_path: Path) -> None:
    with SampleSite() as site:
        proc, log = _crawl(f"{site.url}/", tmp_path / "spool", "-a", "max_pages=3")
    assert proc.returncode == 0, log[-3000:]
    assert site.sent == [], "the refused site received requests"
    refusals = _refusals(log)
    assert refusals and all(r["reason"] == "loopback" and r["stage"] == "url" for r in refusals)
    assert "'archiver/netguard/refused/loopback'" in log
    assert _archived(tmp_path / "spool") == []


@pytest.mark.slow
def test_host_name_resolving_to_loopback_is_refused_at_the_resolver(tmp_path: Path) -> None:
    with SampleSite() as site:
        url = f"http://localhost:{site.port}/"
        proc, log = _crawl(url, tmp_path / "spool", "-a", "max_pages=3")
    assert proc.returncode == 0, log[-3000:]
    assert site.sent == []
    refusals = _refusals(log)
    assert refusals and {r["stage"] for r in refusals} == {"resolve"}
    assert {r["address"] for r in refusals} == {"127.0.0.1"}
    assert "CannotResolveHostError" not in log, "a refusal must not be retried as a DNS failure"


@pytest.mark.slow
def test_peer_check_holds_when_the_resolver_is_replaced(tmp_path: Path) -> None:
    with SampleSite() as site:
        url = f"http://localhost:{site.port}/"
        proc, log = _crawl(
            url,
            tmp_path / "spool",
            "-a",
            "max_pages=3",
            "-s",
            "TWISTED_DNS_RESOLVER=scrapy.resolver.CachingThreadedResolver",
        )
    assert proc.returncode == 0, log[-3000:]
    assert "event=netguard_resolver_missing" in log
    # The connection was made, but no request was ever written on it.
    assert site.sent == []
    refusals = _refusals(log)
    assert refusals and {r["stage"] for r in refusals} == {"connect"}


@pytest.mark.slow
@pytest.mark.parametrize("allowed", ["127.0.0.1/32", "127.0.0.0/8"])
def test_redirect_into_a_network_that_is_not_allowed_is_not_followed(
    tmp_path: Path, allowed: str
) -> None:
    with SampleSite() as site:
        base, port = site.url, site.port
        other = SampleSite()
        # The redirect points at the same port on 127.0.0.2, where this second site listens.
        other.start(host="127.0.0.2", port=port)
        try:
            proc, log = _crawl(
                f"{base}/hostile/redirect/loopback2",
                tmp_path / "spool",
                "-a",
                "allowed_domains=127.0.0.1,127.0.0.2",
                "-a",
                "max_pages=1",
                "-s",
                f"ARCHIVER_ALLOWED_NETWORKS={allowed}",
            )
        finally:
            other.stop()
    assert proc.returncode == 0, log[-3000:]
    archived = _archived(tmp_path / "spool")
    assert (f"{base}/hostile/redirect/loopback2", 302) in archived
    target = f"http://127.0.0.2:{port}/hostile/"
    if allowed == "127.0.0.1/32":
        assert other.sent == []
        assert [r["address"] for r in _refusals(log)] == ["127.0.0.2", "127.0.0.2"]  # robots, page
        assert not [u for u, _ in archived if u.startswith("http://127.0.0.2")]
    else:
        # The control: with the network allowed, the same redirect is followed.
        assert "/hostile/" in [s.path for s in other.sent]
        assert (target, 200) in archived
        assert _refusals(log) == []
