"""The cleaner on every article of the bundled sample site (archiver/devserver/samplesite/)."""

from __future__ import annotations

import json

import lxml.html
import pytest
from cssselect import HTMLTranslator

from archiver.cleaning import Article, clean_html
from archiver.devserver.samplesite import (
    EXPECTED_DIR,
    SITE_ROOT,
    PageInfo,
    file_for_path,
    site_manifest,
)

BASE = "http://127.0.0.1:8080"
ARTICLES = [p for p in site_manifest(BASE) if p.kind == "article"]

# Where each template prints its story: the standfirst and the body's paragraphs and
# subheadings, in page order. The clean body must be exactly these blocks.
STORY = {
    "daily-ledger": "p.standfirst, .story-body > p, .story-body > h2",
    "metro-wire": ".story-text > p:not(.read-more)",
    "kurier-poranny": "p.lead, .tresc > p, .tresc > h2",
    "ce-herald": "p.lead, .article-body p, .article-body h2",
    "harbour-notes": ".post-text > p",
}
# What each template prints around the story; none of its text may reach the body.
BOILERPLATE = {
    "daily-ledger": ".kicker, .byline, .dateline, .share-tools, figcaption, .related-inline, "
    ".newsletter-box, .story-footer, .most-read, .network-bar, .masthead, footer",
    "metro-wire": "#cookie-consent, .network-bar, .hdr, .ad-wrap, .section-tag, .story-meta, "
    ".read-more, .story-tags, .comments-cta, .trending, .ftr",
    "kurier-poranny": "#rodo-popup, .network-bar, .naglowek, .pasek-pogody, .okruszki, "
    ".metryczka, .podpis, .zrodlo, .czytaj-takze, .reklama, .tagi, .najnowsze, .stopka",
    "ce-herald": ".network-bar, .site-header, .article-meta, .category, .sticky-bar, "
    "figcaption, .photo-caption, .photo-source, .related-content, .site-footer",
    "harbour-notes": ".topbar, .masthead, .menu, .dateline, .byline, .share, .tags, .support, "
    ".around, .foot",
}


def _served(page: PageInfo) -> bytes:
    file = file_for_path(SITE_ROOT, page.path)
    assert file is not None, page.path
    return file.read_bytes().replace(b"{{BASE}}", BASE.encode())


def _clean(page: PageInfo) -> Article:
    return clean_html(_served(page), page.url, content_type=page.media_type)


def _texts(page: PageInfo, css: str) -> list[str]:
    doc = lxml.html.document_fromstring(_served(page).decode(page.charset))
    found = doc.xpath(HTMLTranslator().css_to_xpath(css))
    assert isinstance(found, list)
    return [
        " ".join(el.text_content().split()) for el in found if isinstance(el, lxml.html.HtmlElement)
    ]


def test_every_template_is_covered() -> None:
    assert len(ARTICLES) == 34
    assert {p.template for p in ARTICLES} == set(STORY) == set(BOILERPLATE)


@pytest.mark.parametrize("page", ARTICLES, ids=[p.path for p in ARTICLES])
def test_article_cleans_to_its_title_and_story_only(page: PageInfo) -> None:
    article = _clean(page)
    assert page.template is not None
    assert article.is_article, article.reason
    assert article.title == page.title
    story = _texts(page, STORY[page.template])
    assert len(story) >= 5
    assert article.body == "\n\n".join(story)
    boilerplate = [t for t in _texts(page, BOILERPLATE[page.template]) if t]
    assert len(boilerplate) >= 5
    blocks = article.body.split("\n\n")
    for text in boilerplate:
        # Short labels ("City", "Advertisement") are ordinary words of the story too.
        kept = text in article.body if len(text) >= 25 else text in blocks
        assert not kept, f"kept boilerplate {text!r}"


def test_seed_page_cleans_to_exactly_the_expected_article() -> None:
    expected = json.loads((EXPECTED_DIR / "seed-article.json").read_text(encoding="utf-8"))
    (page,) = [p for p in ARTICLES if p.path == expected["url_path"]]
    article = _clean(page)
    assert article.title == expected["title"]
    assert article.body == expected["body"]
    # The lead sits outside the body's container, after the picture and its credit.
    assert article.body.startswith("Russia cannot allow NATO infrastructure")
