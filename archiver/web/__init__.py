"""`archiver serve`'s web page for researchers: search, read, cite, replay and download.

An ASGI app (Starlette, Jinja2 templates, no build step) over the search index
(archiver.search) and the archive in storage (archiver.access); read-only. Scrapy-free;
above access, search and dataset, below commands.
"""

from __future__ import annotations

from archiver.web.app import create_app
from archiver.web.auth import AccessPolicy, hash_password, parse_users, verify_password
from archiver.web.base import WebConfig

__all__ = [
    "AccessPolicy",
    "WebConfig",
    "create_app",
    "hash_password",
    "parse_users",
    "verify_password",
]
