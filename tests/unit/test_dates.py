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


# Mechanisms added for pages never seen (generalisation work on issue 16), each on a page
# of our own making.


@pytest.mark.parametrize(
    ("text", "lang", "day"),
    [
        ("الأربعاء، 07 أكتوبر 2020 - 12:09 م", "ar", date(2020, 10, 7)),
        ("2020. augusztus 19., 11:00", "hu", date(2020, 8, 19)),
        ("ngày 19 tháng 8 năm 2020", "vi", date(2020, 8, 19)),
        ("18. elokuuta 2020", "fi", date(2020, 8, 18)),
        ("5 Οκτωβρίου 2019", "el", date(2019, 10, 5)),
        ("14 septembrie 2019", "ro", date(2019, 9, 14)),
        ("12 בינואר 2021", "he", date(2021, 1, 12)),
        ("3. svibnja 2018.", "hr", date(2018, 5, 3)),
    ],
)
def test_days_in_more_languages(text: str, lang: str, day: date) -> None:
    assert [d for _, d in find_days(text, date_rules(), lang)][:1] == [day]


def test_metadata_written_in_words_is_read() -> None:
    page = (
        "<html lang='ar'><head><meta property='article:published_time' "
        "content='الخميس، 03 مارس 2022 - 09:15 ص'></head><body><h1>عنوان</h1></body></html>"
    ).encode()
    assert extract_published(page, "https://x.example/news/1") == "2022-03-03"


def test_later_labels_in_more_languages_are_not_publication() -> None:
    page = (
        b"<html lang='de'><body><h1>Titel</h1>"
        b"<div class='info'>Letzte \xc3\x84nderung: 14.01.2022</div>"
        b"<p class='date'>10.01.2022</p><p>Text.</p></body></html>"
    )
    article = clean_html(page, "https://x.example/eintrag/7")
    assert article.published == "2022-01-10"
    assert article.modified == "2022-01-14"


_TEASERS = (
    "<ul class='list'>"
    + "".join(
        f"<li><h3><a href='/story-{n}'>Another story number {n}</a></h3>"
        f"<p class='date'><time datetime='2021-11-{n}'>Nov {n}, 2021</time></p></li>"
        for n in (20, 21, 22)
    )
    + "</ul>"
)


def test_teasers_of_other_pages_count_little() -> None:
    page = (
        "<html lang='en'><body><div class='story'><h1>Our story</h1>"
        "<p>By <a href='/a/ann'>Ann</a> <time itemprop='datePublished' datetime='2021-11-02'>"
        "Nov 2</time></p><p>Body text.</p></div>" + _TEASERS + "</body></html>"
    ).encode()
    assert extract_published(page, "https://x.example/our-story") == "2021-11-02"


def test_a_listing_is_dated_by_its_first_teaser() -> None:
    page = ("<html lang='en'><body><h1>Latest news</h1>" + _TEASERS + "</body></html>").encode()
    assert extract_published(page, "https://x.example/news/") == "2021-11-20"


def test_teasers_do_not_move_a_utc_stamp_to_their_day() -> None:
    page = (
        "<html lang='en'><head><script type='application/ld+json'>"
        '{"@type": "WebPage", "datePublished": "2021-11-19T19:35:33+00:00"}</script></head>'
        "<body><h1>Our story</h1><p>Body text.</p>"
        "<ul>" + "".join(
            f"<li><a class='title' href='/e{n}'>Event {n}</a><div class='info'>20.11.2021</div></li>"
            for n in range(3)
        ) + "</ul></body></html>"
    ).encode()  # fmt: skip
    assert (extract_published(page, "https://x.example/our-story") or "")[:10] == "2021-11-19"


def test_an_unmarked_dateline_beside_the_headline() -> None:
    page = (
        b"<html lang='de'><body><div><p>02.02.2022 10:16 Uhr - Sport</p>"
        b"<h1>Ein Spieler wechselt</h1><p>Text ohne Tag.</p></div>"
        b"<div class='tabs'><p><small>30.01.2022 - Liga</small></p>"
        b"<p><a href='/n/1'>Eine andere Meldung</a></p></div></body></html>"
    )
    assert extract_published(page, "https://x.example/n/2") == "2022-02-02"


def test_a_footer_class_inside_the_article_is_kept() -> None:
    page = (
        b"<html lang='de'><head><meta name='date' content='2022-01-21T15:38:44+01:00'></head>"
        b"<body><h1>Aktuelles</h1><div class='article'><div class='header'><h3>Im Winter</h3>"
        b"</div><div class='footer'><time itemprop='datePublished' datetime='2022-01-27'>"
        b"27.01.2022</time></div><p>Text.</p></div><div class='footer'>"
        b"<span class='date'>21.01.2022</span></div></body></html>"
    )
    assert extract_published(page, "https://x.example/aktuelles/winter/") == "2022-01-27"


def test_comments_date_a_page_that_nothing_else_dates() -> None:
    page = (
        b"<html lang='de'><body><h1>Rezepte</h1><h2>Leber mit Apfel</h2><p>Zutaten ...</p>"
        b"<ol class='commentlist'>"
        b"<li><small class='commentmetadata'>9. Dezember 2010 um 08:12</small><p>Lecker.</p></li>"
        b"<li><small class='commentmetadata'>8. Dezember 2010 um 10:56</small><p>Gut.</p></li>"
        b"</ol></body></html>"
    )
    assert extract_published(page, "https://x.example/rezepte/leber.htm") == "2010-12-08"


def _republished(dateline: str) -> bytes:
    return (
        "<html lang='de'><head><script type='application/ld+json'>"
        '{"@type": "NewsArticle", "datePublished": "2017-08-21T13:09:00+00:00",'
        ' "dateModified": "2019-04-03T08:04:01+00:00"}</script></head>'
        f"<body><h1>Sieben Berufe</h1><div class='date'>{dateline}</div><p>Text.</p>"
        "</body></html>"
    ).encode()


def test_a_republished_page_is_published_on_the_day_it_shows() -> None:
    article = clean_html(_republished("03.04.2019"), "https://x.example/a/berufe,1")
    assert (article.published or "")[:10] == "2019-04-03"
    assert (article.modified or "")[:10] == "2019-04-03"
    # With an "updated" label the shown day is a later edit: the first publication stays.
    updated = clean_html(_republished("Aktualisiert: 03.04.2019"), "https://x.example/a/b,1")
    assert (updated.published or "")[:10] == "2017-08-21"
    assert (updated.modified or "")[:10] == "2019-04-03"
