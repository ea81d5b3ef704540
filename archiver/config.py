"""Settings helpers shared by every layer: typed overrides, the environment, the User-Agent.

Scrapy-free; loading the project settings as `scrapy crawl` does is archiver.crawler.project.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, MutableMapping
from typing import Any

SETTINGS_MODULE = "archiver.settings"
ENV_PREFIX = "ARCHIVER_"


class SettingError(ValueError):
    """A setting value that cannot be used (wrong type, unknown name)."""


def coerce(name: str, raw: str, default: Any) -> Any:
    """Convert a textual override to the type of the setting's default."""
    if isinstance(default, bool):
        low = raw.strip().lower()
        if low in {"1", "true", "yes", "on"}:
            return True
        if low in {"0", "false", "no", "off", ""}:
            return False
        raise SettingError(f"{name}: expected a boolean (true/false), got {raw!r}")
    if isinstance(default, int):
        try:
            return int(raw.replace("_", ""))
        except ValueError:
            raise SettingError(f"{name}: expected an integer, got {raw!r}") from None
    if isinstance(default, float):
        try:
            return float(raw)
        except ValueError:
            raise SettingError(f"{name}: expected a number, got {raw!r}") from None
    if isinstance(default, list):
        return [part.strip() for part in raw.split(",") if part.strip()]
    return raw


def apply_environment(namespace: MutableMapping[str, Any], environ: Any = None) -> list[str]:
    """Override ARCHIVER_* names in a settings namespace from same-named environment variables."""
    env = os.environ if environ is None else environ
    applied = []
    for name in [n for n in namespace if n.startswith(ENV_PREFIX)]:
        if name in env:
            namespace[name] = coerce(name, env[name], namespace[name])
            applied.append(name)
    return applied


def user_agent(contact_url: str) -> str:
    """The User-Agent: the project, its version, and where site owners can reach the operator."""
    from archiver import __version__

    return f"news-archiver/{__version__} (+{contact_url})"


def parse_overrides(pairs: Iterable[str]) -> dict[str, str]:
    """Parse `-s NAME=VALUE` pairs, as `scrapy crawl` takes them."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise SettingError(f"invalid -s value {pair!r}: use NAME=VALUE")
        out[name.strip()] = value
    return out
