"""Publication dates on hand-made held-out pages (tests/fixtures/dates/, all text invented).

Each round of pages was written, with the dates a reader would call the page's publication
and latest edit, before the extractor was run on it: WordPress, Drupal, Blogger, Ghost,
Medium- and Substack-like pages, JSON-LD @graph with UTC days crossing midnight, microdata,
Open Graph and Dublin Core only, datelines in six languages, relative dates with tooltips,
dates only in the URL, numeric dates in both orders, forums, sidebars, comments, updated and
republished pages, live blogs, listings, and pages with no date at all.
docs/cleaning.md ("Dates") has the scores, ours and htmldate's, before and after.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from archiver.cleaning import clean_html
from archiver.cleaning.dates.evidence import headline, on_page, read_url
from archiver.cleaning.dates.parsing import date_rules, days_without_year
from archiver.cleaning.document import _parse
from archiver.cleaning.metadata import extract_published
from tests.support.paths import TESTS

FIXTURES = TESTS / "fixtures" / "dates"
EXPECTED: dict[str, dict[str, Any]] = {
    name: page
    for name, page in json.loads((FIXTURES / "expected.json").read_text(encoding="utf-8")).items()
    if not name.startswith("_")
}
PAGES = sorted(EXPECTED)


def test_every_page_has_its_expectations() -> None:
    assert len(PAGES) >= 30
    assert {p.stem for p in FIXTURES.glob("*.html")} == set(PAGES)
    assert sum(EXPECTED[name]["published"] is None for name in PAGES) >= 2  # undated pages


@pytest.mark.parametrize("name", PAGES)
def test_published(name: str) -> None:
    page = EXPECTED[name]
    found = extract_published((FIXTURES / f"{name}.html").read_bytes(), page["url"])
    assert (found[:10] if found else None) == page["published"]


@pytest.mark.parametrize("name", [n for n in PAGES if "modified" in EXPECTED[n]])
def test_cleaner_keeps_published_and_modified(name: str) -> None:
    page = EXPECTED[name]
    article = clean_html((FIXTURES / f"{name}.html").read_bytes(), page["url"])
    assert (article.published or "")[:10] == page["published"]
    assert (article.modified or "")[:10] == page["modified"]


def test_a_forum_clock_is_no_date() -> None:
    html = (
        "<html><body><h1>Board</h1><p class='time'>It is currently Sun Dec 06, 2026 8:14 pm</p>"
        "<p>Nothing else here.</p></body></html>"
    )
    assert extract_published(html, "https://forum.example/viewtopic.php?t=1") is None


def test_a_date_written_into_the_slug_dates_the_page() -> None:
    assert str(read_url("https://radio.example/news/strike-ends-2019-04-12").day) == "2019-04-12"
    assert str(read_url("https://radio.example/report_2019-04-12.html").day) == "2019-04-12"
    assert read_url("https://radio.example/item-2019-04-123").day is None


def test_a_day_without_a_year_needs_the_urls_month() -> None:
    assert list(days_without_year("14 Mar", date_rules())) == [(14, 3)]
    assert list(days_without_year("Mar 14th", date_rules())) == [(14, 3)]
    assert list(days_without_year("14 March 2020", date_rules())) == []
    page = "<html><body><h2>Bench</h2><div class='post-date'>14 Mar</div><p>Text.</p></body></html>"
    assert extract_published(page, "https://blog.example/2020/03/bench.html") == "2020-03-14"
    assert extract_published(page, "https://blog.example/2020/04/bench.html") is None
    assert extract_published(page, "https://blog.example/bench.html") is None


def test_a_heading_linked_to_this_page_or_its_author_is_no_teaser() -> None:
    byline = (
        "<html><body><header><h1>Story</h1><div class='byline'>"
        "<h4><a href='{href}'>Ann Lee</a></h4><span class='date'>9 Aug 2022</span>"
        "</div></header><p>Text.</p></body></html>"
    )
    for href, teaser in (("/author/ann/", False), ("#comments", False), ("/other-story/", True)):
        doc = _parse(byline.format(href=href))
        assert doc is not None
        found, _ = on_page(doc, date_rules(), "en")
        assert found, href
        assert {(str(e.day), e.teaser) for e in found} == {("2022-08-09", teaser)}, href


def test_the_logo_is_no_headline() -> None:
    page = (
        "<html><body><h1 class='logo'><a href='/'>The Record</a></h1><h2>Fire contained</h2>"
        "<p>Text.</p></body></html>"
    )
    doc = _parse(page)
    assert doc is not None
    found = headline(doc, date_rules())
    assert found is not None and found.text == "Fire contained"
