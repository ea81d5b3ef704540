"""What a crawl fetches of the requisites it finds: the mode, and the limits that keep it sane.

Scrapy-free.  :class:`RequisitePolicy` holds the ``ARCHIVER_REQUISITE*`` settings, checked;
:class:`RequisiteBudget` is one crawl's bookkeeping: each requisite URL is fetched once per
crawl (so a stylesheet importing itself ends), at most ``per_page`` per page, at most
``per_host`` per host, and no more once a page's requisites have brought ``page_bytes``.
Every refusal is named by an event, which the crawler counts as
``archiver/requisites/<event>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

from archiver.config import SettingError
from archiver.discovery.requisites import LEVELS, MODES, Mode, SrcsetChoice

# Stylesheets importing stylesheets: deeper chains than this are not followed.
MAX_CSS_DEPTH = 5


def _int(values: Mapping[str, Any], name: str) -> int:
    raw = values.get(name)
    try:
        number = int(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise SettingError(f"{name} must be a whole number, not {raw!r}") from None
    if number < 0:
        raise SettingError(f"{name} must not be negative, not {number}")
    return number


def _bool(values: Mapping[str, Any], name: str) -> bool:
    raw = values.get(name)
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise SettingError(f"{name} must be true or false, not {raw!r}")


@dataclass(frozen=True)
class RequisitePolicy:
    """The ARCHIVER_REQUISITE* settings; 0 for a limit means none."""

    mode: Mode = "all"
    all_pages: bool = False
    srcset: SrcsetChoice = "all"
    max_bytes: int = 20 * 1024 * 1024
    per_page: int = 300
    page_bytes: int = 50 * 1024 * 1024
    per_host: int = 100_000

    @property
    def enabled(self) -> bool:
        """Whether any requisite is fetched."""
        return self.mode != "none"

    @property
    def level(self) -> int:
        """The highest requisite level the mode fetches (archiver.discovery.requisites.LEVELS)."""
        return LEVELS[self.mode]

    @classmethod
    def from_settings(cls, values: Mapping[str, Any]) -> RequisitePolicy:
        """Read and check the settings; SettingError names a bad one."""
        mode = str(values.get("ARCHIVER_REQUISITES") or "").strip().lower()
        if mode not in MODES:
            raise SettingError(
                f"ARCHIVER_REQUISITES must be one of {', '.join(MODES)}, not {mode!r}"
            )
        srcset = str(values.get("ARCHIVER_REQUISITES_SRCSET") or "").strip().lower()
        if srcset not in ("all", "largest"):
            raise SettingError(f"ARCHIVER_REQUISITES_SRCSET must be all or largest, not {srcset!r}")
        return cls(
            mode=mode,
            all_pages=_bool(values, "ARCHIVER_REQUISITES_ALL_PAGES"),
            srcset=cast("SrcsetChoice", srcset),
            max_bytes=_int(values, "ARCHIVER_REQUISITE_MAX_BYTES"),
            per_page=_int(values, "ARCHIVER_REQUISITES_PER_PAGE"),
            page_bytes=_int(values, "ARCHIVER_REQUISITE_PAGE_BYTES"),
            per_host=_int(values, "ARCHIVER_REQUISITES_PER_HOST"),
        )


@dataclass
class RequisiteBudget:
    """One crawl's requisite bookkeeping: what was asked for, per page and per host."""

    policy: RequisitePolicy
    seen: set[str] = field(default_factory=set)
    per_host: dict[str, int] = field(default_factory=dict)
    per_page: dict[str, int] = field(default_factory=dict)
    page_bytes: dict[str, int] = field(default_factory=dict)

    def admit(self, page: str, url: str) -> str | None:
        """None when `url` may be requested for `page` (and counts it), else the refusal's event."""
        if url in self.seen:
            return "duplicate"
        policy = self.policy
        if policy.per_page and self.per_page.get(page, 0) >= policy.per_page:
            return "over_page_count"
        if self.over_page_bytes(page):
            return "over_page_bytes"
        host = (urlsplit(url).hostname or "").lower()
        if policy.per_host and self.per_host.get(host, 0) >= policy.per_host:
            return "over_host_cap"
        self.seen.add(url)
        self.per_page[page] = self.per_page.get(page, 0) + 1
        self.per_host[host] = self.per_host.get(host, 0) + 1
        return None

    def charge(self, page: str, size: int) -> None:
        """Count `size` bytes a requisite of `page` brought."""
        self.page_bytes[page] = self.page_bytes.get(page, 0) + size

    def over_page_bytes(self, page: str) -> bool:
        """Whether the requisites of `page` have brought its byte budget already."""
        limit = self.policy.page_bytes
        return bool(limit) and self.page_bytes.get(page, 0) >= limit

    def size_cap(self, page: str) -> int:
        """Bytes a requisite of `page` may bring: the per-resource cap, less if the page's budget is nearly spent (0: no cap)."""
        caps = [self.policy.max_bytes] if self.policy.max_bytes else []
        if self.policy.page_bytes:
            caps.append(max(1, self.policy.page_bytes - self.page_bytes.get(page, 0)))
        return min(caps) if caps else 0
