"""The article cleaner on fixture pages of distinct template families, and on hostile input."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from archiver.cleaning import (
    Article,
    RuleBook,
    RuleError,
    RuleSource,
    clean_html,
    decode_html,
    default_rulebook,
    extract_body,
    iso_date,
    load_rulebook,
    parse_rules,
)
from tests.support.paths import TESTS

FIXTURES = TESTS / "fixtures" / "html"
PAGES = sorted(p.stem for p in FIXTURES.glob("*.html"))
METADATA_FIELDS = ("title", "authors", "published", "modified", "language", "section",
                   "canonical_url", "image", "is_article")  # fmt: skip


def _load(name: str) -> tuple[bytes, dict[str, Any]]:
    return (FIXTURES / f"{name}.html").read_bytes(), json.loads(
        (FIXTURES / f"{name}.json").read_text(encoding="utf-8")
    )


def _clean(name: str) -> tuple[Article, dict[str, Any]]:
    data, expected = _load(name)
    return clean_html(data, expected["url"], content_type=expected.get("content_type")), expected


def test_enough_fixture_pages() -> None:
    assert len(PAGES) >= 15
    for name in PAGES:
        assert (FIXTURES / f"{name}.json").is_file(), f"{name}.html has no expectations"


@pytest.mark.parametrize("name", PAGES)
def test_fixture_keeps_and_drops(name: str) -> None:
    article, expected = _clean(name)
    assert article.is_article is expected["is_article"], article.reason
    for snippet in expected.get("must_keep", []):
        assert snippet in article.body, f"{name}: lost {snippet!r}"
    for snippet in expected.get("must_drop", []):
        assert snippet not in article.body, f"{name}: kept {snippet!r}"
        assert snippet not in article.body_html, f"{name}: kept {snippet!r} in body_html"
    if "body" in expected:
        assert article.body == expected["body"]


@pytest.mark.parametrize("name", PAGES)
def test_fixture_metadata(name: str) -> None:
    article, expected = _clean(name)
    for field in METADATA_FIELDS:
        if field in expected:
            assert getattr(article, field) == expected[field], f"{name}: {field}"
    if article.is_article:
        assert article.word_count == len(article.body.split()) or article.word_count > 0
        assert article.title and article.title not in article.body.split("\n\n")[:1]
    else:
        assert article.body == "" and article.reason


def test_seed_page_cleans_to_exactly_the_article() -> None:
    article, expected = _clean("cedaily.kremlin-rejects-nato")
    assert article.title == "Kremlin rejects NATO advances, insists on diplomatic hurdles"
    assert article.body == expected["body"]
    assert "Images source" not in article.body and "Related content" not in article.body
    assert article.body.count("The Kremlin sets the conditions") == 0


def test_body_html_keeps_only_structure() -> None:
    article, _ = _clean("ridgeline-cycling.autumn-gravel-tour")
    html = article.body_html
    assert "<h2>Food and water</h2>" in html
    assert "<ul>\n<li>Distance: 86 km</li>" in html
    for tag in ("<div", "<span", "<img", "<script", "class=", "style="):
        assert tag not in html


def test_to_dict_is_json_serialisable() -> None:
    article, _ = _clean("cedaily.kremlin-rejects-nato")
    data = json.loads(json.dumps(article.to_dict()))
    assert data["title"] == article.title
    assert data["authors"] == ["Anna Kowalczyk"]
    assert set(data) >= {"title", "body", "authors", "published", "language", "canonical_url"}


def test_extract_body_is_the_benchmark_contract() -> None:
    data, expected = _load("cedaily.kremlin-rejects-nato")
    assert extract_body(data.decode("utf-8"), expected["url"]) == expected["body"]


# --- encodings ---------------------------------------------------------------------

PARAGRAPH = "Zażółć gęślą jaźń, żółta łódź płynie po rzece, a rybacy łowią śledzie i węgorze."


def _page(charset_meta: str = "") -> str:
    body = "".join(f"<p>{PARAGRAPH} Akapit {i}.</p>" for i in range(8))
    return f"<html><head>{charset_meta}<title>T</title></head><body><article>{body}</article></body></html>"


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (_page().encode("cp1250"), "text/html; charset=windows-1250"),
        (_page('<meta charset="windows-1250">').encode("cp1250"), None),
        (_page('<meta charset="iso-8859-2">').encode("iso-8859-2"), None),
        (b"\xef\xbb\xbf" + _page().encode("utf-8"), "text/html; charset=iso-8859-1"),
        (_page().encode("utf-16"), None),
        (_page().encode("utf-8"), None),
    ],
    ids=["http-header", "meta-charset", "meta-latin2", "bom-beats-header", "utf16-bom", "sniffed"],
)
def test_encodings(data: bytes, content_type: str | None) -> None:
    article = clean_html(data, "https://example.pl/a", content_type=content_type)
    assert article.is_article
    assert PARAGRAPH in article.body


def test_undeclared_latin1_falls_back_to_windows_1252() -> None:
    text = "<p>" + "Le café de la gare a fermé ses portes après trente années. " * 6 + "</p>"
    assert "café" in decode_html(text.encode("cp1252"))


# --- hostile input -----------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [b"", b"   \n", "", b"\x00\x01\x02", b"<", b"</p></div>", b"<?xml version='1.0'?><x/>",
     "<html><body>\x00\x0b text</body></html>", b"\xff\xfe\xfd" * 100, "<p>" * 5000],
    ids=["empty", "blank", "empty-str", "controls", "lt", "closers", "xml", "nul-in-str",
         "garbage", "unclosed"],
)  # fmt: skip
def test_never_raises_and_says_why(data: bytes | str) -> None:
    article = clean_html(data)
    assert isinstance(article, Article)
    assert not article.is_article
    assert article.body == ""
    assert article.reason


def test_deeply_nested_page_is_bounded() -> None:
    html = "<div>" * 3000 + "<p>" + "deep text here " * 40 + "</p>" + "</div>" * 3000
    article = clean_html(html)
    assert isinstance(article, Article)


def test_huge_page_is_cut_not_choked() -> None:
    para = "<p>" + "A long paragraph of real prose, with commas, that goes on. " * 20 + "</p>"
    article = clean_html("<html><body><article>" + para * 20000 + "</article></body></html>")
    assert article.is_article
    assert len(article.body) < 9_000_000


def test_non_article_page_has_no_body_and_a_reason() -> None:
    links = "".join(
        f"<li><h3><a href='/story/{i}'>Headline number {i} about something</a></h3>"
        f"<p>Short blurb {i}.</p></li>"
        for i in range(20)
    )
    article = clean_html(
        f"<html><body><nav><a href='/'>Home</a></nav><ul>{links}</ul></body></html>"
    )
    assert not article.is_article
    assert article.body == ""
    assert article.reason


def test_br_separated_body_becomes_paragraphs() -> None:
    text = "<br><br>".join(
        f"Sentence group {i} tells what happened in the town hall today." * 2 for i in range(5)
    )
    article = clean_html(f"<html><body><div id='x'>{text}</div></body></html>")
    assert article.body.count("\n\n") == 4


# --- dates -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "iso"),
    [
        ("2024-03-14T18:30:00+01:00", "2024-03-14T18:30:00+01:00"),
        ("2024-03-14T17:30:00Z", "2024-03-14T17:30:00+00:00"),
        ("2024-03-14", "2024-03-14"),
        ("Thu, 14 Mar 2024 18:30:00 GMT", "2024-03-14T18:30:00+00:00"),
        ("not a date", None),
        ("1850-01-01", None),
    ],
)
def test_iso_date(raw: str, iso: str | None) -> None:
    assert iso_date(raw) == iso


def test_visible_dateline_and_url_dates() -> None:
    body = (
        "<p>"
        + "Der Gemeinderat hat am Abend lange beraten und schließlich entschieden. " * 5
        + "</p>"
    )
    page = f"<html lang='de'><body><span class='date'>14. März 2024</span><article>{body}</article></body></html>"
    assert clean_html(page).published == "2024-03-14"
    assert clean_html(f"<html><body><article>{body}</article></body></html>",
                      "https://x.example/2021/07/09/story").published == "2021-07-09"  # fmt: skip


# --- rules -------------------------------------------------------------------------


def test_packaged_rules_load_and_cover_five_languages() -> None:
    book = default_rulebook()
    related = next(g for g in book.generic.drop if g.name == "related")
    assert set(related.headings) >= {"en", "de", "pl", "fr", "es"}
    assert all(group.tags or group.class_keywords or group.selectors or group.labels
               or group.headings or group.prefixes or group.mentions or group.endings
               for group in book.generic.drop)  # fmt: skip


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[site]\ndomains = ['a.example']\n[drop.ads]\n", "empty group"),
        ("[site]\ndomains = ['a.example']\n[drop.ads]\ncolour = ['x']\n", "unknown key"),
        ("[site]\ndomains = ['a.example']\n[drop.ads]\nselectors = ['div[']\n", "bad CSS"),
        ("[drop.ads]\nlabels.en = ['Ad']\n", "site file needs"),
        ("[site]\ndomains = ['a.example']\n[drop.ads]\ntags = []\n", "empty group"),
        ("[site]\ndomains = ['a.example']\n[drop.ads\n", "site-bad.toml"),
        (
            "[site]\ndomains = ['a.example']\n[drop.ads]\nspare_without_links = 1\ntags = ['x']\n",
            "true or false",
        ),
    ],
)
def test_bad_rule_files_are_rejected(text: str, message: str) -> None:
    with pytest.raises(RuleError, match=message):
        parse_rules(text, Path("site-bad.toml"), generic=False)


def test_site_file_extends_generic_rules(tmp_path: Path) -> None:
    (tmp_path / "site-promo.toml").write_text(
        "[site]\nname = 'Promo Times'\ndomains = ['promotimes.example']\n"
        "[drop.promo]\nselectors = ['p.shop-box']\n",
        encoding="utf-8",
    )
    story = "".join(
        f"<p>Paragraph {i} of the story, long enough to count as prose here.</p>" for i in range(6)
    )
    page = f"<html><body><article>{story}<p class='shop-box'>Buy our calendar, only 9.99 this week!</p></article></body></html>"
    book = load_rulebook([tmp_path])
    assert "calendar" not in clean_html(page, "https://www.promotimes.example/a", rules=book).body
    assert "calendar" in clean_html(page, "https://other.example/a", rules=book).body


# --- the standfirst -------------------------------------------------------------------

STORY = "".join(
    f"<p>Paragraph {i} of the story tells the council's decision in plain words today.</p>"
    for i in range(6)
)
LEAD = "The council voted to keep the old library open, against the mayor's advice and budget."


@pytest.mark.parametrize(
    "page",
    [
        # In the same <article>, with the picture's caption and credit in between.
        f"<article><h1>Library stays open</h1><div class='intro-wrap'><p>{LEAD}</p></div>"
        "<figure><img src='x.jpg'><figcaption>The old library.</figcaption></figure>"
        "<div class='photo-source'>Images source: Council press office</div>"
        f"<div class='article-body'>{STORY}</div></article>",
        # Right after the headline, with no <article> element at all.
        f"<div class='wrap'><h1>Library stays open</h1><p>{LEAD}</p>"
        "<p class='when'>12 May 2025, 09:41</p>"
        f"<div class='article-body'>{STORY}</div></div>",
        # In a story header that goes as navigation: its standfirst stays.
        f"<article><header class='story-header'><h1>Library stays open</h1>"
        f"<p class='standfirst'>{LEAD}</p><p class='byline'>By Ann Lee</p></header>"
        f"<div class='story-text'>{STORY}</div></article>",
    ],
    ids=["same-article", "after-headline", "in-header"],
)
def test_standfirst_before_the_body_container_is_article_text(page: str) -> None:
    html = f"<html><head><title>Library stays open</title></head><body>{page}</body></html>"
    article = clean_html(html, "https://news.example/library")
    assert article.body.startswith(LEAD + "\n\nParagraph 0 of the story")
    assert "Images source" not in article.body and "The old library." not in article.body


def test_prose_elsewhere_before_the_body_is_not_a_standfirst() -> None:
    html = (
        "<html><head><title>Library stays open</title></head><body>"
        f"<div class='panel'><p>{LEAD.replace('library', 'pool')}</p></div>"
        f"<div class='wrap'><div class='article-body'>{STORY}</div></div></body></html>"
    )
    article = clean_html(html, "https://news.example/library")
    assert article.body.startswith("Paragraph 0 of the story")
    assert "pool" not in article.body


def test_breadcrumb_and_tag_lines_are_dropped() -> None:
    html = (
        "<html><body><article><p><a href='/'>Home</a> \u203a <a href='/city'>City</a></p>"
        f"{STORY}<p>Tags: <a href='/t/a'>library</a>, <a href='/t/b'>council</a></p>"
        "<p>[<a href='https://source.example'>Source</a>]</p></article></body></html>"
    )
    body = clean_html(html, "https://news.example/library").body
    assert "Home" not in body and "Tags" not in body
    # One bracketed link is a quote's source, kept.
    assert body.endswith("[Source]")


# --- packaged site files ----------------------------------------------------------------


def _fixtures_of(domains: tuple[str, ...]) -> list[str]:
    out = []
    for name in PAGES:
        host = urlsplit(_load(name)[1]["url"]).hostname or ""
        if any(host == d or host.endswith("." + d) for d in domains):
            out.append(name)
    return out


SITE_FILES = default_rulebook().sites


def test_rules_ship_site_files() -> None:
    assert SITE_FILES, "archiver/cleaning/rules/ holds no site-*.toml"


@pytest.mark.parametrize("site", SITE_FILES, ids=[s.path.name for s in SITE_FILES])
def test_site_file_ships_with_a_fixture_it_is_needed_for(site: RuleSource) -> None:
    names = _fixtures_of(site.domains)
    assert names, f"{site.path.name} has no fixture page in tests/fixtures/html"
    generic_only = RuleBook(default_rulebook().generic)
    for name in names:
        data, expected = _load(name)
        # test_fixture_keeps_and_drops checks the page with the site file; without it,
        # the generic rules alone must get the page wrong, or the file is dead weight.
        body = clean_html(data, expected["url"], rules=generic_only).body
        wrong = [s for s in expected["must_drop"] if s in body]
        wrong += [s for s in expected["must_keep"] if s not in body]
        assert wrong, f"{name}: the generic rules alone clean it right"


def test_rulebook_pickles_as_its_sources_for_worker_processes(tmp_path: Path) -> None:
    (tmp_path / "site-promo.toml").write_text(
        "[site]\ndomains = ['promotimes.example']\n[drop.promo]\nselectors = ['p.shop-box']\n",
        encoding="utf-8",
    )
    book = load_rulebook([tmp_path])
    book.for_host("promotimes.example")  # compiled XPath objects cannot be pickled
    copy = pickle.loads(pickle.dumps(book))
    assert [s.domains for s in copy.sites] == [s.domains for s in book.sites]
    page = (
        "<html><body><article>"
        + "".join(f"<p>Paragraph {i} of the story, long enough to be prose.</p>" for i in range(6))
        + "<p class='shop-box'>Buy our calendar, only 9.99 this week!</p></article></body></html>"
    )
    assert "calendar" not in clean_html(page, "https://promotimes.example/a", rules=copy).body


def test_the_article_that_opens_with_the_headline_beats_longer_teaser_articles() -> None:
    story = "".join(
        f"<p>Sentence {i} of the story itself, about the harbour wall and its repair.</p>"
        for i in range(7)
    )
    teasers = "".join(
        f"<article><h2><a href='/t/{i}'>Other story {i}</a></h2>"
        + f"<p>Full text of other story {i}, printed whole under the article as a teaser. </p>" * 4
        + "</article>"
        for i in range(4)
    )
    html = (
        "<html><head><title>Harbour wall repaired</title></head><body>"
        f"<article><h1>Harbour wall repaired</h1>{story}</article>"
        f"<article class='more'>{teasers}</article></body></html>"
    )
    body = clean_html(html, "https://news.example/harbour-wall").body
    assert body.startswith("Sentence 0 of the story") and "Sentence 6" in body
    assert "Other story" not in body


def test_repeated_lines_far_apart_stay_and_doubled_ones_go() -> None:
    plan = "".join(
        f"<h3>Day {d}</h3><p>Eat every 2-3 hours</p>"
        f"<p>Oats with berries and yoghurt, then a walk of forty minutes before lunch.</p>"
        f"<p>Rest day {d} notes: drink water, sleep eight hours and stretch gently.</p>"
        for d in range(3)
    )
    caption = "<p>The harbour at dawn, seen from the lighthouse</p>" * 2
    html = f"<html><body><article>{caption}{plan}</article></body></html>"
    body = clean_html(html, "https://news.example/plan").body
    assert body.count("Oats with berries and yoghurt") == 3
    assert body.count("Eat every 2-3 hours") == 3
    assert body.count("The harbour at dawn") == 1


def test_box_heading_run_together_with_its_links_is_dropped() -> None:
    box = (
        "<p>DON'T MISS<br><a href='/a'>Harbour wall gives way in the night storm</a><br>"
        "<a href='/b'>Ferry timetable cut to two sailings a day</a></p>"
    )
    html = f"<html><body><article>{STORY}{box}{STORY}</article></body></html>"
    body = clean_html(html, "https://news.example/harbour").body
    assert "DON'T MISS" not in body and "Ferry timetable" not in body
    assert body.count("Paragraph 5 of the story") == 2
