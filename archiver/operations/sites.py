"""The sites file: which sites to crawl, and how, for scheduled runs (TOML).

One ``[sites.NAME]`` table per site, optionally a ``[defaults]`` table whose keys every
site inherits.  Parsed and checked in full before anything runs, so a typo is a clear
error naming the file, the site and the key.  docs/operations.md documents every key;
deploy/sites.example.toml is a commented example.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from archiver.config import ENV_PREFIX, closest, declared_settings
from archiver.operations.recrawl import DEFAULT_AFTER_PUBLICATION, RecrawlPolicy, parse_duration

# Site names become directory names, crawl id prefixes and storage key parts.
SITE_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ][0-9:.+Z-]+)?")

SITE_KEYS = frozenset(
    {
        "start_urls",
        "allowed_domains",
        "max_pages",
        "max_depth",
        "since",
        "min_articles",
        "max_error_rate",
        "enabled",
        "politeness",
        "cleaning",
        "recrawl",
    }
)
# Politeness keys and the Scrapy settings they set for the site's crawl.
POLITENESS_SETTINGS = {
    "download_delay": "DOWNLOAD_DELAY",
    "concurrent_requests_per_domain": "CONCURRENT_REQUESTS_PER_DOMAIN",
    "autothrottle": "AUTOTHROTTLE_ENABLED",
    "autothrottle_start_delay": "AUTOTHROTTLE_START_DELAY",
    "autothrottle_max_delay": "AUTOTHROTTLE_MAX_DELAY",
    "autothrottle_target_concurrency": "AUTOTHROTTLE_TARGET_CONCURRENCY",
    "download_timeout": "DOWNLOAD_TIMEOUT",
    "retry_times": "RETRY_TIMES",
}
CLEANING_KEYS = frozenset({"enabled", "rules_dirs"})
RECRAWL_KEYS = frozenset({"after_publication", "every", "undated_every", "conditional_get"})
# More than this many requests at once to one site is not polite whatever a file says.
MAX_CONCURRENCY_PER_DOMAIN = 8


class SitesError(ValueError):
    """A sites file that cannot be used; the message names the file, site and key."""


@dataclass(frozen=True)
class Politeness:
    """Per-site overrides of Scrapy's politeness settings (only the keys the file gives)."""

    values: Mapping[str, Any] = field(default_factory=dict)

    def scrapy_settings(self) -> dict[str, Any]:
        """The Scrapy settings these overrides set."""
        return {POLITENESS_SETTINGS[k]: v for k, v in self.values.items()}


@dataclass(frozen=True)
class Cleaning:
    """Per-site cleaning overrides: on or off, and extra site rule directories."""

    enabled: bool | None = None
    rules_dirs: tuple[Path, ...] = ()

    def scrapy_settings(self) -> dict[str, Any]:
        """The ARCHIVER_CLEAN_* settings these overrides set."""
        out: dict[str, Any] = {}
        if self.enabled is not None:
            out["ARCHIVER_CLEAN_ENABLED"] = self.enabled
        if self.rules_dirs:
            out["ARCHIVER_CLEAN_RULES_DIRS"] = [str(p) for p in self.rules_dirs]
        return out


@dataclass(frozen=True)
class SiteConfig:
    """One site of the sites file, with the defaults applied."""

    name: str
    start_urls: tuple[str, ...]
    allowed_domains: tuple[str, ...]
    max_pages: int | None = None
    max_depth: int | None = None
    since: str | None = None
    # Fewer articles seen than this makes the run a problem; None: judge from earlier runs.
    min_articles: int | None = None
    max_error_rate: float | None = None
    enabled: bool = True
    politeness: Politeness = field(default_factory=Politeness)
    cleaning: Cleaning = field(default_factory=Cleaning)
    recrawl: RecrawlPolicy = field(default_factory=RecrawlPolicy)

    def scrapy_settings(self) -> dict[str, Any]:
        """Scrapy settings the site overrides (politeness and cleaning)."""
        return {**self.politeness.scrapy_settings(), **self.cleaning.scrapy_settings()}

    def since_date(self, now: datetime | None = None) -> datetime | None:
        """The `since` cut-off: a date, or a duration back from now ("2d")."""
        if not self.since:
            return None
        try:
            age = parse_duration(self.since)
        except ValueError:
            parsed = datetime.fromisoformat(self.since.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        return (now or datetime.now(UTC)) - age


@dataclass(frozen=True)
class SitesFile:
    """Every site of one sites file, in file order."""

    path: Path
    sites: dict[str, SiteConfig]

    def get(self, name: str) -> SiteConfig:
        """The named site; SitesError listing the known names otherwise."""
        try:
            return self.sites[name]
        except KeyError:
            known = ", ".join(self.sites) or "none"
            raise SitesError(f"{self.path}: no site {name!r} (sites: {known})") from None

    def enabled(self) -> list[SiteConfig]:
        """Sites that `archiver crawl --all` runs."""
        return [s for s in self.sites.values() if s.enabled]


class _Checker:
    """Type checks that raise SitesError naming where the bad value is."""

    def __init__(self, path: Path, where: str) -> None:
        self.path = path
        self.where = where

    def fail(self, key: str, message: str) -> SitesError:
        return SitesError(f"{self.path}: {self.where}: {key}: {message}")

    def keys(self, table: Mapping[str, Any], allowed: frozenset[str], prefix: str = "") -> None:
        for key in table:
            if key in allowed:
                continue
            if key.startswith(ENV_PREFIX):
                known = [n for n in declared_settings() if n.startswith(ENV_PREFIX)]
                guesses = closest(key, known)
                what = "a setting" if key in known else "no setting"
                if guesses and key not in known:
                    what += f" (did you mean {' or '.join(guesses)}?)"
                raise self.fail(
                    prefix + key,
                    f"{what}, and settings are not site keys: set them in archiver.toml, "
                    "the environment or with -s",
                )
            guesses = difflib.get_close_matches(key, sorted(allowed), n=2, cutoff=0.6)
            hint = f"did you mean {' or '.join(prefix + g for g in guesses)}? " if guesses else ""
            raise self.fail(
                prefix + key, f"unknown key ({hint}known: {', '.join(sorted(allowed))})"
            )

    def table(self, value: Any, key: str) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a table, got {type(value).__name__}")
        return value

    def boolean(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, got {value!r}")
        return value

    def integer(self, value: Any, key: str, low: int, high: int | None = None) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"must be a whole number, got {value!r}")
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise self.fail(key, f"must be {bound}, got {value}")
        return value

    def number(self, value: Any, key: str, low: float, high: float | None = None) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, f"must be a number, got {value!r}")
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise self.fail(key, f"must be {bound}, got {value}")
        return float(value)

    def strings(self, value: Any, key: str) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.fail(key, "must be a list of non-empty strings")
        return [v.strip() for v in value]

    def duration(self, value: Any, key: str) -> timedelta:
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise self.fail(key, str(exc)) from None


def _merge(defaults: Mapping[str, Any], site: Mapping[str, Any]) -> dict[str, Any]:
    """Site values over defaults; the politeness, cleaning and recrawl tables merge key by key."""
    merged = dict(defaults)
    for key, value in site.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _start_urls(check: _Checker, raw: Any) -> tuple[str, ...]:
    urls = check.strings(raw, "start_urls")
    if not urls:
        raise check.fail("start_urls", "give at least one URL (homepage, feed or sitemap)")
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise check.fail("start_urls", f"not an http(s) URL: {url!r}")
    return tuple(urls)


def _politeness(check: _Checker, raw: Any) -> Politeness:
    table = check.table(raw, "politeness")
    check.keys(table, frozenset(POLITENESS_SETTINGS), "politeness.")
    values: dict[str, Any] = {}
    for key, value in table.items():
        name = f"politeness.{key}"
        if key == "autothrottle":
            values[key] = check.boolean(value, name)
        elif key == "concurrent_requests_per_domain":
            values[key] = check.integer(value, name, 1, MAX_CONCURRENCY_PER_DOMAIN)
        elif key == "retry_times":
            values[key] = check.integer(value, name, 0, 10)
        elif key in ("autothrottle_target_concurrency", "download_timeout"):
            values[key] = check.number(value, name, 0.1)
        else:
            values[key] = check.number(value, name, 0.0)
    return Politeness(values)


def _cleaning(check: _Checker, raw: Any, base: Path) -> Cleaning:
    table = check.table(raw, "cleaning")
    check.keys(table, CLEANING_KEYS, "cleaning.")
    enabled = check.boolean(table["enabled"], "cleaning.enabled") if "enabled" in table else None
    dirs = []
    for value in check.strings(table.get("rules_dirs", []), "cleaning.rules_dirs"):
        path = Path(value).expanduser()
        # Relative to the sites file, so a deployment directory can be moved as a whole.
        path = path if path.is_absolute() else base / path
        if not path.is_dir():
            raise check.fail("cleaning.rules_dirs", f"{value!r} is not a directory ({path})")
        dirs.append(path)
    return Cleaning(enabled, tuple(dirs))


def _recrawl(check: _Checker, raw: Any) -> RecrawlPolicy:
    table = check.table(raw, "recrawl")
    check.keys(table, RECRAWL_KEYS, "recrawl.")
    after: tuple[timedelta, ...] = DEFAULT_AFTER_PUBLICATION
    if "after_publication" in table:
        values = table["after_publication"]
        if not isinstance(values, list):
            raise check.fail("recrawl.after_publication", "must be a list of durations")
        after = tuple(
            check.duration(v, f"recrawl.after_publication[{i}]") for i, v in enumerate(values)
        )
    every = check.duration(table["every"], "recrawl.every") if "every" in table else None
    undated: timedelta | None = timedelta(days=1)
    if "undated_every" in table:
        value = table["undated_every"]
        undated = None if value == "never" else check.duration(value, "recrawl.undated_every")
    conditional = True
    if "conditional_get" in table:
        conditional = check.boolean(table["conditional_get"], "recrawl.conditional_get")
    return RecrawlPolicy(after, every, undated, conditional)


def _site(name: str, raw: Mapping[str, Any], path: Path) -> SiteConfig:
    check = _Checker(path, f"site {name!r}")
    check.keys(raw, SITE_KEYS)
    if "start_urls" not in raw:
        raise check.fail("start_urls", "missing (homepages, feeds or sitemaps to start from)")
    start_urls = _start_urls(check, raw["start_urls"])
    domains = check.strings(raw.get("allowed_domains", []), "allowed_domains")
    if not domains:
        domains = sorted({urlsplit(u).hostname or "" for u in start_urls} - {""})
    since = raw.get("since")
    if since is not None:
        if not isinstance(since, str):
            raise check.fail("since", f"must be a date (YYYY-MM-DD) or a duration, got {since!r}")
        try:
            parse_duration(since)
        except ValueError:
            if not _DATE.fullmatch(since):
                raise check.fail("since", f"{since!r} is neither a date nor a duration") from None
            try:
                datetime.fromisoformat(since.replace("Z", "+00:00"))
            except ValueError:
                raise check.fail("since", f"{since!r} is not a valid date") from None
    return SiteConfig(
        name=name,
        start_urls=start_urls,
        allowed_domains=tuple(d.lower().lstrip(".") for d in domains),
        max_pages=check.integer(raw["max_pages"], "max_pages", 1) if "max_pages" in raw else None,
        max_depth=check.integer(raw["max_depth"], "max_depth", 0) if "max_depth" in raw else None,
        since=since,
        min_articles=check.integer(raw["min_articles"], "min_articles", 0)
        if "min_articles" in raw
        else None,
        max_error_rate=check.number(raw["max_error_rate"], "max_error_rate", 0.0, 1.0)
        if "max_error_rate" in raw
        else None,
        enabled=check.boolean(raw.get("enabled", True), "enabled"),
        politeness=_politeness(check, raw.get("politeness", {})),
        cleaning=_cleaning(check, raw.get("cleaning", {}), path.parent),
        recrawl=_recrawl(check, raw.get("recrawl", {})),
    )


def parse_sites(text: str, path: Path) -> SitesFile:
    """Parse and check a sites file's text; SitesError says what is wrong and where."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SitesError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(doc) - {"defaults", "sites"})
    if unknown:
        raise SitesError(
            f"{path}: unknown top-level key(s) {unknown}: use [defaults] and [sites.NAME]"
        )
    defaults = doc.get("defaults", {})
    if not isinstance(defaults, dict):
        raise SitesError(f"{path}: [defaults] must be a table")
    _Checker(path, "[defaults]").keys(defaults, SITE_KEYS - {"start_urls"})
    sites_raw = doc.get("sites", {})
    if not isinstance(sites_raw, dict) or not sites_raw:
        raise SitesError(f"{path}: no sites: add a [sites.NAME] table with start_urls")
    sites: dict[str, SiteConfig] = {}
    for name, raw in sites_raw.items():
        if not SITE_NAME.fullmatch(name):
            raise SitesError(
                f"{path}: site name {name!r}: use lower-case letters, digits, '.', '_' or '-' "
                "(it names directories and storage keys)"
            )
        if not isinstance(raw, dict):
            raise SitesError(f"{path}: [sites.{name}] must be a table")
        sites[name] = _site(name, _merge(defaults, raw), path)
    return SitesFile(path, sites)


def load_sites(path: str | Path) -> SitesFile:
    """Read and check a sites file; SitesError when it is missing or wrong."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SitesError(
            f"{file}: no such sites file (set ARCHIVER_SITES_FILE; see deploy/sites.example.toml)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SitesError(f"{file}: cannot read: {exc}") from None
    return parse_sites(text, file)
