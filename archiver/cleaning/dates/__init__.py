"""A page's publication and modification dates, by weighing evidence rather than first match.

evidence.py collects every statement of a day (metadata, <time>, datelines, labels, the URL,
the feed or sitemap date the spider saw) with the weight rules/dates.toml gives its kind;
this module weighs them per day, keeps the site's local day when a UTC timestamp crosses
midnight, and reports `published` (the first publication) and `modified` (the latest edit).
docs/cleaning.md ("Dates") describes the evidence and its order.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from lxml import etree

from archiver.cleaning.dates.evidence import (
    Evidence,
    in_comments,
    in_markup,
    in_text,
    on_page,
    read_url,
    structured,
)
from archiver.cleaning.dates.parsing import DateRules, date_rules, iso_date, parse_stamp
from archiver.cleaning.dates.yearless import in_url_month
from archiver.cleaning.jsonld import jsonld_objects, read_jsonld

__all__ = ["DateRules", "Evidence", "PageDates", "date_rules", "iso_date", "page_dates"]

# Visible evidence with less than this weight does not stop the scan of the running text.
STRONG = 5.0
# Kinds of metadata (JSON-LD, meta, URL, feed) that, agreeing, make reading the page's
# elements unnecessary (it changed no result on htmldate-eval-dev; reading them is the cost).
SETTLED_KINDS = 2
# The schema.org type of a live blog, whose top entry is not a republication.
LIVE_TYPE = "LiveBlogPosting"


@dataclass(frozen=True)
class PageDates:
    """The page's first publication and latest modification, ISO 8601 (a day, or with time)."""

    published: str | None
    modified: str | None


def page_dates(
    doc: etree._Element,
    url: str | None,
    meta: Mapping[str, str],
    lang: str | None,
    hint: str | None = None,
    *,
    html: str | None = None,
    today: date | None = None,
    rules: DateRules | None = None,
    jsonld: list[Any] | None = None,
) -> PageDates:
    """Weigh the page's date evidence; `hint` is the feed or sitemap date the spider saw.

    `html`, the page's text, is searched for ISO days when nothing else dates the page;
    `jsonld` is the page's parsed JSON-LD (archiver.cleaning.jsonld), read here when not given.
    """
    rules = rules or date_rules()
    w = rules.weights
    jsonld_items = read_jsonld(doc) if jsonld is None else jsonld
    evidence = structured(doc, meta, rules, jsonld_items)
    page_url = read_url(url)
    if page_url.day:
        evidence.append(Evidence("url", page_url.day, w["url"], raw=page_url.day.isoformat()))
    hinted = _hint(hint, w["hint"])
    if hinted:
        evidence.append(hinted)
    h1 = None
    if not _settled(evidence):
        page, h1 = on_page(doc, rules, lang)
        evidence.extend(page)
    # A teaser's date counts little, but a page that prints dates is not read as running text.
    if not any(e.weight >= STRONG or e.teaser for e in evidence if not e.modified):
        main_article = next(h1.iterancestors("article"), None) if h1 is not None else None
        evidence.extend(in_text(doc, h1, rules, lang, main_article))
    if page_url.month and not any(e.weight >= STRONG for e in evidence if not e.modified):
        evidence.extend(in_url_month(doc, h1, page_url.month, rules))
    latest = (today or date.today()) + timedelta(days=1)
    if page_url.latest:
        latest = min(latest, page_url.latest)
    if not any(not e.modified and e.day <= latest for e in evidence):
        evidence.extend(in_comments(doc, rules, lang, latest))
    if not any(not e.modified and e.day <= latest for e in evidence) and html is not None:
        evidence.extend(in_markup(html, w["markup"], latest))
    evidence = [e for e in evidence if e.day <= latest]
    _local_days(evidence)
    published = _weigh([e for e in evidence if not e.modified], page_url.month, w["url_month"])
    modified = _weigh([e for e in evidence if e.modified], None, 0.0)
    if published and modified and modified.day > published.day and not _live(jsonld_items):
        published = _republished(evidence, published, modified)
    if published and modified and modified.day < published.day:
        modified = None
    return PageDates(_report(published), _report(modified))


def _republished(evidence: list[Evidence], published: Evidence, modified: Evidence) -> Evidence:
    """A republished page: the dateline printed next to the headline, with no "updated"
    label, shows the day of the latest edit. The site presents the page as published that
    day (readers and search engines see it), so `published` takes it."""
    shown = next(
        (e for e in evidence if e.kind in ("time", "dateline") and e.rank == 0
         and not e.modified and not e.teaser),
        None,
    )  # fmt: skip
    return shown if shown is not None and shown.day == modified.day else published


def _live(jsonld: list[Any]) -> bool:
    """Whether the page is a live blog (JSON-LD LiveBlogPosting): its first publication is
    the start of the coverage, and the day printed on top is its latest entry's."""
    for item in jsonld_objects(jsonld, ("@graph", "mainEntity")):
        kinds = item.get("@type")
        if LIVE_TYPE in (kinds if isinstance(kinds, list) else [kinds]):
            return True
    return False


def _settled(evidence: list[Evidence]) -> bool:
    """Whether the metadata alone settles `published`: two or more kinds of it agree on one
    day, nothing states another, and no timestamp is in UTC (whose local day the page's
    printed dates may correct). Reading the page's elements then changes nothing."""
    published = [e for e in evidence if not e.modified]
    kinds = {e.kind for e in published}
    return (
        len(kinds) >= SETTLED_KINDS
        and len({e.day for e in published}) == 1
        and not any(e.stamp is not None and not e.stamp.utcoffset() for e in published)
    )


def _hint(hint: str | None, weight: float) -> Evidence | None:
    parsed = parse_stamp(hint)
    if isinstance(parsed, datetime):
        stamp = parsed if parsed.tzinfo is not None else None
        return Evidence("hint", parsed.date(), weight, stamp, parsed.isoformat(timespec="seconds"))
    if parsed is not None:
        return Evidence("hint", parsed, weight, raw=parsed.isoformat())
    return None


def _local_days(evidence: list[Evidence]) -> None:
    """Move UTC timestamps to the site's local day.

    A site that writes one timestamp with its own offset tells its time zone: UTC values
    are read in it. Without one, a UTC value whose day is one off from a day the page
    states without a time (its URL, its dateline, the feed) crossed midnight: that day wins.
    """
    offsets = Counter(off for e in evidence if e.stamp is not None and (off := e.stamp.utcoffset()))
    local = timezone(offsets.most_common(1)[0][0]) if offsets else None
    plain: dict[date, dict[str, float]] = defaultdict(dict)
    for e in evidence:
        if (
            e.stamp is None
            and e.kind not in ("text", "markup")
            and not (e.modified or e.teaser or e.rank)
        ):
            kinds = plain[e.day]
            kinds[e.kind] = max(kinds.get(e.kind, 0.0), e.weight)
    support = {day: sum(kinds.values()) for day, kinds in plain.items()}
    for e in evidence:
        if e.stamp is None or e.stamp.utcoffset():
            continue
        if local is not None:
            e.day = e.stamp.astimezone(local).date()
            continue
        # Time zones run from UTC-12 to UTC+14: only so early a time can be the day before
        # somewhere, only so late a time the day after.
        minutes = e.stamp.hour * 60 + e.stamp.minute
        here = support.get(e.day, 0.0)
        before = support.get(e.day - timedelta(days=1), 0.0) if minutes < 12 * 60 else 0.0
        after = support.get(e.day + timedelta(days=1), 0.0) if minutes >= 10 * 60 else 0.0
        if before > max(here, after):
            e.day -= timedelta(days=1)
        elif after > max(here, before):
            e.day += timedelta(days=1)


def _weigh(
    evidence: list[Evidence], url_month: tuple[int, int] | None, month_bonus: float
) -> Evidence | None:
    """The best-supported day's strongest evidence: per day, each kind counts once (its best)."""
    if not evidence:
        return None
    per_kind: dict[date, dict[str, Evidence]] = defaultdict(dict)
    for e in evidence:
        best = per_kind[e.day].get(e.kind)
        if best is None or e.weight > best.weight:
            per_kind[e.day][e.kind] = e

    def score(day: date) -> tuple[float, float, int]:
        total = sum(e.weight for e in per_kind[day].values())
        if url_month and (day.year, day.month) == url_month:
            total += month_bonus
        strongest = max(e.weight for e in per_kind[day].values())
        # Ties: the stronger single statement, then the earlier day (the first publication).
        return total, strongest, -day.toordinal()

    day = max(per_kind, key=score)
    return max(per_kind[day].values(), key=lambda e: e.weight)


def _report(e: Evidence | None) -> str | None:
    if e is None:
        return None
    if e.raw[:10] == e.day.isoformat():
        return e.raw
    return e.day.isoformat()
