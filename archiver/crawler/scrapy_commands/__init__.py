"""Scrapy commands of the project (COMMANDS_MODULE in archiver/settings.py).

Scrapy names each command after its module: ``crawl`` here replaces Scrapy's own.
"""
