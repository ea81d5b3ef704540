"""Article cleaning: a news page in, its title, metadata and clean body text out.

lxml parses the page, reads the metadata and removes what the rules
(archiver/cleaning/rules/*.toml) mark as boilerplate; BeautifulSoup (lxml builder) then
walks what is left once, cutting it into text blocks and scoring every container;
the best container's blocks are filtered once more and rendered as text and as
structural HTML. docs/cleaning.md explains the steps and how constants were tuned.

This module runs the steps; each lives in its own module: document (decoding, parsing),
metadata, pruning, soup (the pruned tree as a BeautifulSoup tree), blocks (segmentation,
scoring, choosing), filters and render, with the tuned constants in tuning.
"""

from __future__ import annotations

import dataclasses
import logging
import unicodedata
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from lxml import etree

from archiver.cleaning.blocks import _Block, _choose, _enclosing_prose, _Walker, _with_lead
from archiver.cleaning.document import (
    _absolute,
    _parse,
    count_prose_words,
    count_words,
    decode_html,
    visible,
)
from archiver.cleaning.filters import _filter
from archiver.cleaning.metadata import (
    _dates,
    _first_str,
    _language,
    _Meta,
    _names,
    _read_metadata,
    _split_authors,
    _title,
    _visible_byline,
)
from archiver.cleaning.pruning import _prune
from archiver.cleaning.render import _render_html, _render_text
from archiver.cleaning.rulebook import CompiledRules, RuleBook, normalize_phrase, process_rulebook
from archiver.cleaning.soup import soup_from_tree
from archiver.cleaning.tuning import (
    BLURB_CHARS,
    HEADLINE_WORDS,
    LINK_DENSE,
    MIN_WORDS_TYPED,
    MIN_WORDS_UNTYPED,
)

logger = logging.getLogger(__name__)


@dataclass
class Article:
    """What the cleaner found in one page; `body` is empty and `reason` set when no article."""

    url: str | None = None
    canonical_url: str | None = None
    title: str | None = None
    body: str = ""
    body_html: str = ""
    authors: list[str] = field(default_factory=list)
    published: str | None = None
    modified: str | None = None
    language: str | None = None
    section: str | None = None
    description: str | None = None
    image: str | None = None
    word_count: int = 0
    is_article: bool = False
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-serialisable dict."""
        return dataclasses.asdict(self)


def clean_html(
    html: bytes | str,
    url: str | None = None,
    *,
    content_type: str | None = None,
    rules: RuleBook | None = None,
    date_hint: str | None = None,
) -> Article:
    """Clean one page with `rules`, else this process's installed or packaged rules; never raises.

    `date_hint` is the page's date in the feed or sitemap that led to it (one more evidence).
    """
    try:
        return _clean(html, url, content_type, rules or process_rulebook(), date_hint)
    except Exception as exc:  # the crawl must go on whatever one page holds
        logger.warning("cleaning failed for %s: %s: %s", url, type(exc).__name__, exc)
        return Article(url=url, canonical_url=url, reason=f"cleaning failed: {type(exc).__name__}")


def extract_body(html: str, url: str | None) -> str:
    """The body text only (the contract of the shared extraction benchmark)."""
    return clean_html(html, url).body


def _listing(blocks: list[_Block]) -> bool:
    """A run of linked headlines with short blurbs: a section or home page, not an article.

    A linked headline is a heading of a few words that is mostly link; a forum thread's
    linked user names (one or two words) are not. A thread or an article with linked
    subheadings has more prose per heading than a listing's teaser blurbs.
    """
    heads = [b for b in blocks if b.kind.startswith("h") and b.link_density > LINK_DENSE]
    linked_heads = sum(1 for b in heads if count_words(b.text) >= HEADLINE_WORDS)
    prose = [b for b in blocks if b.value > 0]
    return (
        linked_heads >= 4
        and linked_heads * 2 >= len(prose)
        and sum(b.chars for b in prose) < BLURB_CHARS * linked_heads
    )


def _clean(
    html: bytes | str,
    url: str | None,
    content_type: str | None,
    book: RuleBook,
    date_hint: str | None = None,
) -> Article:
    article = Article(url=url, canonical_url=url)
    text = decode_html(html, content_type)
    if not text.strip():
        article.reason = "empty document"
        return article
    doc = _parse(text)
    if doc is None:
        article.reason = "not parseable as HTML"
        return article
    rules = book.for_host(urlsplit(url).hostname if url else None)
    m = _read_metadata(doc, rules)
    jl = m.jsonld
    meta = m.meta
    article.title = visible(_title(m, rules))
    article.canonical_url = _absolute(url, m.canonical) or _absolute(url, meta.get("og:url")) or url
    article.language = _language(m)
    article.published, article.modified = _dates(m, url, doc, date_hint, text)
    article.authors = _split_authors(
        _names(jl.get("author"))
        or [v for k in ("author", "article:author", "parsely-author", "sailthru.author",
                        "dc.creator", "byl") if (v := meta.get(k))]
        or _visible_byline(doc, rules, text),
        rules,
    )  # fmt: skip
    article.section = _first_str(jl.get("articleSection"), meta.get("article:section"),
                                 meta.get("section"), meta.get("parsely-section"))  # fmt: skip
    article.description = _first_str(meta.get("og:description"), meta.get("description"),
                                     meta.get("twitter:description"), jl.get("description"))  # fmt: skip
    article.image = _absolute(
        url, _first_str(meta.get("og:image"), meta.get("twitter:image"), jl.get("image"))
    )

    reason, blocks = _body(doc, rules, m, article, url)
    if reason is not None and reason != LISTING:
        # A rule removed the article's own wrapper, or the body is short lines: prune
        # again, sparing the core, and look around the best container.
        second = _parse(text)
        if second is not None:
            again = _body(second, rules, m, article, url, protect=True)
            if again[0] is None:
                reason, blocks = again
    if reason is not None:
        article.reason = reason
        return article
    article.body = _nfc(_render_text(blocks))
    article.body_html = _nfc(_render_html(blocks))
    article.word_count = count_words(article.body)
    article.is_article = True
    return article


def _nfc(text: str) -> str:
    """Text in Unicode's composed form (NFC): one spelling for letters a page may write two ways.

    "e" and a combining accent become "é"; letters that NFC decomposes (Bengali "য়"
    U+09DF, CJK compatibility ideographs) take their canonical spelling, as search
    indexes and other extractors write them.
    """
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


LISTING = "a list of links to other pages (section or index page), not an article"


def _body(
    doc: etree._Element,
    rules: CompiledRules,
    m: _Meta,
    article: Article,
    url: str | None,
    *,
    protect: bool = False,
) -> tuple[str | None, list[_Block]]:
    """Why there is no body (or None), and the body's blocks."""
    body = _prune(doc, rules, protect)
    walker = _Walker(article.canonical_url or url)
    soup = soup_from_tree(body)
    walker.walk(soup.body or soup)
    walker.flush()
    if not walker.blocks:
        return "no text in the page", []
    title_key = normalize_phrase(article.title or "")
    ranges = _with_lead(_choose(walker, rules.content_specific, title_key), walker, title_key)
    chosen = [b for start, end in ranges for b in walker.blocks[start:end]]
    blocks = _filter(chosen, rules, m, article.title)
    words = sum(count_prose_words(b.text) for b in blocks)
    needed = MIN_WORDS_TYPED if m.typed_article else MIN_WORDS_UNTYPED
    if not m.typed_article and _listing(chosen):
        return LISTING, []
    if words < needed and protect:
        # A short post of short lines (second pass only, so that a first pass that lost the
        # article's wrapper to a rule does not settle for a sidebar): the nearest container
        # whose lines without links are enough, unless it is a listing.
        for plain, whole in _enclosing_prose(ranges, walker):
            if not m.typed_article and _listing(whole):
                break
            kept = _filter([walker.blocks[i] for i in plain], rules, m, article.title)
            if sum(count_prose_words(b.text) for b in kept) >= needed:
                blocks = kept
                words = sum(count_prose_words(b.text) for b in blocks)
                break
    if words < needed:
        return f"no article body found ({words} words of text at best, {needed} needed)", []
    return None, blocks
