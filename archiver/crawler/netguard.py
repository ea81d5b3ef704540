"""The address guard: the crawler talks to public addresses only, unless a network is allowed.

A news page, a redirect or a DNS answer can point the crawler at 169.254.169.254 (cloud
instance metadata), 10.0.0.0/8 or 127.0.0.1 (services on the crawl host's own network),
turning an archiver into a way into them.  The decision is :func:`is_allowed`: public
(globally routable unicast) addresses pass, everything else only when it lies in one of
``ARCHIVER_ALLOWED_NETWORKS``.

It is enforced in three places, each before a byte of the request is written:

* archiver.crawler.resolver.GuardedResolver (``TWISTED_DNS_RESOLVER``): every host name,
  and every IP literal, that Twisted resolves for a connection passes through it; a
  refused answer ends the lookup, so no connection is even attempted;
* :meth:`NetGuard.check_request`: a URL whose host is an IP literal is refused before it
  reaches the connection pool (it also covers requests sent through a proxy);
* :meth:`NetGuard.check_peer`: the capture handler checks the address the connection
  really reached before it writes the request (a resolver replaced by another setting,
  a reused connection).

Redirects are requests like any other, so all three apply to them.  The decision logic
is plain Python; :class:`NetGuard` (here) and the resolver are the Scrapy side.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy.exceptions import IgnoreRequest

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

SETTING = "ARCHIVER_ALLOWED_NETWORKS"
STAT_REFUSED = "archiver/netguard/refused"

# RFC 6598 shared address space (carrier-grade NAT): not public, and Python's is_private
# leaves it out.
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")
# RFC 6052 NAT64 well-known prefix: the last 32 bits are an IPv4 address that a NAT64
# gateway would connect to, so that address is what must be judged.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class BlockedAddressError(IgnoreRequest):
    """A request refused because its host is, or resolves to, an address that is not allowed."""


@dataclass(frozen=True)
class Refusal:
    """Why an address was refused: the address and the kind of range it lies in."""

    address: str
    reason: str


def parse_networks(values: Iterable[str] | str | None) -> tuple[IPNetwork, ...]:
    """CIDRs (or single addresses) from a setting value; ValueError names the bad entry."""
    if values is None:
        return ()
    items = values.split(",") if isinstance(values, str) else list(values)
    networks: list[IPNetwork] = []
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ValueError(
                f"{SETTING}: {text!r} is not a network; use CIDR notation such as 127.0.0.0/8"
            ) from None
    return tuple(networks)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, Teredo, NAT64), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def classify(ip: IPAddress) -> str | None:
    """The kind of non-public range an address lies in, or None for a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return classify(embedded)
    # Order matters: the most specific, most familiar name first.
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED:
        return "shared"
    if ip.is_reserved:
        return "reserved"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "not-global"
    return None


def is_public(ip: str | IPAddress) -> bool:
    """Whether an address is a globally routable unicast address."""
    return classify(ipaddress.ip_address(ip)) is None


def is_allowed(ip: str | IPAddress, allowed_networks: Sequence[IPNetwork | str] = ()) -> bool:
    """Whether the crawler may connect to ip: a public address, or one inside allowed_networks."""
    address = ipaddress.ip_address(ip)
    if classify(address) is None:
        return True
    networks = [
        n if not isinstance(n, str) else ipaddress.ip_network(n, strict=False)
        for n in allowed_networks
    ]
    candidates: list[IPAddress] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            candidates.append(embedded)
    return any(c in n for c in candidates for n in networks if c.version == n.version)


class AddressGuard:
    """The decision with its configured networks: refusal(ip) says whether and why to refuse."""

    def __init__(self, allowed_networks: Iterable[IPNetwork | str] = ()) -> None:
        self.allowed_networks: tuple[IPNetwork, ...] = tuple(
            ipaddress.ip_network(n, strict=False) if isinstance(n, str) else n
            for n in allowed_networks
        )

    @classmethod
    def from_settings(cls, settings: Any) -> Self:
        """Read ARCHIVER_ALLOWED_NETWORKS (a list or a comma-separated string)."""
        return cls(parse_networks(settings.get(SETTING)))

    def refusal(self, ip: str) -> Refusal | None:
        """None when ip may be connected to, else the address and the kind of range it is in."""
        try:
            address = ipaddress.ip_address(ip.strip("[]"))
        except ValueError:
            return Refusal(ip, "not-an-address")
        if is_allowed(address, self.allowed_networks):
            return None
        return Refusal(str(address), classify(address) or "not-global")

    def describe(self) -> str:
        """The allowed networks as shown in messages."""
        return ",".join(str(n) for n in self.allowed_networks) or "none"


def literal_host(url: str) -> str | None:
    """The host of a URL when it is an IP literal (IPv6 without brackets), else None."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    if not host:
        return None
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def refusal_message(host: str, refusal: Refusal, guard: AddressGuard) -> str:
    """The message a refused host fails with: its address, why, and what is allowed."""
    address = ipaddress.ip_address(refusal.address)
    # A loopback host is most often a local test site: suggest the whole loopback range.
    network = "127.0.0.0/8" if address.is_loopback and address.version == 4 else address
    return (
        f"{host} is {refusal.address}, a {refusal.reason} address; the crawler connects "
        f"only to public addresses and to the networks of {SETTING} (now: "
        f"{guard.describe()}); to allow it: -s {SETTING}={network}"
    )


# --- the capture handler's checks ------------------------------------------------------


class NetGuard:
    """What the capture handler asks before a request goes out; counts and logs each refusal."""

    def __init__(self, guard: AddressGuard, stats: Any = None) -> None:
        self.guard = guard
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """The guard for one crawl, from ARCHIVER_ALLOWED_NETWORKS."""
        return cls(AddressGuard.from_settings(crawler.settings), crawler.stats)

    def _refuse(self, stage: str, url: str, host: str, refusal: Refusal) -> BlockedAddressError:
        if self.stats is not None:
            self.stats.inc_value(STAT_REFUSED)
            self.stats.inc_value(f"{STAT_REFUSED}/{refusal.reason}")
        logger.warning(
            "event=address_refused stage=%s url=%s host=%s address=%s reason=%s",
            stage,
            url,
            host,
            refusal.address,
            refusal.reason,
        )
        return BlockedAddressError(refusal_message(host, refusal, self.guard))

    def check_request(self, request: Request) -> None:
        """Refuse a request whose URL names a disallowed IP literal (before any connection)."""
        host = literal_host(request.url)
        if host is None:
            return
        refusal = self.guard.refusal(host)
        if refusal is not None:
            raise self._refuse("url", request.url, host, refusal)

    def check_peer(self, url: str, peer_host: str | None) -> BlockedAddressError | None:
        """The error to fail with when a connection reached a disallowed address, else None."""
        if peer_host is None:
            # Not an IP connection (a UNIX socket in tests); there is no address to judge.
            return None
        refusal = self.guard.refusal(peer_host)
        if refusal is None:
            return None
        return self._refuse("connect", url, peer_host, refusal)

    def explain_lookup_failure(self, request: Request, resolver: Any) -> BlockedAddressError | None:
        """A BlockedAddressError when a failed lookup was the resolver refusing an answer."""
        host = urlsplit(request.url).hostname or ""
        refused: Mapping[str, Refusal] | None = getattr(resolver, "refused", None)
        refusal = refused.get(host) if refused is not None else None
        if refusal is None:
            return None
        return self._refuse("resolve", request.url, host, refusal)
