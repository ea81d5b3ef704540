"""The cleaner's mechanisms for pages it was never tuned on (issue 12), one failure class each.

Every page here is of our own making (tests/fixtures/html); each failed before its mechanism.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from archiver.cleaning import Article, clean_html, count_words
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
