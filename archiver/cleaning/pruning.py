"""Pruning (lxml, one top-down pass): boilerplate removed by tag, class word and selector."""

from __future__ import annotations

import functools
import re

from lxml import etree

from archiver.cleaning.document import _content, _text
from archiver.cleaning.rulebook import CompiledRules
from archiver.cleaning.tuning import (
    CORE_CANDIDATES,
    CORE_PENALTY,
    GOOD_BLOCK_CHARS,
    ITEM_SIBLINGS,
    PROTECT_SHARE,
    SPARE_CHARS,
)

WEIGHED_TAGS = frozenset({"div", "section", "article", "main", "td"})
# "non-paywall", "no-sidebar" and "not-print" say the opposite of their drop word.
_NEGATED = re.compile(r"(?:^|(?<=[\s_-]))no[nt]?-[a-z0-9]+")


def class_words(el: etree._Element) -> str:
    """The element's class and id in lower case, without negated words ("non-paywall")."""
    return _words(el.get("class") or "", el.get("id") or "")


@functools.lru_cache(maxsize=8192)
def _words(cls: str, ident: str) -> str:
    # Class values repeat within a page and across a site's pages: each is read once.
    words = f"{cls} {ident}".lower()
    return _NEGATED.sub("", words) if "no" in words else words


@functools.lru_cache(maxsize=16384)
def _found(pattern: re.Pattern[str], words: str) -> bool:
    """Whether the keyword regex finds a word in `words`, remembered (see _words)."""
    return pattern.search(words) is not None


def _core(body: etree._Element, rules: CompiledRules) -> etree._Element | None:
    """The element that holds the most paragraph text (net of links) right below it.

    Every text-bearing element gives its text length to its parent and half of it to its
    grandparent (so that a body whose paragraphs are wrapped one level deeper still wins).
    The winner and its ancestors are the article's subtree: in the second pass no tag or
    class-word rule removes them.
    """
    scores: dict[etree._Element, float] = {}
    for el in body.iter("p", "pre", "blockquote", "div", "td"):
        if el.tag == "p" or el.tag == "pre":
            size = len(_content(el)) - sum(len(_content(a)) for a in el.iter("a"))
        else:
            own = (el.text or "").strip()
            size = len(own) + sum(len((c.tail or "").strip()) for c in el)
            if (
                size
                and _LETTER.search(own) is None
                and not any(_LETTER.search(c.tail or "") for c in el)
            ):
                continue  # a strip of minutes or scores ("95' 88' 81'") is no prose
        if size < 25:  # a label, a date or a button's text says nothing about where prose is
            continue
        parent = el.getparent() if el.tag in ("p", "pre") else el
        if parent is None:
            continue
        scores[parent] = scores.get(parent, 0.0) + size
        grand = parent.getparent()
        if grand is not None:
            scores[grand] = scores.get(grand, 0.0) + size / 2
    if not scores:
        return None
    top = sorted(scores, key=scores.__getitem__, reverse=True)[:CORE_CANDIDATES]
    drop_class = rules.drop_class
    best, best_value = None, 0.0
    for el in top:
        chain = (el, *el.iterancestors())
        value = scores[el]
        # Inside a boilerplate tag (footer, aside) or under a drop word: less likely the story.
        if any(up.tag in rules.drop_tags for up in chain):
            value *= CORE_PENALTY
        if drop_class is not None and any(drop_class.search(class_words(up)) for up in chain):
            value *= CORE_PENALTY
        if value > best_value:
            best, best_value = el, value
    return best


def _items_like(core: etree._Element) -> list[etree._Element]:
    """The entries of a feed the core is one of: a live ticker's or a post list's items.

    When the core (or the element around it) is one of at least ITEM_SIBLINGS siblings of the
    same tag and first class word, the story is the run of them (a live ticker's minutes, named like
    comments), not its longest entry.
    """
    unit: etree._Element | None = core
    for _ in range(2):
        if unit is None:
            break
        parent = unit.getparent()
        cls = (unit.get("class") or "").split()
        if parent is not None and cls:
            # The first class word names the kind of entry; the others vary ("left", "green").
            kind = cls[0]
            items = [
                c
                for c in parent
                if c.tag == unit.tag and (c.get("class") or "").split()[:1] == [kind]
            ]
            if len(items) >= ITEM_SIBLINGS:
                return items
        unit = parent
    return []


def _paragraph_chars(el: etree._Element) -> int:
    return sum(len(_content(p)) for p in el.iter("p"))


def _prune(doc: etree._Element, rules: CompiledRules, protect: bool = False) -> etree._Element:
    """Remove boilerplate by tag, class word and selector; mark content candidates.

    With `protect`, the core (the element holding the most paragraph text) and its
    ancestors survive every tag and class-word rule (the second pass on a page where the
    first left no article: a wrapper named `widget`, `podcast` or `paywall`).
    """
    etree.strip_elements(doc, *rules.strip_tags, with_tail=False)
    body = doc.find("body")
    if body is None:
        body = doc
    total_p = _paragraph_chars(body)
    measure = _paragraph_chars if total_p >= 500 else (lambda el: len(_content(el)))
    total = total_p if total_p >= 500 else len(_content(body))
    threshold = max(1.0, total * PROTECT_SHARE)
    content = rules.content_selectors

    def spared(el: etree._Element, size: int) -> bool:
        # A content-rule match with real text inside a doomed element saves it.
        if size >= threshold:
            return True
        if size < SPARE_CHARS:
            return False
        complex_hits = content.complex_matches(el)
        return any(
            (content.match(inner) is not None or inner in complex_hits)
            and measure(inner) >= SPARE_CHARS
            for inner in el.iter()
            if isinstance(inner.tag, str)
        )

    drop_tags, strict, linked = rules.drop_tags, rules.strict_class, rules.linked_class
    selectors = rules.drop_selectors
    selected = selectors.complex_matches(body)
    core = _core(body, rules) if protect else None
    protected = set() if core is None else {core, *core.iterancestors()}
    if core is not None:
        for item in _items_like(core):
            protected.update(item.iter())
    positive, negative = rules.positive_class, rules.negative_class
    lead_class = rules.lead_class
    # Top-down, so that nothing inside a dropped element is looked at.
    stack = [body]
    while stack:
        for el in list(stack.pop()):
            tag = el.tag
            if not isinstance(tag, str):
                continue
            cls, ident = el.get("class"), el.get("id")
            words = _words(cls or "", ident or "") if cls is not None or ident is not None else None
            doomed = (
                (
                    (tag in drop_tags and not (tag == "header" and _prose_header(el)))
                    or (words is not None and strict is not None and _found(strict, words))
                    or (
                        words is not None
                        and linked is not None
                        and _found(linked, words)
                        and _links_out(el)
                    )
                )
                and el not in protected
            ) or (selectors.match(el) is not None or el in selected)
            if not doomed and tag == "div" and len(el) and _dialog(el):
                doomed = el not in protected
            if doomed and not spared(el, measure(el)):
                if lead_class is not None:
                    stack.extend(_rescue_lead(el, lead_class))
                _drop(el)
                continue
            if words is not None and tag in WEIGHED_TAGS:
                weight = (1 if positive and _found(positive, words) else 0) - (
                    1 if negative and _found(negative, words) else 0
                )
                if weight:
                    el.set("data-aw", str(weight))
            if len(el):
                stack.append(el)
    complex_hits = content.complex_matches(body)
    for el in body.iter():
        if isinstance(el.tag, str):
            rank = content.match(el)
            hit = complex_hits.get(el)
            if hit is not None and (rank is None or hit < rank):
                rank = hit
            if rank is not None:
                el.set("data-cr", str(rank))
    return body


_LETTER = re.compile(r"[^\W\d_]")
_CLOSE = re.compile(r"(?:^|[\s_-])close(?:$|[\s_-])")


def _dialog(el: etree._Element) -> bool:
    """A box that opens with its own close button: a dialog or pop-up laid over the page.

    Such boxes (delivery terms, a sign-up form, a notice) are printed in the page and shown
    on a click; the button is a short element whose class says "close".
    """
    first = el[0]
    if not isinstance(first.tag, str):
        return False
    cls = first.get("class")
    if not cls or "close" not in cls.lower():
        return False
    return _CLOSE.search(cls.lower()) is not None and len(_text(first)) < 20


def _prose_header(el: etree._Element) -> bool:
    """A <header> that holds the text of a page part, not the site's or the story's header.

    Templates put a section's text in a <header> beside its picture; a site header holds
    links and a logo, a story header the <h1>, a byline and a short standfirst (which
    _rescue_lead keeps).
    """
    if next(el.iter("h1", "nav", "ul", "ol", "form"), None) is not None:
        return False
    prose = _paragraph_chars(el)
    links = sum(len(_content(a)) for a in el.iter("a"))
    return prose >= SPARE_CHARS and links * 4 < prose


def _links_out(el: etree._Element) -> bool:
    """A box that holds a link, or too little text to be prose: a teaser box, not a lead."""
    return next(el.iter("a"), None) is not None or len(_text(el)) < GOOD_BLOCK_CHARS


def _rescue_lead(el: etree._Element, lead_class: re.Pattern[str]) -> list[etree._Element]:
    """Move the standfirst out of a story header that is about to go (it holds the <h1>)."""
    if next(el.iter("h1"), None) is None:
        return []
    moved: list[etree._Element] = []
    for inner in el.iter():
        if inner is el or not isinstance(inner.tag, str):
            continue
        words = class_words(inner)
        if not lead_class.search(words) or len(_text(inner)) < GOOD_BLOCK_CHARS:
            continue
        if any(inner in m.iterdescendants() for m in moved):
            continue
        moved.append(inner)
    for lead in moved:
        lead.tail = None
        el.addprevious(lead)
    return moved


def _drop(el: etree._Element) -> None:
    """Remove an element but keep the text that follows it."""
    parent = el.getparent()
    if parent is None:
        return
    tail = el.tail
    if tail and tail.strip():
        previous = el.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(el)
