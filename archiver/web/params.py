"""The search page's query string: parsed into a SearchQuery, and links that change one part.

The same parameters serve the page, the JSON API and the downloads, so a search is shared by
its URL: ?q=&site=&author=&from=&to=&lang=&page=&sort=.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from typing import Literal
from urllib.parse import urlencode

from archiver.search import SearchQuery
from archiver.search.model import MAX_PER_PAGE

FIELDS = ("q", "site", "author", "lang", "from", "to", "sort", "page")
# A page number past this is refused: deep pages cost the index more and nobody reads them.
MAX_PAGE = 1000


class ParamError(ValueError):
    """A query-string value that cannot be used; the message is one line for the reader."""


def parse_day(value: str, *, end: bool) -> date | None:
    """YYYY-MM-DD, or YYYY-MM (its first or, for an end, last day), or YYYY; None when empty."""
    value = value.strip()
    if not value:
        return None
    try:
        if len(value) == 4 and value.isdigit():
            return date(int(value), 12, 31) if end else date(int(value), 1, 1)
        if len(value) == 7 and value[4] == "-":
            year, month = int(value[:4]), int(value[5:])
            last = calendar.monthrange(year, month)[1]
            return date(year, month, last if end else 1)
        return date.fromisoformat(value)
    except ValueError:
        shown = value[:40]
        raise ParamError(f"not a date: {shown!r} (use YYYY-MM-DD)") from None


@dataclass(frozen=True)
class Params:
    """The query string's search fields, as text (for the form and links)."""

    q: str = ""
    site: str = ""
    author: str = ""
    lang: str = ""
    since: str = ""
    until: str = ""
    sort: str = "relevance"
    page: int = 1

    @classmethod
    def from_query(cls, get: dict[str, str]) -> Params:
        """From request query parameters (missing ones empty)."""
        page_text = (get.get("page") or "1").strip()
        try:
            page = int(page_text)
        except ValueError:
            page = 0
        return cls(
            q=get.get("q", ""),
            site=get.get("site", "").strip(),
            author=get.get("author", "").strip(),
            lang=get.get("lang", "").strip(),
            since=get.get("from", "").strip(),
            until=get.get("to", "").strip(),
            sort=get.get("sort", "").strip() or "relevance",
            page=page,
        )

    @property
    def searched(self) -> bool:
        """Whether anything was asked (else the page shows only the search box)."""
        return bool(
            self.q.strip() or self.site or self.author or self.lang or self.since or self.until
        )

    @property
    def filtered(self) -> bool:
        """Whether a filter is set (the page offers to clear them)."""
        return bool(self.site or self.author or self.lang or self.since or self.until)

    def query(self, *, page: int | None = None, per_page: int = 20) -> SearchQuery:
        """The SearchQuery these parameters ask for (ParamError for a bad value)."""
        if self.sort not in ("relevance", "date"):
            raise ParamError(f"sort must be 'relevance' or 'date', not {self.sort[:40]!r}")
        number = self.page if page is None else page
        if not 1 <= number <= MAX_PAGE:
            raise ParamError(f"page must be a number from 1 to {MAX_PAGE}")
        sort: Literal["relevance", "date"] = "date" if self.sort == "date" else "relevance"
        return SearchQuery(
            text=self.q,
            site=self.site or None,
            author=self.author or None,
            since=parse_day(self.since, end=False),
            until=parse_day(self.until, end=True),
            language=self.lang or None,
            sort=sort,
            page=number,
            per_page=min(per_page, MAX_PER_PAGE),
        )

    def form(self) -> dict[str, str]:
        """The values the form shows (keys as in the query string)."""
        return {
            "q": self.q,
            "site": self.site,
            "author": self.author,
            "lang": self.lang,
            "from": self.since,
            "to": self.until,
            "sort": "" if self.sort == "relevance" else self.sort,
        }

    def url(self, path: str = "/", **changes: str | int) -> str:
        """path with these parameters, some changed ("" drops one); page 1 is left out."""
        values: dict[str, str | int] = {**self.form(), "page": self.page}
        values.update(changes)
        pairs = [
            (name, str(values[name]))
            for name in FIELDS
            if values.get(name) not in ("", None) and not (name == "page" and values[name] == 1)
        ]
        return path + ("?" + urlencode(pairs) if pairs else "")


def month_range(month: str) -> tuple[str, str]:
    """The first and last day of a YYYY-MM facet value, as the from/to a facet link sets."""
    first = parse_day(month, end=False)
    last = parse_day(month, end=True)
    if first is None or last is None:
        raise ParamError(f"not a month: {month!r}")
    return first.isoformat(), last.isoformat()
