"""Evidence of a page's dates: every place a page states a day, with how much it counts.

Structured metadata (JSON-LD, <meta>, itemprop, microformats), <time> elements and visible
datelines near the headline, labelled dates in the text, the URL and the spider's feed or
sitemap date. Dates inside navigation, sidebars, related lists, comments and other items
are not evidence. dates/__init__.py weighs what this module collects.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from itertools import zip_longest
from typing import Any
from urllib.parse import urlsplit

from lxml import etree

from archiver.cleaning.dates.parsing import (
    DateRules,
    find_days,
    make_day,
    parse_stamp,
)
from archiver.cleaning.jsonld import jsonld_objects

# Dates sit in the article object, which some sites nest as the page's main entity.
_JSONLD_NESTED = ("@graph", "mainEntity", "mainEntityOfPage")

# Class/id words of elements that may carry a date (a cheap prefilter; DateRules decides).
_PREFILTER = re.compile(
    "date|time|datum|zeit|posted|publi|byline|meta|info|tagline|submitted|author|autor|stamp"
    "|fecha|created|dtstart|dtreviewed"
)
# Tags that are candidates whatever their attributes (<h1>/<h2> to place the headline).
_ALWAYS = frozenset(("h1", "h2", "time", "dd"))
TEXT_SCAN_LIMIT = 400  # text nodes read after the headline when nothing else dates the page
_TEXT_AFTER = etree.XPath(f"following::text()[normalize-space()][position() <= {TEXT_SCAN_LIMIT}]")
# A kicker or dateline printed just above the headline.
_TEXT_BEFORE = etree.XPath("preceding::text()[normalize-space()][position() <= 10]")
# Outermost elements whose class or id contains one of $words ("|"-separated, lower case).
_COMMENTS = etree.XPath(
    "//body//*[@class or @id][re:test(concat(@class, ' ', @id), $words, 'i')]"
    "[not(ancestor::*[re:test(concat(@class, ' ', @id), $words, 'i')])]",
    namespaces={"re": "http://exslt.org/regular-expressions"},
)
COMMENT_CHARS = 4000  # text read from each comment container
ADJACENT = 2  # text nodes just after and just before the headline read as its dateline ...
ADJACENT_CHARS = 100  # ... when this short
_BODY_TEXT = etree.XPath(f"(//body//text()[normalize-space()])[position() <= {TEXT_SCAN_LIMIT}]")
_NOT_TEXT = frozenset(("script", "style", "noscript", "template"))
_HAS_YEAR = re.compile(r"(?:19|20)\d\d")
_MAY_BE_DAY = re.compile(r"(?:19|20)\d\d|\d\.\s?\d{1,2}\.\s?\d\d")
_TOKENS = re.compile(r"[\s]+")
_NOT_WORDS = frozenset(("",))  # what splitting an empty class or id leaves
_MODIFIED_CLASS = re.compile(r"updated|modified|changed|aktualisiert", re.I)
_PUBLISHED_CLASS = re.compile(r"published|dt-published|entry-date|dtstart|pubdate|dtreviewed", re.I)
_WAYBACK = re.compile(r"^https?://web\.archive\.org/web/(\d{8})\d*[^/]*/(.+)$")
_URL_DAY = re.compile(
    r"/((?:19|20)\d\d)[/-](0?[1-9]|1[0-2])[/-](0?[1-9]|[12]\d|3[01])(?=[/_.-]|$)"
    r"|/((?:19|20)\d\d)(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?=[/_.-]|$)"
    # ... or written whole into a slug: /ferry-strike-ends-2019-04-12, /report_2019-04-12.html
    r"|[_-]((?:19|20)\d\d)-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])(?=[/_.-]|$)"
)
_URL_DAY_FIRST = re.compile(
    r"[/_-](0[1-9]|[12]\d|3[01])-(0[1-9]|1[0-2])-((?:19|20)\d\d)(?=[/_.-]|$)"
)
_URL_MONTH = re.compile(r"/((?:19|20)\d\d)/(0[1-9]|1[0-2])(?=/|$)")
# A teaser: a heading (or a link styled as a title) that links to another page; the links
# of such headings, to tell another page from an author's (a byline) or this page's part.
_HEADING_LINKS = etree.XPath(
    "descendant::*[self::h2 or self::h3 or self::h4 or self::h5 or self::h6"
    " or self::a[contains(concat(' ', normalize-space(@class), ' '), ' title ')]]"
    "/descendant-or-self::a[@href]"
)
TEASER = 0.3  # the weight left to a date inside a teaser of another page
ITEM_DEPTH = 4  # levels above a dated element searched for the teaser it belongs to
LOOKAHEAD = 6  # dated elements read after the headline (4 and 8: same accuracy on the dev set)
DATELINE_CHARS = 250  # longer elements are containers, not datelines ...
DATELINE_HEAD = 80  # ... but a byline block may open with the date: its first characters count


@dataclass
class Evidence:
    """One statement of a day: where it was found, how much it counts, the value as written."""

    kind: str
    day: date
    weight: float
    stamp: datetime | None = None  # the value's time, when it had one with an offset
    raw: str = ""  # ISO form of the value, reported when this evidence wins
    modified: bool = False  # a later edit, not the first publication
    rank: int = 0  # visible evidence: 0 = nearest to the headline
    teaser: bool = False  # printed in a teaser of another page (a listing's own dates)


@dataclass
class PageUrl:
    """What the URL says: a day, a year and month, and the latest plausible day (a capture)."""

    day: date | None = None
    month: tuple[int, int] | None = None
    latest: date | None = None


def read_url(url: str | None) -> PageUrl:
    """Dates in a URL's path; a web.archive.org capture is read as the page it captured."""
    out = PageUrl()
    if not url:
        return out
    wayback = _WAYBACK.match(url)
    if wayback:
        stamp = wayback[1]
        out.latest = make_day(int(stamp[:4]), int(stamp[4:6]), int(stamp[6:8]))
        url = wayback[2]
    try:
        path = urlsplit(url).path
    except ValueError:
        return out
    match = _URL_DAY.search(path)
    if match:
        year, month, day = (int(g) for g in match.groups() if g)
        out.day = make_day(year, month, day)
    else:
        first = _URL_DAY_FIRST.search(path)
        if first:
            out.day = make_day(int(first[3]), int(first[2]), int(first[1]))
    month_match = _URL_MONTH.search(path)
    if month_match:
        out.month = (int(month_match[1]), int(month_match[2]))
    return out


def _evidence(kind: str, value: Any, weight: float, *, modified: bool = False) -> Evidence | None:
    parsed = parse_stamp(value)
    if parsed is None:
        return None
    if isinstance(parsed, datetime):
        stamp = parsed if parsed.tzinfo is not None else None
        return Evidence(kind, parsed.date(), weight, stamp, parsed.isoformat(timespec="seconds"),
                        modified)  # fmt: skip
    return Evidence(kind, parsed, weight, None, parsed.isoformat(), modified)


def _stated(
    kind: str, value: Any, weight: float, rules: DateRules, *, modified: bool = False
) -> Evidence | None:
    """A metadata value as software writes it, else as words ("07 أكتوبر 2020 - 12:09")."""
    ev = _evidence(kind, value, weight, modified=modified)
    if ev is None and isinstance(value, str) and len(value) <= 80:
        ev = _first_text_day(kind, value, weight, rules, None)
        if ev is not None:
            ev.modified = modified
    return ev


def _is_article(item: dict[str, Any]) -> bool:
    raw = item.get("@type", "")
    for name in raw if isinstance(raw, list) else [raw]:
        kind = str(name).rsplit("/", 1)[-1].lower()
        if kind.endswith(("article", "posting")) or kind in ("report", "review"):
            return True
    return False


def structured(
    doc: etree._Element, meta: Mapping[str, str], rules: DateRules, jsonld: list[Any]
) -> list[Evidence]:
    """Evidence from JSON-LD and <meta>: the site's own statement of its dates.

    Values are read as software writes them (ISO, else month first as dateutil does, which
    is how CMSs write 11/01/2023 even on German pages); the page's language orders only
    what the page prints.
    """
    w = rules.weights
    found: list[Evidence] = []
    for item in jsonld_objects(jsonld, _JSONLD_NESTED):
        weight = w["jsonld_article"] if _is_article(item) else w["jsonld_other"]
        for key in ("datePublished", "dateCreated", "uploadDate"):
            ev = _stated("jsonld", item.get(key), weight, rules)
            if ev:
                found.append(ev)
                break
        ev = _stated("jsonld", item.get("dateModified"), weight, rules, modified=True)
        if ev:
            found.append(ev)
    for key, value in meta.items():
        if key in rules.meta_published:
            ev = _stated("meta", value, w["meta_published"], rules)
        elif key in rules.meta_generic:
            ev = _stated("meta_generic", value, w["meta_generic"], rules)
        elif key in rules.meta_modified:
            ev = _stated("meta", value, w["meta_published"], rules, modified=True)
        else:
            continue
        if ev:
            found.append(ev)
    return found


def _class_words(el: etree._Element) -> str:
    return f"{el.get('class') or ''} {el.get('id') or ''}"


def excluded(
    el: etree._Element,
    rules: DateRules,
    main_article: etree._Element | None,
    keep: frozenset[etree._Element] = frozenset(),
) -> bool:
    """Whether el sits in navigation, a sidebar, a related list, comments or another item.

    `keep` are the headline's ancestors: a layout class such as "with-sidebar" on the
    container of the article itself does not exclude the article's dateline.
    """
    node: etree._Element | None = el
    while node is not None and node not in keep:
        tag = node.tag
        if isinstance(tag, str):
            if tag in rules.exclude_tags:
                return True
            if tag == "article" and main_article is not None and node is not main_article:
                return True
            if tag == "footer" and not any(a.tag == "article" for a in node.iterancestors()):
                return True
            words = _class_words(node)
            if words.strip():
                tokens = {t.lower() for t in _TOKENS.split(words)}
                if not tokens.isdisjoint(rules.exclude_words) and not (
                    tokens <= rules.footer_words | _NOT_WORDS and _in_article(node, rules)
                ):
                    return True
        node = node.getparent()
    return False


def _in_article(node: etree._Element, rules: DateRules) -> bool:
    """Whether node sits in an article: <article>, an Article-like itemtype or class."""
    for a in node.iterancestors():
        itemtype = a.get("itemtype") or ""
        if a.tag == "article" or "Article" in itemtype or "Posting" in itemtype:
            return True
        cls = a.get("class")
        if cls and not rules.article_classes.isdisjoint(cls.lower().split()):
            return True
    return False


def element_text(el: etree._Element, limit: int, head: int = 0) -> str | None:
    """el's text; when longer than limit (a container, not a dateline) its first `head`
    characters (a meta block that opens with the date), or None when head is 0."""
    parts: list[str] = []
    size = 0
    for piece in el.itertext():
        parts.append(str(piece))
        size += len(piece)
        if size > limit:
            if not head:
                return None
            return " ".join("".join(parts)[:head].split())
    return " ".join("".join(parts).split())


def _days_in(text: str, rules: DateRules, lang: str | None) -> Iterator[tuple[date, bool, bool]]:
    """(day, is a later edit, has a publication label) for each day written in text."""
    for start, day in find_days(text, rules, lang):
        before = text[max(0, start - 40) : start]
        if rules.now_label.search(before):
            continue  # the reader's own time, not the page's
        if rules.modified_label.search(before):
            yield day, True, False
        else:
            yield day, False, bool(rules.published_label.search(before))


def candidates(doc: etree._Element) -> Iterator[etree._Element]:
    """Elements that may carry a date, in document order.

    One pass of `iter()` with a regex over class and id is about twice as fast as an XPath
    selecting the same elements.
    """
    for el in doc.iter(etree.Element):
        if el.tag in _ALWAYS:
            yield el
            continue
        names = el.keys()  # most elements have no attributes: one call tells
        if not names:
            continue
        if "itemprop" in names or "pubdate" in names:
            yield el
            continue
        cls, ident = el.get("class"), el.get("id")
        if (cls and _may_date(cls)) or (ident and _may_date(ident)):
            yield el


@functools.lru_cache(maxsize=8192)
def _may_date(words: str) -> bool:
    # Class values repeat within a page and across a site's pages: each is searched once.
    return _PREFILTER.search(words.lower()) is not None


def on_page(
    doc: etree._Element, rules: DateRules, lang: str | None
) -> tuple[list[Evidence], etree._Element | None]:
    """Evidence from elements: itemprop, microformats, <time>, datelines; and the headline.

    The headline is the first <h1>, else the first <h2>. Reading stops LOOKAHEAD dated
    elements after it: further ones belong to other items and would count little.
    """
    h1 = headline(doc, rules)
    main_article = next((a for a in h1.iterancestors("article")), None) if h1 is not None else None
    keep = headline_ancestors(h1)
    found: list[Evidence] = []
    placed: dict[str, list[tuple[int, Evidence]]] = {}
    h1_index = 0
    after = -1  # dated elements after the headline; -1 until it is met
    for index, el in enumerate(candidates(doc)):
        if el is h1:
            h1_index, after = index, 0
            continue
        new = _element_evidence(el, rules, lang)
        if not new or excluded(el, rules, main_article, keep):
            continue
        if keep and _other_item(el, keep, rules):
            # A teaser's date dates another page; on a listing it is all there is.
            for ev in new:
                ev.weight *= TEASER
                ev.teaser = True
        for ev in new:
            # What is printed (<time>, datelines) is ranked as one list.
            group = "printed" if ev.kind in ("time", "dateline") else ev.kind
            placed.setdefault(group, []).append((index, ev))
        if after >= 0:
            after += 1
            if after >= LOOKAHEAD:
                break
    # Per kind, nearest to the headline first (after it before before it): the dates of
    # other items further down count less. Marked-up dates (itemprop, microformats) decay
    # less than what is merely printed.
    for kind, items in placed.items():
        items.sort(key=lambda item: (abs(item[0] - h1_index), item[0] < h1_index))
        printed = kind == "printed"
        for rank, (_, ev) in enumerate(items):
            ev.rank = rank
            if printed:
                ev.weight *= 1.0 if rank == 0 else 0.6 if rank <= 2 else 0.3
            elif rank:
                ev.weight *= 0.5
            found.append(ev)
    return found, h1


def _other_item(el: etree._Element, keep: frozenset[etree._Element], rules: DateRules) -> bool:
    """Whether el belongs to a teaser of another page: a container near it, outside the
    headline's, holds a heading linked to another page (<h3><a href>...</a></h3>,
    <a class="title">); not to a part of this one (href="#p5120") or to its author's page
    (rel="author", a path segment of [regions].byline_links: <h4><a href="/author/x/">)."""
    node: etree._Element | None = el
    for _ in range(ITEM_DEPTH):
        if node is None or node in keep:
            return False
        links = _HEADING_LINKS(node)
        assert isinstance(links, list)
        if any(isinstance(a, etree._Element) and _to_other_page(a, rules) for a in links):
            return True
        node = node.getparent()
    return False


def _to_other_page(link: etree._Element, rules: DateRules) -> bool:
    href = (link.get("href") or "").strip()
    if not href or href.startswith("#") or "author" in (link.get("rel") or "").lower():
        return False
    try:
        path = urlsplit(href).path.lower()
    except ValueError:
        return True
    return rules.byline_links.isdisjoint(path.split("/"))


def headline(doc: etree._Element, rules: DateRules) -> etree._Element | None:
    """The page's headline: the first <h1>, else the first <h2>; an <h1> that is the site's
    logo (all its text one link to the home page) is passed over for the next <h1>, else the
    first <h2> that is no dateline (Blogger's h2.date-header), else kept."""
    logo = None
    for h1 in doc.iter("h1"):
        if not _is_logo(h1):
            return h1
        logo = logo if logo is not None else h1
    for h2 in doc.iter("h2"):
        if logo is None or not rules.dateline_class.search(_class_words(h2)):
            return h2
    return logo


def _is_logo(h1: etree._Element) -> bool:
    links = h1.findall(".//a[@href]")
    if len(links) != 1:
        return False
    try:
        path = urlsplit(links[0].get("href") or "").path
    except ValueError:
        return False
    return path in ("", "/") and _words(links[0]) == _words(h1)


def _words(el: etree._Element) -> str:
    return " ".join("".join(str(t) for t in el.itertext()).split())


def headline_ancestors(h1: etree._Element | None) -> frozenset[etree._Element]:
    """The elements that hold the headline (their class words say nothing about a dateline)."""
    return frozenset(h1.iterancestors()) if h1 is not None else frozenset()


def _element_evidence(el: etree._Element, rules: DateRules, lang: str | None) -> list[Evidence]:
    w = rules.weights
    tag = el.tag
    itemprop = (el.get("itemprop") or "").lower()
    classes = el.get("class") or ""
    if itemprop in ("datepublished", "datecreated", "uploaddate", "datemodified"):
        value = el.get("content") or el.get("datetime") or el.get("title") or el.text or ""
        ev = _evidence("itemprop", value, w["itemprop"], modified=itemprop == "datemodified")
        if ev is None:
            ev = _first_text_day("itemprop", value, w["itemprop"], rules, lang)
            if ev is not None:
                ev.modified = itemprop == "datemodified"
        return [ev] if ev else []
    if itemprop and tag != "time" and not rules.dateline_class.search(_class_words(el)):
        return []
    modified = bool(_MODIFIED_CLASS.search(classes))
    # hAtom's value in a title (<abbr class="published" title=...>, <span class="published"
    # title=...>) or a datetime attribute.
    if tag == "abbr" or (
        (el.get("datetime") or el.get("title")) and _PUBLISHED_CLASS.search(classes)
    ):
        if _PUBLISHED_CLASS.search(classes) or modified:
            value = el.get("datetime") or el.get("title") or ""
            ev = _evidence("microformat", value, w["microformat"], modified=modified)
            if ev is None:
                ev = _first_text_day("microformat", value, w["microformat"], rules, lang)
                if ev is not None:
                    ev.modified = modified
            if ev is not None or tag == "abbr" or el.get("datetime"):
                return [ev] if ev else []
        elif tag == "abbr":
            return []
    if tag == "time":
        value = el.get("datetime") or el.get("content") or ""
        kind, weight = ("microformat", w["microformat"]) if el.get("pubdate") is not None else (
            "time", w["time_element"])  # fmt: skip
        ev = _evidence(kind, value, weight, modified=modified) if value else None
        if ev is None:
            text = element_text(el, DATELINE_CHARS)
            ev = _first_text_day(kind, text or "", weight, rules, lang)
            if ev is not None:
                ev.modified = ev.modified or modified
        return [ev] if ev else []
    if tag != "dd" and not rules.dateline_class.search(_class_words(el)):
        return []
    text = element_text(el, DATELINE_CHARS, DATELINE_HEAD)
    if not text or not _MAY_BE_DAY.search(text):
        # A relative date ("3 hours ago", "Mar '21") with the day in its tooltip.
        text = el.get("title") or ""
        if not _MAY_BE_DAY.search(text):
            return []
    # The first published day, and the days labelled as edits before or after it
    # ("Publié le 09/03/2021 - Mis à jour le 10/03/2021"); other days are about other things.
    out: list[Evidence] = []
    dated = False
    for day, later, _ in _days_in(text, rules, lang):
        if dated and not later:
            continue
        out.append(Evidence("dateline", day, w["dateline"], raw=day.isoformat(),
                            modified=later or modified))  # fmt: skip
        dated = dated or not out[-1].modified
    return out


def _first_text_day(
    kind: str, text: str, weight: float, rules: DateRules, lang: str | None
) -> Evidence | None:
    for day, later, _ in _days_in(text, rules, lang):
        return Evidence(kind, day, weight, raw=day.isoformat(), modified=later)
    return None


def in_text(
    doc: etree._Element,
    h1: etree._Element | None,
    rules: DateRules,
    lang: str | None,
    main_article: etree._Element | None,
) -> list[Evidence]:
    """Days in the running text after the headline: labelled ones count, the first one a little."""
    w = rules.weights
    if h1 is not None:
        before, after = _TEXT_BEFORE(h1), _TEXT_AFTER(h1)
        assert isinstance(before, list) and isinstance(after, list)
        # The text just below or just above the headline first, nearest first: a dateline
        # without a class.
        near = [n for pair in zip_longest(after[:ADJACENT], before[-ADJACENT:][::-1]) for n in pair]
        nodes = [n for n in near if n is not None] + after[ADJACENT:] + before[:-ADJACENT]
        beside = set(range(len(nodes) - len(after[ADJACENT:]) - len(before[:-ADJACENT])))
    else:
        body = _BODY_TEXT(doc)
        assert isinstance(body, list)
        nodes, beside = body, set()
    keep = headline_ancestors(h1)
    found: list[Evidence] = []
    previous = ""
    for index, node in enumerate(nodes):
        text = str(node)
        if not _HAS_YEAR.search(text):
            previous = text
            continue
        parent = node.getparent() if isinstance(node, etree._ElementUnicodeResult) else None
        if parent is None or parent.tag in _NOT_TEXT or excluded(parent, rules, main_article, keep):
            previous = text
            continue
        joined = previous[-40:] + " " + text
        # (not a marked-up value: on_page read those, a dateModified among them)
        dateline = (
            index in beside and len(text.strip()) <= ADJACENT_CHARS and not parent.get("itemprop")
        )
        for day, later, labelled in _days_in(joined, rules, lang):
            kind, weight = ("labelled", w["labelled"]) if labelled else ("text", w["text"])
            if dateline and not found:
                kind, weight = "dateline", w["dateline"]
            if not found or labelled or later:
                found.append(Evidence(kind, day, weight, raw=day.isoformat(), modified=later))
        previous = text
        if len(found) >= 3:
            break
    return found


def in_comments(
    doc: etree._Element, rules: DateRules, lang: str | None, latest: date
) -> list[Evidence]:
    """When nothing else dates the page: the first comment's day (the page is older).

    Comments are the containers whose class or id holds a word of [regions].comments; the
    earliest day printed in them, up to `latest`, is the evidence.
    """
    days: list[date] = []
    found = _COMMENTS(doc, words=rules.comment_words)
    assert isinstance(found, list)
    for el in found:
        assert isinstance(el, etree._Element)
        text = element_text(el, COMMENT_CHARS, COMMENT_CHARS)
        days.extend(day for _, day in find_days(text or "", rules, lang) if day <= latest)
    if not days:
        return []
    day = min(days)
    return [Evidence("comment", day, rules.weights["comment"], raw=day.isoformat())]


# Last-resort patterns, tried in turn: an ISO day outside URLs, a dotted day, then an ISO
# day anywhere (in a link or an image path: /2012-02-14/, /2019/12/02/). They run over the
# whole page, so each opens with what the regex engine can scan for quickly (a digit, the
# dot) and tests the character before the date in a lookbehind after it: "(?<![\d/])" in
# front of the year made the first pattern 4 times slower, the dotted day's 25 times.
# The dotted day is "d" when written with two digits, "d1" with one.
_MARKUP_TIERS = (
    re.compile(r"(?P<y>(?:19|20)\d\d)(?<![\d/]....)([-/])(?P<m>0[1-9]|1[0-2])\2(?P<d>0[1-9]|[12]\d|3[01])(?![\d/])"),
    re.compile(r"\.(?:(?<=(?<![\d.])(?P<d>[12]\d|3[01]|0[1-9])\.)|(?<=(?<![\d.])(?P<d1>[1-9])\.))"
               r"(?P<m>0?[1-9]|1[0-2])\.(?P<y>(?:19|20)\d\d)(?![\d.])"),
    re.compile(r"(?P<y>(?:19|20)\d\d)(?<!\d....)([-/])(?P<m>0[1-9]|1[0-2])\2(?P<d>0[1-9]|[12]\d|3[01])(?!\d)"),
)  # fmt: skip


def in_markup(html: str, weight: float, latest: date) -> list[Evidence]:
    """Last resort: the day written most often in the markup (scripts, attributes, links).

    Ties go to the earliest day, the first publication; days after `latest` do not count.
    """
    for pattern in _MARKUP_TIERS:
        counts: dict[date, int] = {}
        for match in pattern.finditer(html):
            number = match["d"] or match.groupdict()["d1"]
            day = make_day(int(match["y"]), int(match["m"]), int(number))
            if day is not None and day <= latest:
                counts[day] = counts.get(day, 0) + 1
        if counts:
            day = max(counts, key=lambda d: (counts[d], -d.toordinal()))
            return [Evidence("markup", day, weight, raw=day.isoformat())]
    return []
