"""The crawler layer: the only code that imports Scrapy or Twisted.

The capturing download handler and its address guard, the downloader and spider
middlewares, the extensions and add-ons, the frontier and the crawl runtime that hands each
component the crawl's archive and site run. ``spiders/`` and ``pipelines/`` are thin adapters
over it; everything it does with bytes, files and storage lives in the Scrapy-free packages
below it.
"""
