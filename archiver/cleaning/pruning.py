"""Pruning (lxml, one top-down pass): boilerplate removed by tag, class word and selector."""

from __future__ import annotations

import re

from lxml import etree

from archiver.cleaning.document import _content, _text
from archiver.cleaning.rulebook import CompiledRules
from archiver.cleaning.tuning import GOOD_BLOCK_CHARS, PROTECT_SHARE, SPARE_CHARS

WEIGHED_TAGS = frozenset({"div", "section", "article", "main", "td"})


def _paragraph_chars(el: etree._Element) -> int:
    return sum(len(_content(p)) for p in el.iter("p"))


def _prune(doc: etree._Element, rules: CompiledRules) -> etree._Element:
    """Remove boilerplate by tag, class word and selector; mark content candidates."""
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

    drop_tags, drop_class = rules.drop_tags, rules.drop_class
    selectors = rules.drop_selectors
    selected = selectors.complex_matches(body)
    positive, negative = rules.positive_class, rules.negative_class
    lead_class = rules.lead_class
    # Top-down, so that nothing inside a dropped element is looked at.
    stack = [body]
    while stack:
        for el in list(stack.pop()):
            tag = el.tag
            if not isinstance(tag, str):
                continue
            words = el.get("class")
            ident = el.get("id")
            if words is not None or ident is not None:
                words = f"{words or ''} {ident or ''}".lower()
            doomed = (
                tag in drop_tags
                or (words is not None and drop_class is not None and drop_class.search(words))
                or selectors.match(el) is not None
                or el in selected
            )
            if doomed and not spared(el, measure(el)):
                if lead_class is not None:
                    stack.extend(_rescue_lead(el, lead_class))
                _drop(el)
                continue
            if words is not None and tag in WEIGHED_TAGS:
                weight = (1 if positive and positive.search(words) else 0) - (
                    1 if negative and negative.search(words) else 0
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


def _rescue_lead(el: etree._Element, lead_class: re.Pattern[str]) -> list[etree._Element]:
    """Move the standfirst out of a story header that is about to go (it holds the <h1>)."""
    if next(el.iter("h1"), None) is None:
        return []
    moved: list[etree._Element] = []
    for inner in el.iter():
        if inner is el or not isinstance(inner.tag, str):
            continue
        words = f"{inner.get('class') or ''} {inner.get('id') or ''}".lower()
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
