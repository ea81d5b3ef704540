"""The BeautifulSoup tree the cleaner walks, and the shortcuts that pay for it.

`soup_from_tree` copies the pruned lxml tree into a soup instead of serialising and
parsing it again: the copy must be the tree BeautifulSoup's own lxml parse gives, linked
as bs4 links it (other bs4 code navigates by next_element and siblings).
"""

from __future__ import annotations

import itertools
from datetime import date

import pytest
from bs4 import BeautifulSoup, Tag
from bs4.element import PageElement
from lxml import etree

from archiver.cleaning.blocks import _Walker
from archiver.cleaning.dates.evidence import in_markup
from archiver.cleaning.document import _parse
from archiver.cleaning.metadata import _selector_words, _visible_byline
from archiver.cleaning.rulebook import process_rulebook
from archiver.cleaning.soup import soup_from_tree

PAGE = (
    "<html><body><div class='story main' id='s1' data-cr='2'><h1>Harbour <em>works</em> start</h1>"
    "<p>The ferry <a href='/a b/ü?x=1'>leaves</a> at nine,<br>every <b>day</b>.</p>tail text"
    "<ruby>漢<rt>kan</rt></ruby><script>var x = 1;</script><pre>  two\n  lines</pre>"
    "<ul><li>one</li><li>two <i>2</i></li></ul><img src='x.png'><p>last</p></div>after</body></html>"
)


def _body(html: str) -> etree._Element:
    doc = _parse(html)
    assert doc is not None
    body = doc.find("body")
    assert body is not None
    return body


def _chain(start: PageElement) -> list[PageElement]:
    out: list[PageElement] = []
    node = start.next_element
    while node is not None:
        out.append(node)
        node = node.next_element
    return out


def test_copy_is_the_tree_beautifulsoup_parses() -> None:
    # The copy holds an href as the page wrote it, the parse as lxml's serializer escaped
    # it (the walk escapes it the same way: see the walk test below).
    body = _body(PAGE.replace("/a b/ü?x=1", "/a/b?x=1"))
    parsed = BeautifulSoup(
        etree.tostring(body, encoding="unicode", method="html"),
        "lxml",
        multi_valued_attributes=None,
    ).body
    copied = soup_from_tree(body).body
    assert isinstance(parsed, Tag) and isinstance(copied, Tag)
    assert str(copied) == str(parsed)
    assert [type(n) for n in copied.descendants] == [type(n) for n in parsed.descendants]
    div = copied.find("div")
    assert isinstance(div, Tag)
    assert div.attrs == {"class": "story main", "id": "s1", "data-cr": "2"}  # not split
    assert copied.get_text() == parsed.get_text()
    assert copied.find("rt").string.__class__.__name__ == "RubyTextString"  # type: ignore[union-attr]


def test_copy_is_linked_in_document_order() -> None:
    soup = soup_from_tree(_body(PAGE))
    nodes = list(soup.descendants)
    assert _chain(soup) == nodes
    for before, after in itertools.pairwise(nodes):
        assert after.previous_element is before
    for node in nodes:
        parent = node.parent
        assert parent is not None and any(child is node for child in parent.contents)
        siblings = parent.contents
        index = next(i for i, child in enumerate(siblings) if child is node)
        assert node.previous_sibling is (siblings[index - 1] if index else None)
        assert node.next_sibling is (siblings[index + 1] if index + 1 < len(siblings) else None)


def test_copy_stops_where_the_walk_stops() -> None:
    deep = "<div>" * 30 + "deep" + "</div>" * 30
    soup = soup_from_tree(_body(f"<html><body>{deep}<p>top</p></body></html>"), max_depth=10)
    assert soup.get_text() == "top"
    assert len(soup.find_all("div")) == 11  # depths 1 to 11: the walk enters and returns


def test_walk_of_the_copy_gives_the_blocks_of_the_parse() -> None:
    body = _body(PAGE)
    parsed = BeautifulSoup(
        etree.tostring(body, encoding="unicode", method="html"),
        "lxml",
        multi_valued_attributes=None,
    )
    walkers = []
    for soup in (soup_from_tree(body), parsed):
        walker = _Walker("https://example.org/news/")
        root = soup.body
        assert isinstance(root, Tag)
        walker.walk(root)
        walker.flush()
        walkers.append(walker)
    copy, parse = walkers
    assert [(b.kind, b.text, b.html) for b in copy.blocks] == [
        (b.kind, b.text, b.html) for b in parse.blocks
    ]
    texts = [b.text for b in copy.blocks]
    assert "The ferry leaves at nine,\nevery day." in texts
    assert "漢" in texts[2] and "kan" not in " ".join(texts)  # the ruby reading is left out
    assert "var x" not in " ".join(texts)
    link = next(b.html for b in copy.blocks if "href" in b.html)
    assert 'href="https://example.org/a%20b/%C3%BC?x=1"' in link


@pytest.mark.parametrize(
    ("css", "words"),
    [
        (".byline .author", (("author", "byline"),)),
        ("[itemprop='author']", (("itemprop", "author"),)),
        ("a[rel~=author]:not(.staff)", (("rel", "author"),)),
        ("div#Main > p, .Credit", (("main",), ("credit",))),
        ("p", ((),)),
    ],
)
def test_selector_words_are_what_a_match_must_write(
    css: str, words: tuple[tuple[str, ...], ...]
) -> None:
    assert _selector_words(css) == words


@pytest.mark.parametrize(
    "body",
    [
        "<p class='byline'>By <a href='/x'>Ana Lima</a></p>",
        "<span itemprop='author'><span itemprop='name'>Ana Lima</span></span>",
        "<p class='meta author'>Ana Lima</p>",
        "<p>No byline here at all.</p>",
    ],
)
def test_skipping_selectors_not_in_the_markup_finds_the_same_names(body: str) -> None:
    html = f"<html><body><h1>Title</h1>{body}<p>Text of the story.</p></body></html>"
    doc = _parse(html)
    assert doc is not None
    rules = process_rulebook().for_host(None)
    names = _visible_byline(doc, rules, html)
    assert names == _visible_byline(doc, rules)
    assert names == (["Ana Lima"] if "Ana" in body else [])


@pytest.mark.parametrize(
    ("html", "day"),
    [
        ('<script>{"d": "2019-02-14T10:00"}</script>', date(2019, 2, 14)),
        ("<p>3.4.2021 and 03.04.2021 and 13.04.2021</p>", date(2021, 4, 3)),
        ("<p>v1.2.2020</p>", date(2020, 2, 1)),  # a letter before the day does not stop it
        ("<p>231.3.2020 0.3.2020 2.3.20200</p>", None),  # no day: digits run on
        ('<a href="/news/2019/12/02/story">x</a>', date(2019, 12, 2)),
        ('<img src="/x/12019-12-02/">', None),
        ("<p>2019-13-01 2019/02/30</p>", None),
    ],
)
def test_markup_days(html: str, day: date | None) -> None:
    found = in_markup(html, 1.0, date(2030, 1, 1))
    assert (found[0].day if found else None) == day
