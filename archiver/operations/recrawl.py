"""Recrawl policy: whether a URL seen in an earlier crawl is fetched again, and how.

Pure functions over what the capture history knows of a URL (archiver.operations.history); the
spider asks before it schedules a request.  docs/operations.md explains the policy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

_DURATION_PART = re.compile(r"(\d+)\s*([smhdw])")
_DURATION = re.compile(r"\s*(?:\d+\s*[smhdw]\s*)+")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}

# Looking again one hour, six hours, a day and a week after publication catches the
# corrections and updates newsrooms make in the first days, then lets an article rest.
DEFAULT_AFTER_PUBLICATION = (
    timedelta(hours=1),
    timedelta(hours=6),
    timedelta(days=1),
    timedelta(days=7),
)


def parse_duration(value: str) -> timedelta:
    """A duration such as "90s", "30m", "6h", "1d", "2w" or "1d12h"; ValueError otherwise."""
    if not isinstance(value, str) or not _DURATION.fullmatch(value.lower()):
        raise ValueError(f"{value!r} is not a duration (use for example 30m, 6h, 1d, 7d)")
    seconds = sum(int(n) * _UNITS[unit] for n, unit in _DURATION_PART.findall(value.lower()))
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest "1d6h"-style spelling of a duration (for logs and reasons)."""
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0s"
    parts = []
    for unit in ("w", "d", "h", "m", "s"):
        count, seconds = divmod(seconds, _UNITS[unit])
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


@dataclass(frozen=True)
class RecrawlPolicy:
    """When an article captured before is fetched again."""

    # Look again once each of these ages since publication has passed since the last fetch.
    after_publication: tuple[timedelta, ...] = DEFAULT_AFTER_PUBLICATION
    # Also look again whenever this long has passed since the last fetch (None: no floor).
    every: timedelta | None = None
    # Articles without a known publication date: look again this often (None: never).
    undated_every: timedelta | None = timedelta(days=1)
    # Send If-None-Match / If-Modified-Since when looking again at an article.
    conditional_get: bool = True

    def __post_init__(self) -> None:
        if any(a < timedelta(0) for a in self.after_publication):
            raise ValueError("after_publication ages must not be negative")
        object.__setattr__(self, "after_publication", tuple(sorted(set(self.after_publication))))


# Slots: a site's history holds one of these per article, all in memory during a crawl.
@dataclass(frozen=True, slots=True)
class KnownPage:
    """What the capture history knows of one URL (the part the policy reads)."""

    url: str
    last_fetch: datetime
    status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    is_article: bool = False
    published: datetime | None = None


@dataclass(frozen=True)
class Decision:
    """Fetch or skip, why, and the conditional headers to send when fetching."""

    fetch: bool
    reason: str
    headers: dict[str, str] = field(default_factory=dict)


def _utc(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def conditional_headers(known: KnownPage) -> dict[str, str]:
    """If-None-Match / If-Modified-Since from the validators of the last capture."""
    headers: dict[str, str] = {}
    if known.etag:
        headers["If-None-Match"] = known.etag
    if known.last_modified:
        headers["If-Modified-Since"] = known.last_modified
    return headers


def decide(
    policy: RecrawlPolicy,
    known: KnownPage | None,
    now: datetime,
    *,
    listed_date: datetime | None = None,
) -> Decision:
    """Whether to fetch a URL now; `listed_date` is the date a feed or sitemap gave for it."""
    if known is None:
        return Decision(True, "new")
    if not known.is_article:
        # Sections, feeds and sitemaps are how new articles are found: always fetched, in
        # full, so their links can be read (an unchanged one becomes a revisit record).
        return Decision(True, "navigation")
    now = _utc(now)
    last = _utc(known.last_fetch)
    headers = conditional_headers(known) if policy.conditional_get else {}
    if listed_date is not None and _utc(listed_date) > last:
        return Decision(True, "listed-as-updated", headers)
    if policy.every is not None and now - last >= policy.every:
        return Decision(True, f"every:{format_duration(policy.every)}", headers)
    published = known.published or listed_date
    if published is not None:
        published = _utc(published)
        for age in policy.after_publication:
            checkpoint = published + age
            if last < checkpoint <= now:
                return Decision(True, f"after-publication:{format_duration(age)}", headers)
        return Decision(False, "recent")
    if policy.undated_every is not None and now - last >= policy.undated_every:
        return Decision(True, f"undated:{format_duration(policy.undated_every)}", headers)
    return Decision(False, "recent")
