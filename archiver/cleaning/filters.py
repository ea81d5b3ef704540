"""Block filters: labels, boxes, captions, bylines, link lists and repeats in the chosen blocks."""

from __future__ import annotations

import re

from archiver.cleaning.blocks import _Block
from archiver.cleaning.metadata import _HAS_TIME, _find_day, _Meta
from archiver.cleaning.rulebook import CompiledRules, normalize_phrase
from archiver.cleaning.tuning import DUP_WINDOW, GOOD_BLOCK_CHARS, LINK_DENSE, SHORT_BLOCK_CHARS


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
    kept = 0  # characters kept so far
    for block in blocks:
        key = normalize_phrase(block.text)
        short = block.chars < SHORT_BLOCK_CHARS
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
            continue
        if short and "|" in low and _meta_bar(low, rules):
            continue
        if block.chars <= 24 and block.kind == "p" and _SIGNATURE.match(block.text):
            continue
        if short and rules.block_suffix is not None and rules.block_suffix.search(low):
            continue
        if block.kind == "p" and (block.link_density >= 0.9 or block.only_links):
            continue
        if block.chars < 100 and _furniture(block.text, rules, m.html_lang, block.wrap):
            continue
        if block.chars >= 20 and len(out) - seen.get(key, -DUP_WINDOW - 1) <= DUP_WINDOW:
            continue
        seen[key] = len(out)
        out.append(block)
        kept += block.chars
    return _drop_link_lists(out)


def _meta_bar(low: str, rules: CompiledRules) -> bool:
    """A bar of page furniture written with pipes ("Comments feed | Comments closed | Print").

    One of its parts is a label, a comment heading or a tag/caption prefix ("Tags: ...").
    """
    parts = [part.strip() for part in low.split("|")]
    for part in parts:
        key = normalize_phrase(part)
        if key in rules.labels or key in rules.endings or _COUNT.sub("", key) in rules.endings:
            return True
        if rules.block_prefix is not None and rules.block_prefix.match(part):
            return True
    return False


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
