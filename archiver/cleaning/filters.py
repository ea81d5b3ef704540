"""Block filters: labels, boxes, captions, bylines, link lists and repeats in the chosen blocks."""

from __future__ import annotations

import re

from archiver.cleaning.blocks import _Block
from archiver.cleaning.metadata import _HAS_TIME, _find_day, _Meta
from archiver.cleaning.rulebook import CompiledRules, normalize_phrase
from archiver.cleaning.tuning import (
    BLURB_CHARS,
    DUP_WINDOW,
    GOOD_BLOCK_CHARS,
    LINK_DENSE,
    SHORT_BLOCK_CHARS,
)


def _heading_hit(key: str, rules: CompiledRules) -> bool:
    if key in rules.headings:
        return True
    if len(key) > 60:
        return False
    return key.startswith(rules.heading_starts)


# The desk's signature under a story: author initials and agencies ("aja/PAP", "(dr/dpa)").
_SIGNATURE = re.compile(r"^\(?[^\W\d_]{1,5}(?:/[^\W\d_]{1,5})+\)?$")
# A count printed with a comment heading: "3 Comments", "Kommentare (12)", "Comments: 4".
_COUNT = re.compile(r"^\d+\s+|\s*[(\[]?\d+[)\]]?$")
# What separates the parts of a bar of page furniture: pipes, and bullets or dashes between
# spaces ("Published ... • Print • 3 comments", "Reader comments (4) — Post your own").
_BAR_SPLIT = re.compile(r"\||\s[\u2022\u00b7\u2014]\s")
# A photo credit in Chinese under a picture: a name and "摄"/"攝" ("photographed") or
# "供图" ("picture supplied") closing a short line ("记者 李明 摄", "张三/摄").
_CJK_CREDIT = re.compile(
    r"[\s/\uff0f\uff08(][^\s/\uff0f]{1,10}\s*/?\s*(?:\u6444|\u651d|\u4f9b\u56fe|\u4f9b\u5716)[)\uff09]?$"
)
# A counter printed on its own ("412", "1.2K" is not: it has a letter).
_BARE_NUMBER = re.compile(r"^[\d\s.,+()]*\d[\d\s.,+()]*$")
# A rating widget's stars ("★★★★☆ 4.6 from 213 votes", "Rate this recipe: ☆☆☆☆☆").
_STARS = re.compile(r"[\u2605\u2606\u2b50\u272a-\u272f]{3}")
# The longest line above the story read as a byline ("Name · 5 March 2026").
BYLINE_CHARS = 80
# A link box's leading words before its first link ("Temas <a>...</a> <a>...</a>").
_BEFORE_LINK = re.compile(r"^([^<]*)<a ")


def _ends_story(block: _Block, key: str, rules: CompiledRules) -> bool:
    """A comment section's heading ("3 Comments", "Leave a Reply"): the story ends there."""
    if block.chars > GOOD_BLOCK_CHARS or block.link_density > LINK_DENSE:
        return False
    return key in rules.endings or _COUNT.sub("", key) in rules.endings


def _filter(
    blocks: list[_Block], rules: CompiledRules, m: _Meta, title: str | None
) -> list[_Block]:
    title_key = normalize_phrase(title or "")
    out: list[_Block] = []
    seen: dict[str, int] = {}
    skipping = False
    pitch = False  # a sign-up heading went: the short pitch under it goes too
    kept = 0  # characters kept so far
    bylines: set[str] = set()  # the parts of the short lines above the story ("Name · date")
    for block in blocks:
        key = normalize_phrase(block.text)
        short = block.chars < SHORT_BLOCK_CHARS
        if kept < GOOD_BLOCK_CHARS and block.chars < BYLINE_CHARS:
            bylines.update(_byline_names(block, key, rules))
        elif kept >= GOOD_BLOCK_CHARS and _writer_box(block, key, bylines):
            break
        if pitch:
            pitch = False
            if block.chars < BLURB_CHARS and not block.kind.startswith("h") and not block.links:
                continue
        if skipping:
            # A box's items open with their link (a headline, then maybe a blurb); an item
            # that only cites a link in its own sentence is a list of the story's own.
            teaser_item = block.kind == "li" and block.html.startswith("<a ")
            if block.link_density > LINK_DENSE or teaser_item:
                continue
            if block.chars < GOOD_BLOCK_CHARS and not block.kind.startswith("h"):
                continue
            skipping = False
        if block.kind == "h1" and title_key and (key in title_key or title_key in key):
            continue
        # The headline printed as a lower heading on a page without <h1>, above the story.
        if not kept and not m.h1_titles and block.kind.startswith("h") and key == title_key:
            continue
        if not key:
            continue
        if kept >= GOOD_BLOCK_CHARS and _ends_story(block, key, rules):
            break
        if key in rules.labels:
            continue
        if short and _heading_hit(key, rules):
            skipping = True
            continue
        low = block.text.lower()
        # A box heading and its links run together in one block ("Don't miss<br>link<br>link").
        if (
            block.link_density > LINK_DENSE
            and "\n" in low
            and normalize_phrase(low.split("\n", 1)[0]) in rules.headings
        ):
            continue
        if short and any(
            normalize_phrase(line) in m.captions
            or (rules.block_prefix is not None and rules.block_prefix.match(line))
            for line in low.split("\n")
        ):
            continue
        if short and rules.block_mention is not None and rules.block_mention.search(low):
            # A sign-up box's heading ("Subscribe to our newsletter"): its pitch goes with it.
            pitch = block.kind.startswith("h")
            continue
        if short and _BAR_SPLIT.search(low) and _meta_bar(low, rules):
            continue
        if short and block.link_density > LINK_DENSE and _labelled_links(block, rules):
            continue
        if block.chars <= 60 and _CJK_CREDIT.search(block.text):
            continue
        if short and _STARS.search(block.text):
            continue
        # A bare number outside a table (a like or share counter): digits, no letter.
        if block.kind == "p" and block.chars <= 12 and _BARE_NUMBER.match(block.text):
            continue
        if block.chars <= 24 and block.kind == "p" and _SIGNATURE.match(block.text):
            continue
        if short and rules.block_suffix is not None and rules.block_suffix.search(low):
            continue
        if block.kind == "p" and (block.link_density >= 0.9 or block.only_links):
            continue
        # A table cell of two or more links and nothing else: a layout table's breadcrumb.
        if block.kind in ("td", "dd") and block.only_links:
            continue
        if block.chars < 100 and _furniture(block.text, rules, m.html_lang, block.wrap):
            continue
        if block.chars >= 20 and len(out) - seen.get(key, -DUP_WINDOW - 1) <= DUP_WINDOW:
            continue
        seen[key] = len(out)
        out.append(block)
        kept += block.chars
    return _drop_link_lists(out)


def _byline_names(block: _Block, key: str, rules: CompiledRules) -> set[str]:
    """The name in a byline above the story ("Name · 5 March", "By Name | Section")."""
    if block.kind.startswith("h"):
        return set()
    parts = [part.strip() for part in _BAR_SPLIT.split(key)]
    match = rules.author_prefix.match(parts[0]) if rules.author_prefix else None
    if match:
        return {normalize_phrase(parts[0][match.end() :])}
    # A name and a date ("Name · 5. 3. 2026"): another part holds the date's digits.
    dated = any(sum(c.isdigit() for c in part) >= 4 for part in parts[1:])
    return {parts[0]} if dated else set()


def _writer_box(block: _Block, key: str, bylines: set[str]) -> bool:
    """A heading after the story that repeats the byline's name: the writer's box, the end."""
    return (
        block.kind.startswith("h")
        and 2 <= len(key.split()) <= 4
        and not any(c.isdigit() for c in key)
        and key in bylines
    )


def _meta_bar(low: str, rules: CompiledRules) -> bool:
    """A bar of page furniture written with pipes, bullets or dashes ("Feed | Print | 3 Comments").

    One of its parts is a label, a comment heading or a tag/caption prefix ("Tags: ...").
    """
    parts = [part.strip() for part in _BAR_SPLIT.split(low)]
    for part in parts:
        key = normalize_phrase(part)
        if key in rules.labels or key in rules.endings or _COUNT.sub("", key) in rules.endings:
            return True
        if rules.block_prefix is not None and rules.block_prefix.match(part):
            return True
    return False


def _labelled_links(block: _Block, rules: CompiledRules) -> bool:
    """A tag or topic line whose label has no colon ("Temas <a>Huertos</a> <a>Vecinos</a>")."""
    found = _BEFORE_LINK.match(block.html)
    label = normalize_phrase(found.group(1)) if found else ""
    return (
        bool(label)
        and rules.block_prefix is not None
        and bool(rules.block_prefix.match(label + ":"))
    )


def _furniture(text: str, rules: CompiledRules, lang: str, wrap: tuple[str, ...] = ()) -> bool:
    """A byline ("By A and B") or a bare date/time line printed above or below the story.

    Not inside a quotation: "- Name (@name) May 4, 2021" signs an embedded post the
    story quotes, and a quoted letter's date is the letter's.
    """
    if text.endswith((".", "!", "?", "\u201d", '"')) and not _HAS_TIME.search(text[-12:]):
        return False
    if any(w.startswith("blockquote#") for w in wrap):
        return False
    match = rules.author_prefix.match(text.lower()) if rules.author_prefix else None
    if match and text[match.end() :].strip()[:1].isupper():
        return True
    words = len(text.split())
    return words <= 10 and (
        _find_day(text, rules, lang) is not None or bool(_HAS_TIME.search(text))
    )


def _drop_link_lists(blocks: list[_Block]) -> list[_Block]:
    """Lists whose items are all links (teaser lists that no rule named)."""
    keep = [True] * len(blocks)
    i = 0
    while i < len(blocks):
        if blocks[i].kind != "li" or not blocks[i].wrap:
            i += 1
            continue
        j = i
        wrap = blocks[i].wrap
        while j < len(blocks) and blocks[j].kind == "li" and blocks[j].wrap[: len(wrap)] == wrap:
            j += 1
        if j - i >= 2 and all(b.link_density > 0.7 for b in blocks[i:j]):
            for k in range(i, j):
                keep[k] = False
        i = max(j, i + 1)
    return [b for b, k in zip(blocks, keep, strict=True) if k]
