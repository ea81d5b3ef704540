"""Publication and modification dates (archiver/cleaning/dates/): one hand-made page per
failure class of issue 16, in tests/fixtures/html/dates/ with the expected days beside them."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from archiver.cleaning import clean_html
from archiver.cleaning.dates import page_dates
from archiver.cleaning.dates.evidence import read_url
from archiver.cleaning.dates.parsing import compile_rules, date_rules, find_days, iso_date
from archiver.cleaning.document import _parse
from archiver.cleaning.metadata import extract_published
from tests.support.paths import TESTS

FIXTURES = TESTS / "fixtures" / "html" / "dates"
PAGES = sorted(p.stem for p in FIXTURES.glob("*.html"))


def _load(name: str) -> tuple[bytes, dict[str, Any]]:
    expected = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return (FIXTURES / f"{name}.html").read_bytes(), expected


def test_every_failure_class_has_a_page() -> None:
    classes = {"hatom", "blogger", "tagline", "gespeichert", "dd", "url", "dc-date",
               "timezone-utc", "timezone-page", "elsewhere", "day-first", "month-first",
               "relabelled", "feed-hint"}  # fmt: skip
    assert all(any(name.startswith(c) for name in PAGES) for c in classes)
    for name in PAGES:
        assert (FIXTURES / f"{name}.json").is_file(), f"{name}.html has no expectations"


@pytest.mark.parametrize("name", PAGES)
def test_fixture_dates(name: str) -> None:
    html, expected = _load(name)
    article = clean_html(html, expected["url"], date_hint=expected.get("hint"))
    assert article.published is not None, name
    assert article.published[:10] == expected["published"], name
    if "modified" in expected:
        assert article.modified is not None and article.modified[:10] == expected["modified"]


@pytest.mark.parametrize("name", PAGES)
def test_benchmark_function_agrees_with_the_cleaner(name: str) -> None:
    html, expected = _load(name)
    if "hint" in expected:
        assert extract_published(html, expected["url"]) is None
    else:
        assert (extract_published(html, expected["url"]) or "")[:10] == expected["published"]


def test_structured_value_keeps_its_time_and_offset() -> None:
    page = (
        b"<html><head><meta property='article:published_time' content='2025-05-12T09:41:00+02:00'>"
        b"</head><body><h1>T</h1></body></html>"
    )
    assert extract_published(page, "https://x.example/a") == "2025-05-12T09:41:00+02:00"


def test_utc_stamp_stays_when_nothing_says_another_day() -> None:
    page = (
        b"<html><head><meta property='article:published_time' content='2020-01-02T02:18Z'></head>"
    )
    assert (
        extract_published(page + b"<body><h1>T</h1></body></html>") == "2020-01-02T02:18:00+00:00"
    )


def test_no_date_anywhere_is_none() -> None:
    page = b"<html lang='en'><body><h1>Title</h1><p>Text without any day in it.</p></body></html>"
    assert extract_published(page, "https://x.example/page") is None


def test_future_and_prehistoric_days_are_not_evidence() -> None:
    doc = _parse("<html><body><h1>T</h1><p class='date'>01.01.2031</p></body></html>")
    assert doc is not None
    found = page_dates(doc, "https://x.example/1990/01/02/x", {}, "de", today=date(2030, 1, 1))
    assert found.published is None


def test_wayback_capture_is_read_as_the_captured_url() -> None:
    url = read_url(
        "https://web.archive.org/web/20131110121040/http://blog.example/2013/04/04/post/"
    )
    assert url.day == date(2013, 4, 4)
    assert url.latest == date(2013, 11, 10)


@pytest.mark.parametrize(
    ("text", "lang", "day"),
    [
        ("Gespeichert von Anna am 24. Juli 2017", "de", date(2017, 7, 24)),
        ("Posted on December 16th, 2012, 7:05 pm", "en", date(2012, 12, 16)),
        ("le 1er janvier 2020", "fr", date(2020, 1, 1)),
        ("24 de julio de 2017", "es", date(2017, 7, 24)),
        ("2023年11月8日", None, date(2023, 11, 8)),
        ("2023.11.02. 오후", "ko", date(2023, 11, 2)),
        ("02/10/2020", "en-GB", date(2020, 10, 2)),
        ("02/10/2020", "en-US", date(2020, 2, 10)),
        ("02/10/2020", "pl", date(2020, 10, 2)),
        ("13/10/2020", "en-US", date(2020, 10, 13)),
        ("01-11-2023", "de", date(2023, 11, 1)),
        ("24.07.17", "de", date(2017, 7, 24)),
        ("14 marca 2024", "pl", date(2024, 3, 14)),
    ],
)
def test_days_in_text(text: str, lang: str | None, day: date) -> None:
    assert [d for _, d in find_days(text, date_rules(), lang)][:1] == [day]


def test_not_a_day() -> None:
    assert list(find_days("45.13.2020 and 31/02/2020", date_rules(), "en-GB")) == []
    assert iso_date("2020") is None
    assert iso_date("Thu, 14 Mar 2024 18:30:00 GMT") == "2024-03-14T18:30:00+00:00"


def test_rules_file_must_have_twelve_months() -> None:
    data = {"months": {"xx": ["a", "b"]}}
    with pytest.raises(ValueError, match="12 entries"):
        compile_rules(data)
