"""The DNS resolver of the address guard (``TWISTED_DNS_RESOLVER``).

Scrapy's caching resolver, refusing an answer outside public addresses and
``ARCHIVER_ALLOWED_NETWORKS``: the lookup ends, so no connection is even attempted.  It
remembers each refused host name, so the capture handler can say why a lookup "failed".
The decision is archiver.crawler.netguard's.  ``ARCHIVER_HOSTS`` names addresses for host
names without asking DNS (the sample site's CDN host, say); the guard judges them too.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from scrapy.resolver import CachingThreadedResolver
from scrapy.utils.datatypes import LocalCache
from twisted.internet.defer import fail, succeed
from twisted.internet.error import DNSLookupError

from archiver.config import SettingError
from archiver.crawler.netguard import AddressGuard, Refusal, refusal_message

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler
    from twisted.internet.base import ReactorBase
    from twisted.internet.defer import Deferred

logger = logging.getLogger(__name__)

# Host names whose refusal the resolver remembers, so the handler can say why a lookup
# "failed"; bounded like Scrapy's own DNS cache.
_REFUSALS_KEPT = 10_000
# Special-use top-level domains (RFC 6761) never sent to DNS: only ARCHIVER_HOSTS answers them.
_UNRESOLVED_TLDS = (".invalid", ".test")


def parse_hosts(value: object) -> dict[str, str]:
    """ARCHIVER_HOSTS as {host name: address}: a mapping, JSON, or "name=address,..."."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            try:
                value = json.loads(text)
            except ValueError:
                raise SettingError(f"ARCHIVER_HOSTS is not a JSON object: {text!r}") from None
        else:
            pairs = [p.partition("=") for p in text.split(",") if p.strip()]
            if any(not sep for _, sep, _ in pairs):
                raise SettingError(
                    f"ARCHIVER_HOSTS: write name=address[,name=address], not {text!r}"
                )
            value = {name.strip(): address.strip() for name, _, address in pairs}
    if not isinstance(value, Mapping):
        raise SettingError(f"ARCHIVER_HOSTS must map host names to addresses, not {value!r}")
    hosts: dict[str, str] = {}
    for name, address in value.items():
        try:
            hosts[str(name).rstrip(".").lower()] = str(ipaddress.ip_address(str(address).strip()))
        except ValueError:
            raise SettingError(
                f"ARCHIVER_HOSTS: {address!r} (for {name}) is not an IP address"
            ) from None
    return hosts


class GuardedResolver(CachingThreadedResolver):
    """Scrapy's caching resolver, refusing answers the guard does not allow (TWISTED_DNS_RESOLVER)."""

    def __init__(
        self,
        reactor: ReactorBase,
        cache_size: int,
        timeout: float,
        guard: AddressGuard,
        hosts: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(reactor, cache_size, timeout)
        self.guard = guard
        self.hosts = dict(hosts or {})
        self.refused: LocalCache[str, Refusal] = LocalCache(_REFUSALS_KEPT)

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor: ReactorBase) -> Self:
        """Build from the crawl settings (Scrapy passes the CrawlerProcess; only settings are read)."""
        settings = crawler.settings
        cache_size = settings.getint("DNSCACHE_SIZE") if settings.getbool("DNSCACHE_ENABLED") else 0
        guard = AddressGuard.from_settings(settings)
        logger.info("event=netguard_on allowed_networks=%s", guard.describe())
        hosts = parse_hosts(settings.get("ARCHIVER_HOSTS") or {})
        return cls(reactor, cache_size, settings.getfloat("DNS_TIMEOUT"), guard, hosts)

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> Deferred[str]:
        """Resolve as Scrapy does, then refuse an address outside the allowed ones."""
        mapped = self.hosts.get(name.rstrip(".").lower())
        if mapped is None and name.rstrip(".").lower().endswith(_UNRESOLVED_TLDS):
            # RFC 6761: .invalid names never resolve, and .test names (the sample site's CDN)
            # are answered only by ARCHIVER_HOSTS here: no query for them leaves the host.
            return fail(DNSLookupError(f"no results for hostname lookup: {name}"))
        if mapped is not None:
            # ARCHIVER_HOSTS: no query leaves the host; the guard still judges the address.
            try:
                return succeed(self._check(mapped, name))
            except DNSLookupError as exc:
                return fail(exc)
        d: Deferred[str] = super().getHostByName(name, timeout)
        d.addCallback(self._check, name)
        return d

    def _check(self, address: str, name: str) -> str:
        refusal = self.guard.refusal(address)
        if refusal is None:
            self.refused.pop(name, None)
            return address
        self.refused[name] = refusal
        # The capture handler logs the refusal with its URL and counts it; this is the detail.
        logger.debug(
            "event=lookup_refused host=%s address=%s reason=%s",
            name,
            refusal.address,
            refusal.reason,
        )
        raise DNSLookupError(refusal_message(name, refusal, self.guard))
