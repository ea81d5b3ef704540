"""Splitting a user's query into terms; no character is an operator."""

from __future__ import annotations

import re
from dataclasses import dataclass

from archiver.search.model import (
    MAX_PER_PAGE,
    MAX_QUERY_CHARS,
    MAX_QUERY_TERMS,
    SearchQuery,
    SearchQueryError,
)

# A "quoted phrase" (an unclosed quote runs to the end) or a bare run of non-space characters.
_TERM = re.compile(r'"([^"]*)"?|(\S+)')


@dataclass(frozen=True)
class ParsedQuery:
    """The terms of a query as the user typed them: words and the insides of quotes."""

    terms: tuple[str, ...]


def parse(text: str) -> ParsedQuery:
    """The terms of `text`: "quoted phrases" and words; every other character is plain text.

    Each term becomes a phrase of the words the index's analyzer finds in it (engine.py), so
    a hyphenated or dotted word (covid-19, U.S.) matches as the text was split. Text past
    MAX_QUERY_CHARS characters and terms past MAX_QUERY_TERMS are ignored.
    """
    terms: list[str] = []
    for match in _TERM.finditer(text[:MAX_QUERY_CHARS]):
        raw = match.group(1) if match.group(1) is not None else match.group(2)
        if raw.strip() and raw not in terms:
            terms.append(raw)
        if len(terms) == MAX_QUERY_TERMS:
            break
    return ParsedQuery(tuple(terms))


def check(query: SearchQuery) -> None:
    """Raise SearchQueryError when the query's filters or paging cannot be run."""
    if query.page < 1:
        raise SearchQueryError(f"page must be 1 or more, not {query.page}")
    if not 1 <= query.per_page <= MAX_PER_PAGE:
        raise SearchQueryError(
            f"per_page must be between 1 and {MAX_PER_PAGE}, not {query.per_page}"
        )
    if query.since and query.until and query.since > query.until:
        raise SearchQueryError(f"the start date {query.since} is after the end date {query.until}")
    if query.sort not in ("relevance", "date"):
        raise SearchQueryError(f"sort must be 'relevance' or 'date', not {query.sort!r}")
