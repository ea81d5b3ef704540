"""The crawler layer: the only code that imports Scrapy or Twisted.

The capturing download handler and its address guard, the downloader and spider
middlewares, the extensions and add-ons, the frontier and the crawl runtime that hands each
component the crawl's archive and site run. ``spiders/`` and ``pipelines/`` are thin adapters
over it; everything it does with bytes, files and storage lives in the Scrapy-free packages
below it.  One Scrapy component per module, imported by module path:

- ``capture``: the download handler that keeps each exchange's bytes as transferred;
- ``netguard``: the address guard's decision and the handler's checks; ``resolver``: its
  DNS resolver (``TWISTED_DNS_RESOLVER``);
- ``middleware``: the WARC capture downloader middleware; ``traps``: the crawler-trap
  spider middleware;
- ``upload``, ``indexing``, ``distributed``: the upload, index and distributed-crawl
  extensions;
- ``frontier``: the scheduler keeping the frontier on disk; ``frontier_addon`` and
  ``redis_frontier``: the add-ons choosing it or the shared Redis frontier;
- ``runtime``: the crawl's archive and site run as components reach them;
- ``items``: the article item; ``project``: loading and checking the project settings;
- ``scrapy_commands.crawl`` and ``startup``: the project's ``scrapy crawl``, one line for a
  crawl that cannot start or fetched nothing.

Unlike the packages below it, this ``__init__`` re-exports nothing, on purpose: every
``archiver`` command imports ``project`` to load the settings, and that must not import
the download handler, the middlewares and with them most of Scrapy and Twisted. Scrapy
itself names the components by their module path (archiver/settings.py).
"""
