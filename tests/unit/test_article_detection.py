"""Article pages told apart from other pages without og:type or JSON-LD (issue 16).

The spider's cheap pre-test (discovery.parse) makes candidates of pages without article
markup; the cleaner's judgement (cleaning.pagekind) keeps the articles among them, in the
clean pipeline.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from archiver.cleaning import Article, clean_html
from archiver.cleaning.pagekind import judge_article
from archiver.crawler.items import ArticleItem
from archiver.devserver.samplesite import SITE_ROOT
from archiver.discovery import analyze_html
from pipelines.clean import CleanPipeline, clean_to_dict
from tests.support.samplesite import OFFLINE_BASE, SECTIONS, served_bytes

PROSE = (
    "The council met on Tuesday evening to discuss the harbour budget, and after a long "
    "debate it agreed to spend part of the reserve on the sea wall before the winter storms."
)
STORY = "".join(f"<p>{PROSE} Paragraph {i} adds its own detail to the story.</p>" for i in range(6))


def _page(body: str, head: str = "", title: str = "Council agrees harbour budget") -> str:
    return f"<html><head><title>{title}</title>{head}</head><body>{body}</body></html>"


def _article(body: str) -> str:
    return _page(
        "<div class='post'><h1>Council agrees harbour budget</h1>"
        "<p class='byline'>By Ann Other</p><p class='date'>3 November 2026</p>"
        f"<div class='text'>{body}</div></div>"
    )


def _teasers(paragraph: bool) -> str:
    out = []
    for i in range(6):
        link = f"<a href='/story-{i}'>Headline number {i} about the harbour</a>"
        blurb = f"A short blurb of story {i}, one sentence about what happened at the harbour."
        if paragraph:
            out.append(f"<p><strong>{link}</strong> {blurb} 3 November 2026.</p>")
        else:
            out.append(f"<h2>{link}</h2><p>{blurb}</p><p><a href='/story-{i}'>Read more</a></p>")
    return "".join(out)


def _judge(html: str, url: str = "https://news.example/notes/budget") -> tuple[bool, str]:
    kind = judge_article(clean_html(html, url))
    return kind.is_article, kind.reason


# --- the cleaner's judgement ------------------------------------------------------------------


def test_an_unmarked_article_with_headline_byline_and_running_text_is_an_article() -> None:
    is_article, reason = _judge(_article(STORY))
    assert is_article, reason
    assert reason.startswith("headline, ") and "byline" in reason


def test_teasers_opening_with_a_link_to_their_story_are_a_listing() -> None:
    intro = f"<p>{PROSE}</p>"
    is_article, reason = _judge(_article(intro + _teasers(paragraph=True)))
    assert not is_article
    assert reason == "a listing: 6 of 7 blocks are links to stories"


def test_linked_headlines_with_blurbs_and_read_more_are_not_an_article() -> None:
    is_article, reason = _judge(_article(_teasers(paragraph=False)))
    assert not is_article
    assert "list" in reason


def test_links_in_running_text_do_not_make_a_listing() -> None:
    linked = "".join(
        f"<p>{PROSE} The <a href='/minutes-{i}'>minutes of the meeting</a> are online.</p>"
        for i in range(6)
    )
    is_article, reason = _judge(_article(linked))
    assert is_article, reason


def test_a_results_table_with_linked_names_is_not_taken_for_teasers() -> None:
    rows = "".join(
        f"<tr><td>{i}</td><td><a href='/crew/{i}'>Crew of boat number {i}</a></td><td>{90 - i}</td></tr>"
        for i in range(12)
    )
    is_article, reason = _judge(_article(f"<p>{PROSE}</p><p>{PROSE}</p><table>{rows}</table>"))
    assert is_article, reason


def test_a_short_unsigned_page_is_not_an_article_but_a_long_one_is() -> None:
    short = _page(f"<h1>Council agrees harbour budget</h1><p>{PROSE}</p><p>{PROSE}</p>")
    is_article, reason = _judge(short)
    assert not is_article
    assert reason.startswith("no dateline or byline")
    long = _page("<h1>Council agrees harbour budget</h1>" + STORY)
    assert _judge(long)[0]


def test_a_page_of_short_lines_has_no_running_text() -> None:
    lines = [f"<p>Berth {i}: boat number {i * 7}, {i + 5} metres</p>" for i in range(40)]
    body_html = "\n".join([f"<p>{PROSE}</p>", *lines])
    article = Article(
        title="Berths", body="text", body_html=body_html, is_article=True, authors=["Ann Other"]
    )
    kind = judge_article(article)
    assert not kind.is_article
    assert kind.reason == "no running text (32 of 312 words in paragraphs)"


def test_the_cleaners_own_refusal_is_kept_as_the_reason() -> None:
    kind = judge_article(clean_html(_page("<p>Too short.</p>"), "https://news.example/x"))
    assert not kind.is_article
    assert kind.reason.startswith("no article body found")


# --- the spider's pre-test --------------------------------------------------------------------


def test_a_page_without_markup_and_with_enough_text_is_a_candidate() -> None:
    info = analyze_html(_article(STORY), "https://news.example/notes/budget")
    assert not info.is_article and info.candidate
    assert info.reason.startswith("candidate: no article markup, ")


@pytest.mark.parametrize(
    ("html", "url"),
    [
        (_article(STORY), "https://news.example/"),
        (_article(STORY), "https://news.example/tag/harbour"),
        (_article("<p>Just a line.</p>"), "https://news.example/notes/budget"),
        (
            _article(STORY),
            "https://news.example/notes",
        ),
    ],
    ids=["front-page", "tag-path", "little-text", "json-ld-collection"],
)
def test_front_pages_tag_paths_short_pages_and_collections_are_no_candidates(
    html: str, url: str
) -> None:
    if url.endswith("/notes"):
        head = '<script type="application/ld+json">{"@type": "CollectionPage"}</script>'
        html = html.replace("<head>", "<head>" + head)
    info = analyze_html(html, url)
    assert not info.is_article and not info.candidate, info.reason


def test_many_linked_headlines_with_short_blurbs_are_no_candidate() -> None:
    teasers = _teasers(paragraph=False) + _teasers(paragraph=False).replace("story-", "more-")
    info = analyze_html(_page(teasers), "https://news.example/latest")
    assert not info.candidate, info.reason


def test_og_website_and_a_website_graph_no_longer_decide_alone() -> None:
    # Many sites print og:type=website, or a WebSite node in every page's JSON-LD graph.
    head = '<meta property="og:type" content="website">'
    info = analyze_html(_article(STORY).replace("<head>", "<head>" + head), "https://n.example/b")
    assert info.candidate and "og:type website" in info.reason
    graph = '<script type="application/ld+json">{"@graph": [{"@type": "WebSite"}]}</script>'
    info = analyze_html(_article(STORY).replace("<head>", "<head>" + graph), "https://n.example/b")
    assert info.candidate


def test_an_article_shaped_url_with_text_outside_paragraphs_is_a_candidate() -> None:
    html = _page("<h1>Harbour</h1><div>" + "Text in a div with line breaks.<br>" * 40 + "</div>")
    info = analyze_html(html, "https://blog.example/2020/04/harbour-budget-agreed.html")
    assert info.candidate and "little text" in info.reason


def test_marked_up_articles_are_still_articles_not_candidates() -> None:
    head = '<meta property="og:type" content="article">'
    info = analyze_html(_article(STORY).replace("<head>", "<head>" + head), "https://n.example/b")
    assert info.is_article and not info.candidate


# --- the clean pipeline -----------------------------------------------------------------------


def _served(path: str) -> bytes:
    return served_bytes(SITE_ROOT, path, OFFLINE_BASE)


def _item(path: str, detection: str) -> ArticleItem:
    return ArticleItem(
        url=OFFLINE_BASE + path,
        fetched_at="2026-11-20T10:00:00Z",
        status=200,
        content_type="text/html; charset=utf-8",
        body=_served(path),
        detection=detection,
    )


def _run(pipeline: CleanPipeline, item: ArticleItem) -> Any:
    return asyncio.run(pipeline.process_item(item))


@pytest.mark.parametrize("workers", [1, 2], ids=["thread", "process-pool"])
def test_the_pipeline_keeps_candidate_articles_and_drops_candidate_listings(workers: int) -> None:
    crawler = get_crawler(
        settings_dict={"ARCHIVER_CLEAN_ENABLED": True, "ARCHIVER_CLEAN_WORKERS": workers}
    )
    stats = crawler.stats
    assert stats is not None
    pipeline = CleanPipeline.from_crawler(crawler)
    pipeline.open_spider()
    try:
        path = "/notes/harbour-wall-reopens"
        info = analyze_html(_served(path), OFFLINE_BASE + path)
        assert info.candidate
        kept = _run(pipeline, _item(path, info.reason))
        assert isinstance(kept, ArticleItem)
        assert kept.article["is_article"] and kept.article["title"].startswith("Harbour wall")
        assert "_page_kind" not in kept.article
        assert "; judged an article: headline, " in str(kept.detection)
        assert kept.body == b""
        for listing in ("/notes/week-in-review", "/notes/from-the-archive"):
            info = analyze_html(_served(listing), OFFLINE_BASE + listing)
            assert info.candidate, listing
            with pytest.raises(DropItem, match="not an article"):
                _run(pipeline, _item(listing, info.reason))
        # A page marked up as an article is not judged again.
        marked = _run(pipeline, _item(path, "og:type article"))
        assert marked.detection == "og:type article"
    finally:
        pipeline.close_spider()
    values = stats.get_stats()
    assert values["archiver/clean/candidates_kept"] == 1
    assert values["archiver/clean/candidates_dropped"] == 2
    assert values["archiver/clean/not_article"] == 2
    assert values["archiver/clean/articles"] == 2
    assert values["archiver/spider/articles"] == 1


def test_clean_to_dict_judges_only_candidates() -> None:
    body = _served("/notes/from-the-archive")
    url = OFFLINE_BASE + "/notes/from-the-archive"
    plain = clean_to_dict(body, url, "text/html")
    assert plain["is_article"]  # the cleaner alone finds a body of teasers
    judged = clean_to_dict(body, url, "text/html", candidate=True)
    assert not judged["is_article"]
    assert (
        judged["reason"] == judged["_page_kind"] == "a listing: 6 of 6 blocks are links to stories"
    )


def test_every_sample_site_section_is_judged_no_article() -> None:
    for page in SECTIONS:
        article = clean_html(_served(page.path), page.url, content_type=page.media_type)
        assert not judge_article(article).is_article, page.path
