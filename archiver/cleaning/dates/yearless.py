"""A dateline without its year ("14 Mar", a blog's calendar badge), dated by the URL.

A blog whose archive path carries the year and month (/2020/03/slug.html) often prints the
day and month alone beside the headline. When nothing stronger dates the page, such a
dateline whose month is the URL's month gives the day, in the URL's year. The patterns are
data ([patterns].days_without_year of rules/dates.toml); docs/cleaning.md ("Dates") has the
place of this evidence among the others.
"""

from __future__ import annotations

from datetime import date

from lxml import etree

from archiver.cleaning.dates.evidence import (
    DATELINE_CHARS,
    Evidence,
    candidates,
    element_text,
    excluded,
    headline_ancestors,
)
from archiver.cleaning.dates.parsing import DateRules, days_without_year, make_day


def in_url_month(
    doc: etree._Element,
    h1: etree._Element | None,
    month: tuple[int, int],
    rules: DateRules,
) -> list[Evidence]:
    """The day of the dateline nearest the headline that names the URL's month without a
    year; none when no dateline does."""
    keep = headline_ancestors(h1)
    main_article = next(h1.iterancestors("article"), None) if h1 is not None else None
    h1_index = 0
    found: list[tuple[int, date]] = []
    for index, el in enumerate(candidates(doc)):
        if el is h1:
            h1_index = index
            continue
        if el.tag in ("h1", "h2") or not rules.dateline_class.search(
            f"{el.get('class') or ''} {el.get('id') or ''}"
        ):
            continue
        text = element_text(el, DATELINE_CHARS)
        if not text:
            continue
        for day_number, month_number in days_without_year(text, rules):
            if month_number != month[1]:
                continue
            day = make_day(month[0], month_number, day_number)
            if day is not None and not excluded(el, rules, main_article, keep):
                found.append((index, day))
            break
    if not found:
        return []
    _, day = min(found, key=lambda item: (abs(item[0] - h1_index), item[0] < h1_index))
    return [Evidence("dateline", day, rules.weights["dateline"], raw=day.isoformat())]
