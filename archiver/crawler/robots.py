"""Scrapy's robots.txt middleware, with every request that waits for a host's robots.txt checked.

In Scrapy 2.19, requests that arrive while a host's robots.txt is still being fetched all
await the same Deferred through ``maybe_deferred_to_future``; with the asyncio reactor that
turns it into ``Deferred.asFuture``, which hands the parser to the first waiter and None to
the next ones, and None means "no robots.txt": they went ahead, disallowed or not.  Page
requisites come in bursts to a new host (a CDN), so a tracking pixel its robots.txt refuses
was sometimes fetched.  Here each waiter gets its own Deferred, relayed from the shared one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.robotstxt import RobotParser


class WaitingRobotsTxtMiddleware(RobotsTxtMiddleware):
    """RobotsTxtMiddleware whose concurrent waiters each get the parsed robots.txt."""

    async def robot_parser(self, request: Request) -> RobotParser | None:
        """The host's parser; a request arriving while it is fetched waits for it too."""
        pending = self._parsers.get(urlparse_cached(request).netloc)
        if not isinstance(pending, Deferred):
            return await super().robot_parser(request)
        waiter: Deferred[RobotParser | None] = Deferred()

        def relay(parser: RobotParser | None) -> RobotParser | None:
            waiter.callback(parser)
            # Passed on, so the next waiter's relay gets the parser too.
            return parser

        pending.addCallback(relay)
        return await maybe_deferred_to_future(waiter)
