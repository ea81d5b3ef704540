"""The cleaner's mechanisms for pages it was never tuned on (issue 12), one failure class each.

Every page here is of our own making (tests/fixtures/html); each failed before its mechanism.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from lxml import etree

from archiver.cleaning import Article, clean_html, count_words
from archiver.cleaning.pruning import class_words
from archiver.cleaning.rulebook import keyword_regex
from tests.support.paths import TESTS

FIXTURES = TESTS / "fixtures" / "html"


def _clean(name: str) -> tuple[Article, dict[str, Any]]:
    expected = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    data = (FIXTURES / f"{name}.html").read_bytes()
    return clean_html(data, expected["url"]), expected


def _page(body: str, title: str = "Harbour works start") -> str:
    return f"<html><head><title>{title}</title></head><body>{body}</body></html>"


def test_wrapper_named_like_boilerplate_keeps_the_story() -> None:
    # article.type-podcast > div.widget-wrap > the notes: every wrapper has a drop word.
    article, _ = _clean("tidewater-radio.episode-notes")
    assert article.is_article, article.reason
    assert article.body.startswith("This week we sat down with three former lighthouse keepers")
    assert "price of a coffee" not in article.body  # the sidebar still goes


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("The ferry leaves at nine, every day.", 7),
        ("黄浦江将开通一条新的夜间轮渡航线", 8),  # 16 ideographs, two to a word
        ("ภาษาไทยง่าย", 6),
        ("日本語のテキスト and English", 6),
    ],
)
def test_words_of_scripts_without_spaces_are_counted_by_letters(text: str, words: int) -> None:
    assert count_words(text) == words


def test_chinese_article_is_not_too_short() -> None:
    article, _ = _clean("huangpu-bulletin.ferry-route")
    assert article.is_article, article.reason
    assert article.body.count("\n\n") == 3  # all four paragraphs
    assert article.word_count > 100


def test_short_real_article_is_kept_and_a_stub_is_not() -> None:
    article, _ = _clean("millbrook-gazette.short-notice")
    assert article.is_article, article.reason
    stub = clean_html(_page("<h1>Harbour works start</h1><p>Work starts on Monday.</p>"))
    assert not stub.is_article and stub.reason and "words" in stub.reason


def test_story_parts_around_a_promo_are_taken_together_in_order() -> None:
    article, _ = _clean("coastline-monthly.cliff-path-reopens")
    body = article.body
    assert body.index("two winters of landslips") < body.index("when the puffins return")
    assert "coastal walks" not in body


def test_forum_thread_is_not_a_listing_and_a_section_front_still_is() -> None:
    thread, _ = _clean("spokes-forum.chain-wear-thread")
    assert thread.is_article, thread.reason
    assert "two cheap chains are cheaper" in thread.body
    front, _ = _clean("metro-tribune.section-world")
    assert not front.is_article
    heads = "".join(
        f'<h3><a href="/world/{i}">Talks on the river border resume in the capital {i}</a></h3>'
        f"<p>Negotiators met again on day {i} of the talks, and both sides said progress was slow.</p>"
        for i in range(8)
    )
    listing = clean_html(_page(f"<div><h1>World</h1>{heads}</div>", "World"))
    assert not listing.is_article and listing.reason and "list of links" in listing.reason


def test_comment_section_is_recognised_by_its_heading() -> None:
    article, _ = _clean("lindenhof-blog.kompost-im-winter")
    assert article.body.endswith("duftet nach Wald.")


STORY = "<p>" + "The council approved the new harbour wall after a long debate. " * 4 + "</p>"
MORE = "<p>" + "Work on the foundations starts in March and lasts two summers. " * 4 + "</p>"
COMMENT = (
    "<p>" + "I live by the harbour and I think the wall is far too low for storms. " * 3 + "</p>"
)


@pytest.mark.parametrize("heading", ["Comments (2)", "12 comments", "Leave a Reply", "Komentarze"])
def test_comment_headings_with_or_without_a_count_end_the_story(heading: str) -> None:
    html = _page(f"<div><h1>Harbour works start</h1>{STORY}{MORE}<h3>{heading}</h3>{COMMENT}</div>")
    article = clean_html(html)
    assert "far too low" not in article.body and "long debate" in article.body


def test_a_comments_link_above_the_story_ends_nothing() -> None:
    share = '<p><a href="#comments">Comments</a></p>'
    article = clean_html(_page(f"<div><h1>Harbour works start</h1>{share}{STORY}{MORE}</div>"))
    assert "long debate" in article.body and "two summers" in article.body


def test_soft_hyphens_and_zero_width_spaces_are_removed() -> None:
    article, _ = _clean("rheinufer-anzeiger.faehre-fahrplan")
    for char in ("\u00ad", "\u200b", "\u2060"):
        assert char not in article.body and char not in (article.title or "")
        assert char not in article.body_html
    assert "Zwanzigminutentakt" in article.body


def test_author_bio_and_consent_placeholder_are_not_the_story() -> None:
    article, _ = _clean("fenland-courier.drainage-board-vote")
    assert article.body.startswith("The internal drainage board voted")
    assert article.body.endswith("for a typical home.")


def test_a_post_of_short_lines_is_taken_from_its_container() -> None:
    # Every line is shorter than prose ("Mara: Leipzig."): no container scores above zero.
    article, _ = _clean("filmtausch-blog.zwei-kameras")
    assert article.is_article, article.reason
    assert article.body.startswith("Orte\n\nMara: Leipzig.")
    assert "Jonas belichtet zuerst." in article.body
    assert "Teilen mit" not in article.body and "Neueste Beiträge" not in article.body


def test_short_lines_of_a_section_front_are_still_no_article() -> None:
    article, _ = _clean("metro-tribune.section-world")
    assert not article.is_article and article.body == ""


def test_story_paragraphs_in_a_header_element_are_kept() -> None:
    # <header> beside a picture holding three paragraphs; the site's <header> (a <nav>) goes.
    article, _ = _clean("lakeside-games.athletes-in-form")
    assert "won the spring regatta on the lake" in article.body
    assert "then rest for the three weeks before the heats begin." in article.body
    assert "keep a boat beside every lane" in article.body
    assert "Tickets\n" not in article.body and "News" not in article.body


def test_a_class_word_after_non_no_or_not_drops_nothing() -> None:
    regex = keyword_regex(["paywall", "sidebar"])
    assert regex is not None
    for words in ("row non-paywall", "no-sidebar", "layout not-sidebar", "c-non-paywall"):
        assert regex.search(class_words(etree.fromstring(f'<p class="{words}"/>'))) is None
    for words in ("paywall", "piano paywall", "piano-paywall", "has-sidebar", "nonav sidebar"):
        assert regex.search(class_words(etree.fromstring(f'<p class="{words}"/>'))), words
    article, _ = _clean("harbourside-times.pier-repairs")
    assert article.body.startswith("The north pier will reopen")
    assert article.body.endswith("the fishing platform will follow later in the summer.")


def test_numbered_figure_captions_legends_and_buy_boxes_go() -> None:
    harbour, _ = _clean("harbourside-times.pier-repairs")
    works, _ = _clean("stadtwerke-nordheim.fernwaerme-ausbau")
    for gone in ("Figure 1:", "Instant access", "This entry was posted"):
        assert gone not in harbour.body
    for gone in ("Abbildung 2:", "Blau: fertige Abschnitte", "Klicken Sie auf den unteren"):
        assert gone not in works.body


def test_components_named_cmp_hold_the_story_and_a_cmp_banner_goes() -> None:
    # Adobe Experience Manager names every component cmp-*; consent platforms name theirs
    # cmp-banner, cmpbox ...
    article, _ = _clean("stadtwerke-nordheim.fernwaerme-ausbau")
    assert article.body.startswith("Die Stadtwerke Nordheim haben die neue Fernwärmeleitung")
    assert article.body.endswith("in der Reihenfolge der Anmeldungen gelegt.")
    assert "Cookies" not in article.body


def test_ruby_readings_stay_out_and_link_addresses_are_escaped() -> None:
    ruby = "<p>法律<ruby>虐待<rp>(</rp><rt>ぎゃくたい</rt><rp>)</rp></ruby>をなくすための法律ができました。</p>"
    link = f'<p>See <a href="/Ergebnisse Übersicht">the results</a>. {STORY[3:-4]}</p>'
    article = clean_html(
        _page(f"<div><h1>Harbour works start</h1>{ruby * 4}{link}{MORE}</div>"),
        "https://news.example/a",
    )
    assert "虐待をなくす" in article.body and "ぎゃくたい" not in article.body
    assert 'href="https://news.example/Ergebnisse%20%C3%9Cbersicht"' in article.body_html
