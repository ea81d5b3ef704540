"""The DNS resolver of the address guard (``TWISTED_DNS_RESOLVER``).

Scrapy's caching resolver, refusing an answer outside public addresses and
``ARCHIVER_ALLOWED_NETWORKS``: the lookup ends, so no connection is even attempted.  It
remembers each refused host name, so the capture handler can say why a lookup "failed".
The decision is archiver.crawler.netguard's.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from scrapy.resolver import CachingThreadedResolver
from scrapy.utils.datatypes import LocalCache
from twisted.internet.defer import fail
from twisted.internet.error import DNSLookupError

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


class GuardedResolver(CachingThreadedResolver):
    """Scrapy's caching resolver, refusing answers the guard does not allow (TWISTED_DNS_RESOLVER)."""

    def __init__(
        self, reactor: ReactorBase, cache_size: int, timeout: float, guard: AddressGuard
    ) -> None:
        super().__init__(reactor, cache_size, timeout)
        self.guard = guard
        self.refused: LocalCache[str, Refusal] = LocalCache(_REFUSALS_KEPT)

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor: ReactorBase) -> Self:
        """Build from the crawl settings (Scrapy passes the CrawlerProcess; only settings are read)."""
        settings = crawler.settings
        cache_size = settings.getint("DNSCACHE_SIZE") if settings.getbool("DNSCACHE_ENABLED") else 0
        guard = AddressGuard.from_settings(settings)
        logger.info("event=netguard_on allowed_networks=%s", guard.describe())
        return cls(reactor, cache_size, settings.getfloat("DNS_TIMEOUT"), guard)

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> Deferred[str]:
        """Resolve as Scrapy does, then refuse an address outside the allowed ones."""
        if name.rstrip(".").lower().endswith(".invalid"):
            # RFC 6761: .invalid names never resolve; answered here, no query leaves the host.
            return fail(DNSLookupError(f"no results for hostname lookup: {name}"))
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
