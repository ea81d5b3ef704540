"""Failure classes found on pages the cleaner was not tuned on (issue 12, third round).

Every page here is of our own making (tests/fixtures/html, or built below); each failed
before its mechanism.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

import pytest

from archiver.cleaning import Article, clean_html
from archiver.cleaning.document import count_prose_words
from tests.support.paths import TESTS

FIXTURES = TESTS / "fixtures" / "html"
STORY = "<p>" + "The council approved the new harbour wall after a long debate. " * 4 + "</p>"
MORE = "<p>" + "Work on the foundations starts in March and lasts two summers. " * 4 + "</p>"


def _clean(name: str) -> tuple[Article, dict[str, Any]]:
    expected = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    data = (FIXTURES / f"{name}.html").read_bytes()
    return clean_html(data, expected["url"]), expected


def _story_with(extra: str, lang: str = "en") -> Article:
    html = (
        f'<html lang="{lang}"><head><title>Harbour works start</title></head><body>'
        f"<div><h1>Harbour works start</h1>{STORY}{extra}{MORE}</div></body></html>"
    )
    return clean_html(html)


def test_text_comes_out_in_composed_unicode() -> None:
    article, _ = _clean("quayside-echo.ferry-fares")
    assert "harbour caf\u00e9 will" in article.body
    bengali = _story_with("<p>" + "\u0995\u09c1\u09b7\u09cd\u099f\u09bf\u09df\u09be " * 12 + "</p>")
    assert unicodedata.is_normalized("NFC", bengali.body)
    assert "\u09af\u09bc" in bengali.body and "\u09df" not in bengali.body


def test_a_quoted_posts_dated_signature_stays_and_a_bare_date_line_goes() -> None:
    article, _ = _clean("quayside-echo.ferry-fares")
    assert "\u2014 Island Parents (@islandparents) April 2, 2026" in article.body
    dated = _story_with("<p>April 2, 2026</p>")
    assert "April 2, 2026" not in dated.body


def test_spaces_between_highlighted_tokens_of_code_stay() -> None:
    article, _ = _clean("quayside-echo.ferry-fares")
    assert "fare = base * 1.08" in article.body


@pytest.mark.parametrize(
    ("bar", "lang"),
    [
        ("Comments feed | Comments closed | Trackback URL", "en"),
        ("Aufrufe: 120 | Hinzugefügt von: Ina | Tags: Hafen, Mauer", "de"),
        ("Drukuj | Udostępnij | Skomentuj", "pl"),
    ],
)
def test_a_bar_of_furniture_written_with_pipes_goes(bar: str, lang: str) -> None:
    article = _story_with(f"<p>{bar}</p>", lang)
    assert "|" not in article.body and "long debate" in article.body
    kept = _story_with("<p>The vote was close: 12 | 11, with two members absent today.</p>")
    assert "12 | 11" in kept.body


@pytest.mark.parametrize(
    ("line", "lang"),
    [
        ("Enlarge The new ferry at dusk.", "en"),
        ("Vergrößern Die neue Fähre am Abend.", "de"),
        ("Powiększ Nowy prom o zmierzchu.", "pl"),
        ("Agrandir l'image Le nouveau ferry au crépuscule.", "fr"),
        ("Ampliar imagen El nuevo ferry al atardecer.", "es"),
        ("Rate this article", "en"),
        ("Artikel bewerten", "de"),
        ("Pressemitteilung als PDF", "de"),
        ("Télécharger en PDF", "fr"),
        ("This post contains affiliate links.", "en"),
        ("Dieser Artikel enthält Affiliate-Links.", "de"),
        ("Get the latest news straight to your phone with our app.", "en"),
        ("Lesen Sie das Magazin digital, als Abo oder Einzelheft.", "de"),
        ("Zapraszamy do subskrypcji tygodnika.", "pl"),
        ("(jk/dpa)", "de"),
        ("aja/PAP", "pl"),
    ],
)
def test_zoom_labels_buttons_disclosures_promos_and_signatures_go(line: str, lang: str) -> None:
    article = _story_with(f"<p>{line}</p>", lang)
    assert line not in article.body and "long debate" in article.body


@pytest.mark.parametrize(
    ("teaser", "lang"),
    [
        ("A new cafe opens at the harbour. Read more", "en"),
        ("Ein neues Café öffnet am Hafen. Weiterlesen", "de"),
        ("Nowa kawiarnia w porcie. Czytaj dalej", "pl"),
        ("Un nouveau café ouvre au port. Lire la suite", "fr"),
        ("Abre un nuevo café en el puerto. Leer más", "es"),
    ],
)
def test_a_teaser_ending_in_read_more_goes_and_a_sentence_ending_so_stays(
    teaser: str, lang: str
) -> None:
    article = _story_with(f"<p>{teaser}</p>", lang)
    assert teaser not in article.body and "long debate" in article.body
    sentence = "Residents who want the details can come to the harbour office and read more"
    assert sentence in _story_with(f"<p>{sentence}</p>").body


@pytest.mark.parametrize(
    ("heading", "lang"),
    [("More about ferries", "en"), ("Mehr zu Fähren", "de"), ("Następny artykuł", "pl"),
     ("Article suivant", "fr"), ("Más sobre ferris", "es")],
)  # fmt: skip
def test_more_about_and_next_article_boxes_go(heading: str, lang: str) -> None:
    teasers = '<ul><li><a href="/a">Ferry fares rise again</a></li><li><a href="/b">New quay</a></li></ul>'
    article = _story_with(f"<h3>{heading}</h3>{teasers}", lang)
    assert heading not in article.body and "Ferry fares rise" not in article.body


@pytest.mark.parametrize("heading", ["Author", "Autor", "Autorin", "Auteur", "Autora"])
def test_an_author_heading_ends_the_story(heading: str) -> None:
    bio = "<p>" + "Dana Pryce has covered the islands for the paper for twelve years. " * 2 + "</p>"
    html = _story_with(f"{MORE}<h3>{heading}</h3>{bio}")
    assert "Dana Pryce" not in html.body and "long debate" in html.body


def test_a_box_heading_over_a_list_of_the_storys_own_advice_drops_only_teasers() -> None:
    article, _ = _clean("quayside-echo.ferry-fares")
    assert "Check the timetable on the company's site before you travel" in article.body
    assert "A new cafe opens at the harbour\n" not in article.body


def test_a_dialog_that_opens_with_its_close_button_goes() -> None:
    article, _ = _clean("quayside-echo.ferry-fares")
    assert "Tickets bought online" not in article.body
    assert "Residents of the smaller islands" in article.body


def test_a_content_container_of_short_lines_wins_over_its_longest_part() -> None:
    article, _ = _clean("tidepool-family.harbour-jokes")
    assert article.body.startswith("Children love a good groan")
    assert "1. Why did the seagull sit on the pier?\n\nIt wanted a sea view." in article.body
    assert article.body.endswith("A slobster.")


def test_numbers_are_no_words_for_the_length_floor() -> None:
    assert count_prose_words("95' 88' 81' 74' 3'") == 0
    assert count_prose_words("Lorient lead 1-0 after 14 minutes") == 4


def test_a_live_tickers_entries_named_like_comments_are_the_story() -> None:
    article, _ = _clean("coastline-sport.live-match")
    assert article.is_article, article.reason
    for entry in ("The referee blows the final whistle", "Penalty to Harbour Town",
                  "the ball spends most of its time in midfield."):  # fmt: skip
        assert entry in article.body
    assert "About the club" not in article.body


def test_a_sentence_opening_with_a_verb_like_a_zoom_label_stays() -> None:
    sentence = "Ampliar la red de ferris costará tres millones, dijo el alcalde."
    assert sentence in _story_with(f"<p>{sentence}</p>", "es").body
