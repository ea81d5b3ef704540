"""Which cleaned pages are articles, for pages that carry no article markup.

The spider makes an item of a page without JSON-LD or ``og:type`` only as a candidate
(archiver.discovery.parse); the cleaner's result decides. An article has a headline, a
dominant body of running text and a dateline or byline (or a long enough body to stand on
its own); a listing - linked headlines, teasers that open with a link to the story, "read
more" lines - is not one, whatever its headline and date say. The judgement reads the
cleaned body's HTML (one line per block, see render.py), so the page is not parsed again.
docs/cleaning.md ("Which pages are articles") gives the figures on both development sets.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from archiver.cleaning.cleaner import Article
from archiver.cleaning.document import count_words

# A teaser block: a heading that is mostly link, a paragraph that opens with a link of at
# least TEASER_LINK_WORDS words (the story's headline, then its blurb), or a paragraph that is
# all link ("Read the full story"). A listing has at least LISTING_TEASERS of them, making
# up at least LISTING_SHARE of the body's blocks. Set from the shapes of listings, then
# checked on both development sets (docs/cleaning.md): 3 teasers and a third of the blocks
# turn no article page of either set into a listing that 2 and a quarter would not.
TEASER_LINK_WORDS = 3
LISTING_TEASERS = 3
LISTING_SHARE = 1 / 3
# A body whose text is more than this share link text is a list of links.
LINK_SHARE = 0.5
# Running text: paragraphs of at least PROSE_WORDS words that are not teasers. An article's
# running text makes at least PROSE_SHARE of its words (a page of short lines, a table or a
# list of links does not).
PROSE_WORDS = 12
PROSE_SHARE = 1 / 3
# Without a date or a byline, a page needs this many words of running text to be taken
# for an article on its text alone.
UNSIGNED_WORDS = 150

_TEASER_KINDS = frozenset({"p", "li", "h2", "h3", "h4"})
_BLOCK = re.compile(r"<(p|h[2-4]|li|pre|td|th)>(.*)</\1>$")
_LINK = re.compile(r"<a\b[^>]*>(.*?)</a>", re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
# Inline tags that may wrap a teaser's leading link (<strong><a>...</a></strong>).
_LEADING_INLINE = re.compile(r"^(?:\s|<(?:strong|b|em|i|span|small)\b[^>]*>)*<a\b")


@dataclass(frozen=True)
class PageKind:
    """The judgement: an article or not, and why (one line, for logs and DropItem)."""

    is_article: bool
    reason: str


@dataclass
class _Shape:
    blocks: int = 0
    teasers: int = 0
    words: int = 0
    prose_words: int = 0
    chars: int = 0
    link_chars: int = 0


def _plain(fragment: str) -> str:
    return " ".join(html.unescape(_TAG.sub(" ", fragment)).split())


def _shape(body_html: str) -> _Shape:
    shape = _Shape()
    for line in body_html.splitlines():
        match = _BLOCK.match(line)
        if match is None:
            continue
        kind, inner = match.groups()
        text = _plain(inner)
        if not text:
            continue
        words = count_words(text)
        linked = [_plain(m) for m in _LINK.findall(inner)]
        link_chars = sum(len(t) for t in linked)
        shape.words += words
        shape.chars += len(text)
        shape.link_chars += link_chars
        teaser = False
        if kind in _TEASER_KINDS:
            # Table cells are neither: a results table links its names, cell by cell.
            shape.blocks += 1
            if kind.startswith("h"):
                teaser = link_chars * 2 > len(text) and words >= TEASER_LINK_WORDS
            else:
                leads = (
                    bool(linked)
                    and _LEADING_INLINE.match(inner) is not None
                    and count_words(linked[0]) >= TEASER_LINK_WORDS
                )
                teaser = leads or (kind == "p" and link_chars >= len(text) - 2)
        if teaser:
            shape.teasers += 1
        elif not kind.startswith("h") and words >= PROSE_WORDS:
            shape.prose_words += words
    return shape


def judge_article(article: Article) -> PageKind:
    """Whether the cleaner's result is an article page (not a listing, not a stub)."""
    if not article.is_article or not article.body:
        return PageKind(False, article.reason or "no article body")
    if not (article.title or "").strip():
        return PageKind(False, "no headline")
    shape = _shape(article.body_html)
    if shape.teasers >= LISTING_TEASERS and shape.teasers >= LISTING_SHARE * shape.blocks:
        return PageKind(
            False, f"a listing: {shape.teasers} of {shape.blocks} blocks are links to stories"
        )
    if shape.chars and shape.link_chars > LINK_SHARE * shape.chars:
        share = shape.link_chars / shape.chars
        return PageKind(False, f"a listing: links make {share:.0%} of the text")
    if shape.prose_words < PROSE_SHARE * shape.words:
        return PageKind(
            False, f"no running text ({shape.prose_words} of {shape.words} words in paragraphs)"
        )
    signed = bool(article.published or article.authors)
    if not signed and shape.prose_words < UNSIGNED_WORDS:
        return PageKind(
            False,
            f"no dateline or byline, and {shape.prose_words} words of running text "
            f"({UNSIGNED_WORDS} needed without them)",
        )
    evidence = ["headline", f"{shape.prose_words} words of running text"]
    if article.published:
        evidence.append("dateline")
    if article.authors:
        evidence.append("byline")
    return PageKind(True, ", ".join(evidence))
