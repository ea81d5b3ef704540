"""Dates as written: the rules of rules/dates.toml, ISO values of metadata, days in text."""

from __future__ import annotations

import re
import tomllib
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from dateutil import parser as date_parser

DATES_FILE = Path(__file__).resolve().parent.parent / "rules" / "dates.toml"
FIRST_YEAR = 1995
_HAS_TIME = re.compile(r"\d{1,2}:\d{2}")
_MONTH_WORD = r"[^\W\d_]{3,12}"
_DEFAULT_A = datetime(2000, 1, 1)
_DEFAULT_B = datetime(2004, 2, 2)
_ISO_LIKE = re.compile(r"^\s*(?:19|20)\d\d-\d\d-\d\d")


@dataclass(frozen=True)
class DateRules:
    """rules/dates.toml, compiled: weights, metadata keys, regions, labels, patterns, months."""

    weights: Mapping[str, float]
    meta_published: frozenset[str]
    meta_generic: frozenset[str]
    meta_modified: frozenset[str]
    exclude_words: frozenset[str]
    exclude_tags: frozenset[str]
    footer_words: frozenset[str]
    article_classes: frozenset[str]
    byline_links: frozenset[str]  # path segments of links to an author's page, not a teaser's
    comment_words: str  # a regex alternation of [regions].comments
    dateline_class: re.Pattern[str]
    published_label: re.Pattern[str]
    modified_label: re.Pattern[str]
    now_label: re.Pattern[str]  # the reader's own time ("It is currently ..."): no evidence
    month_first: frozenset[str]
    patterns: tuple[re.Pattern[str], ...]
    patterns_without_year: tuple[re.Pattern[str], ...]  # "14 Mar", "Mar 14": day and month
    months: Mapping[str, int]


def _words_regex(
    words: list[str], *, at_end: bool = False, weekday: bool = False
) -> re.Pattern[str]:
    """One of words; `at_end`: as the last words of a text (a label just before a date),
    `weekday`: then perhaps one more word, a weekday ("It is currently Sun Dec 06, 2026")."""
    alternation = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    if at_end:
        day_name = r"(?:[^\W\d_]{2,12}\.?,?\s*)?" if weekday else ""
        return re.compile(
            rf"(?:^|[^\w])(?:{alternation})\s*[:\-\u2013\u2014]?\s*(?:on|le|am|el|il|op|dnia)?\s*"
            rf"{day_name}$",
            re.I,
        )
    return re.compile(rf"(?:{alternation})", re.I)


def compile_rules(data: Mapping[str, Any]) -> DateRules:
    """DateRules from the parsed TOML; raises ValueError on a malformed file."""
    months: dict[str, int] = {}
    for lang, names in data["months"].items():
        if len(names) != 12:
            raise ValueError(f"dates.toml months.{lang}: expected 12 entries")
        for number, spellings in enumerate(names, start=1):
            for name in str(spellings).split("|"):
                months.setdefault(name.lower(), number)
    # A word of letters, looked up in `months` once matched: an alternation of a few hundred
    # names tried at every position made the patterns ten times slower.
    patterns, without_year = (
        tuple(re.compile(p.replace("{months}", _MONTH_WORD), re.I) for p in data["patterns"][key])
        for key in ("days", "days_without_year")
    )
    dateline = data["dateline"]
    return DateRules(
        weights={k: float(v) for k, v in data["weights"].items()},
        meta_published=frozenset(k.lower() for k in data["meta"]["published"]),
        meta_generic=frozenset(k.lower() for k in data["meta"]["generic"]),
        meta_modified=frozenset(k.lower() for k in data["meta"]["modified"]),
        exclude_words=frozenset(w.lower() for w in data["regions"]["exclude"]),
        exclude_tags=frozenset(data["regions"]["tags"]),
        footer_words=frozenset(w.lower() for w in data["regions"]["footer"]),
        article_classes=frozenset(w.lower() for w in data["regions"]["article_classes"]),
        byline_links=frozenset(w.lower() for w in data["regions"]["byline_links"]),
        comment_words="|".join(re.escape(w.lower()) for w in data["regions"]["comments"]),
        dateline_class=_words_regex(dateline["classes"]),
        published_label=_words_regex(dateline["published_labels"], at_end=True),
        modified_label=_words_regex(dateline["modified_labels"], at_end=True),
        now_label=_words_regex(dateline["now_labels"], at_end=True, weekday=True),
        month_first=frozenset(t.lower() for t in data["order"]["month_first"]),
        patterns=patterns,
        patterns_without_year=without_year,
        months=months,
    )


@cache
def date_rules() -> DateRules:
    """The packaged rules/dates.toml, read once per process."""
    return compile_rules(tomllib.loads(DATES_FILE.read_text(encoding="utf-8")))


def month_first(lang: str | None, rules: DateRules) -> bool:
    """Whether the page's language writes numeric dates month first (en-US, not en-GB)."""
    if not lang:
        return False
    tag = lang.replace("_", "-").strip().lower()
    return tag in rules.month_first


def make_day(year: int, month: int, day: int) -> date | None:
    """The calendar day, or None when it does not exist or is out of the plausible range."""
    if year < 100:
        year += 2000 if year < 70 else 1900
    if year < FIRST_YEAR:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def find_days(text: str, rules: DateRules, lang: str | None) -> Iterator[tuple[int, date]]:
    """(offset in text, day) of each calendar day written in text, in text order."""
    found: list[tuple[int, int, date]] = []
    taken: list[tuple[int, int]] = []
    us = month_first(lang, rules)
    for pattern in rules.patterns:
        for match in pattern.finditer(text):
            start, end = match.span()
            if any(start < e and s < end for s, e in taken):
                continue
            day = _match_day(match, rules, us)
            if day is not None:
                taken.append((start, end))
                found.append((start, end, day))
    for start, _, day in sorted(found, key=lambda item: item[0]):
        yield start, day


def days_without_year(text: str, rules: DateRules) -> Iterator[tuple[int, int]]:
    """(day, month) of each day written with a month name and no year, in text order."""
    found: list[tuple[int, int, int]] = []
    for pattern in rules.patterns_without_year:
        for match in pattern.finditer(text):
            month = rules.months.get(match["mon"].lower())
            number = int(match["d"])
            if month is not None and 1 <= number <= 31:
                found.append((match.start(), number, month))
    for _, number, month in sorted(found):
        yield number, month


def _match_day(match: re.Match[str], rules: DateRules, us: bool) -> date | None:
    groups = match.groupdict()
    year = int(groups["y"])
    if groups.get("mon"):
        month = rules.months.get(groups["mon"].lower())
        if month is None:
            return None
        return make_day(year, month, int(groups["d"]))
    if groups.get("a"):
        first, second = int(groups["a"]), int(groups["b"])
        if first > 12 or (not us and second <= 12):
            return make_day(year, second, first)
        if second > 12 or us:
            return make_day(year, first, second)
        return None
    return make_day(year, int(groups["m"]), int(groups["d"]))


def parse_stamp(value: Any) -> datetime | date | None:
    """A metadata value (ISO 8601 or a common textual form) as a datetime, or a date if it has no time."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > 60:
        return None
    parsed: datetime | None = None
    if _ISO_LIKE.match(text):
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
        except ValueError:
            parsed = None
    if parsed is None:
        try:
            with warnings.catch_warnings():
                # "EST" and the like: the time is kept, without an offset.
                warnings.simplefilter("ignore", date_parser.UnknownTimezoneWarning)
                parsed = date_parser.parse(text, default=_DEFAULT_A)
                # Parts missing from the text come from the default: a year alone is no day.
                other = date_parser.parse(text, default=_DEFAULT_B)
                if other.date() != parsed.date():
                    return None
        except (ValueError, OverflowError, TypeError):
            return None
    if not FIRST_YEAR <= parsed.year <= 2100:
        return None
    return parsed if _HAS_TIME.search(text) else parsed.date()


def iso_date(value: Any) -> str | None:
    """ISO 8601 form of a date string (with its offset when it has one), or None."""
    parsed = parse_stamp(value)
    if parsed is None:
        return None
    if isinstance(parsed, datetime):
        return parsed.isoformat(timespec="seconds")
    return parsed.isoformat()
