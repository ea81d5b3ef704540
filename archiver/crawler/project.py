"""Loading project settings the same way for `scrapy crawl` and every `archiver` command."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from scrapy.utils.project import get_project_settings

from archiver.config import SETTINGS_MODULE, parse_overrides


def load_settings(overrides: Iterable[str] = ()) -> Any:
    """Project settings (scrapy.cfg or archiver.settings) plus `-s NAME=VALUE` overrides."""
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", SETTINGS_MODULE)
    settings = get_project_settings()
    for name, value in parse_overrides(overrides).items():
        settings.set(name, value, priority="cmdline")
    return settings
