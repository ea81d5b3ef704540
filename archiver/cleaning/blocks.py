"""Segmentation and scoring (BeautifulSoup): text blocks, container scores, the article's blocks.

One walk over the pruned body cuts it into blocks and records every container's block
range; the best-scoring container (or a content-rule match) is chosen and its standfirst
taken in.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterator
from urllib.parse import quote

from bs4 import Tag
from bs4.element import NavigableString

from archiver.cleaning.document import UNSPACED_FROM, _absolute, unspaced_chars, visible
from archiver.cleaning.rulebook import normalize_phrase
from archiver.cleaning.soup import MAX_DEPTH
from archiver.cleaning.tuning import (
    CONTENT_SHARE,
    GOOD_BLOCK_CHARS,
    HEADED_MIN_CHARS,
    HEADLINE_WITHIN,
    LEAD_LOOKBACK,
    LEAD_MAX,
    LINK_DENSE,
    SHORT_BLOCK_CHARS,
    UNSPACED_WEIGHT,
)

BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details",
        "dialog", "dir", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form",
        "h1", "h2", "h3", "h4", "h5", "h6", "header", "hgroup", "hr", "html", "li", "main", "menu",
        "nav", "ol", "p", "pre", "section", "summary", "table", "tbody", "td", "tfoot", "th",
        "thead", "tr", "ul", "amp-story", "amp-fit-text",
    }
)  # fmt: skip
HEADINGS = {"h1": "h1", "h2": "h2", "h3": "h3", "h4": "h4", "h5": "h4", "h6": "h4"}
# Block kinds that set the kind of every block inside them.
KIND_TAGS = frozenset(
    {"p", "li", "dt", "dd", "pre", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6"}
)
WRAP_TAGS = frozenset({"ul", "ol", "dl", "table", "tr", "blockquote"})

CANDIDATE_SKIP = frozenset({"li", "dt", "dd", "tr", "th", "thead", "tbody", "ul", "ol"})
RUBY_TEXT = frozenset({"rt", "rp"})
# What libxml2 leaves unescaped in a URI attribute besides letters, digits and "-_.~".
_HREF_SAFE = "@/:=?;#%&,+<>!*'()~|"


_WORD_CHAR = re.compile(r"[^\W_]")
_SPACES = re.compile(r"\s+")


class _Block:
    """One paragraph-like piece of text, with where it sits and how link-heavy it is."""

    __slots__ = ("chars", "html", "kind", "links", "only_links", "size", "text", "wrap")

    def __init__(
        self, kind: str, text: str, html: str, links: int, wrap: tuple[str, ...], only_links: bool
    ) -> None:
        self.kind = kind
        self.text = text
        self.html = html
        self.links = links
        self.chars = len(text)
        # Length as Latin-script prose: a letter of an unspaced script (Chinese, Japanese,
        # Thai) carries about as much as UNSPACED_WEIGHT Latin characters.
        self.size = self.chars
        if text and max(text) >= UNSPACED_FROM:
            self.size += (UNSPACED_WEIGHT - 1) * unspaced_chars(text)
        self.wrap = wrap
        # Two or more links with nothing but punctuation between them: a breadcrumb or a tag
        # line (a single bracketed link is often a quote's source, kept).
        self.only_links = only_links

    @property
    def link_density(self) -> float:
        return self.links / self.chars if self.chars else 0.0

    @property
    def value(self) -> float:
        """How much this block argues for its container being the article (chars, signed)."""
        n = self.size
        density = self.link_density
        if self.kind.startswith("h") and density <= LINK_DENSE:
            return 0.0
        if n >= GOOD_BLOCK_CHARS:
            return n * (1.0 - 2.0 * density)
        return -n * (0.25 + density)


class _Node:
    __slots__ = ("depth", "end", "kind", "name", "rank", "start", "weight")

    def __init__(
        self, start: int, end: int, rank: int | None, weight: int, name: str, depth: int, kind: str
    ) -> None:
        self.start = start
        self.end = end
        self.rank = rank
        self.weight = weight
        self.name = name
        self.depth = depth
        # Tag and class: sibling parts of one body share both.
        self.kind = kind


class _Walker:
    """One pass over the soup: text blocks in order, and every container's block range."""

    def __init__(self, base_url: str | None, max_depth: int = MAX_DEPTH) -> None:
        self.base_url = base_url
        self.max_depth = max_depth
        self.blocks: list[_Block] = []
        self.nodes: list[_Node] = []
        self.parts: list[str] = []
        self.html: list[str] = []
        self.links = 0
        self.free_words = False
        self.link_runs = 0
        self.in_link = 0
        self.kind = "p"
        self.wrap: list[str] = []
        self.serial = 0
        self.last_br = False

    def flush(self) -> None:
        if not self.parts:
            return
        raw = "".join(self.parts)
        if self.kind == "pre":
            text = raw.strip("\n")
            html = "".join(self.html).strip("\n")
            if not text.strip():
                text = ""
        else:
            lines = [" ".join(line.split()) for line in raw.split("\n")]
            text = "\n".join(line for line in lines if line)
            html = " ".join("".join(self.html).split())
        if text:
            only_links = self.link_runs >= 2 and not self.free_words
            self.blocks.append(
                _Block(self.kind, text, html, self.links, tuple(self.wrap), only_links)
            )
        self.parts, self.html, self.links, self.last_br = [], [], 0, False
        self.free_words, self.link_runs = False, 0

    def add_text(self, text: str) -> None:
        # Soft hyphens written as entities (&shy;) survived decoding: they go here, once.
        text = visible(text) or ""
        if not text:
            return
        if self.kind != "pre":
            text = _SPACES.sub(" ", text)
            if text == " " and not self.parts:
                return
        elif not self.parts and not text.strip():
            # Inside <pre> the spaces between highlighted tokens are the code's own
            # ("import</span> <span>os"); only whitespace before the first text goes.
            return
        if text.strip():
            self.last_br = False
        self.parts.append(text)
        self.html.append(html_lib.escape(text, quote=False))
        if self.in_link:
            self.links += len(text.strip())
        elif not self.free_words and _WORD_CHAR.search(text):
            self.free_words = True

    def walk(self, tag: Tag, depth: int = 0) -> None:
        """Cut the soup under `tag` into blocks, recording each container's block range."""
        if depth > self.max_depth:
            return
        name = tag.name
        block = name in BLOCK_TAGS
        if block:
            self.flush()
        saved_kind = self.kind
        if name in KIND_TAGS:
            self.kind = HEADINGS.get(name, name)
        wrapped = name in WRAP_TAGS
        if wrapped:
            self.serial += 1
            self.wrap.append(f"{name}#{self.serial}")
        start = len(self.blocks)
        link = name == "a"
        href = ""
        attrs = tag.attrs
        if link:
            # Escaped as lxml's serializer escapes URI attributes (spaces, non-ASCII).
            raw = attrs.get("href")
            href = _absolute(self.base_url, raw if isinstance(raw, str) else None) or ""
            href = quote(href, safe=_HREF_SAFE)
            self.in_link += 1
            self.link_runs += 1
            if href:
                self.html.append(f'<a href="{html_lib.escape(href)}">')
        for child in tag.contents:
            if isinstance(child, Tag):
                # <rt>/<rp> are reading aids printed above the letters, not part of the text.
                if child.name in RUBY_TEXT:
                    continue
                if child.name == "br":
                    if self.last_br:
                        self.flush()
                    elif self.parts:
                        self.parts.append("\n")
                        self.html.append("<br>")
                        self.last_br = True
                else:
                    self.walk(child, depth + 1)
            elif type(child) is NavigableString:  # not a script's, a ruby reading's
                self.add_text(child)
        if link:
            self.in_link -= 1
            if href:
                self.html.append("</a>")
        if block:
            self.flush()
            end = len(self.blocks)
            if end > start and name not in CANDIDATE_SKIP:
                rank = attrs.get("data-cr")
                weight = attrs.get("data-aw")
                cls = attrs.get("class")
                self.nodes.append(
                    _Node(
                        start,
                        end,
                        int(rank) if isinstance(rank, str) else None,
                        int(weight) if isinstance(weight, str) else 0,
                        name,
                        depth,
                        f"{name}.{cls}" if isinstance(cls, str) else name,
                    )
                )
        if wrapped:
            self.wrap.pop()
        self.kind = saved_kind


def _choose(walker: _Walker, specific: int, title_key: str = "") -> list[tuple[int, int]]:
    """Block ranges of the article: the best-scoring container, or content-rule matches."""
    blocks = walker.blocks
    prefix = [0.0]
    good = [0]
    for b in blocks:
        prefix.append(prefix[-1] + b.value)
        good.append(good[-1] + (b.chars if b.value > 0 else 0))
    best: _Node | None = None
    best_value = 0.0
    for node in walker.nodes:
        value = prefix[node.end] - prefix[node.start]
        if node.weight:
            value *= 1.0 + 0.25 * node.weight
        if best is None or value > best_value:
            best, best_value = node, value
    if best is None:
        return [(0, len(blocks))]
    best_good = good[best.end] - good[best.start]
    by_rank: dict[int, list[_Node]] = {}
    for node in walker.nodes:
        if node.rank is not None:
            by_rank.setdefault(node.rank, []).append(node)
    for rank in sorted(by_rank):
        # Outermost matches only; a body split over several matches (one per chunk of
        # paragraphs between ads) is taken whole.
        matches = sorted(by_rank[rank], key=lambda n: (n.start, -n.end))
        outer: list[_Node] = []
        for node in matches:
            if not outer or node.start >= outer[-1].end:
                outer.append(node)
        sizes = [good[n.end] - good[n.start] for n in outer]
        top_good = max(sizes)
        if rank >= specific:
            # A generic wrapper (article, main) counts only when one of them clearly
            # dominates: several <article> elements are usually a story and its teasers.
            # The one that opens with the headline is the story, however long the teasers.
            headed = [
                n
                for n in outer
                if any(
                    _is_headline(b, title_key) for b in blocks[n.start : n.start + HEADLINE_WITHIN]
                )
            ]
            if (
                len(outer) > 1
                and len(headed) == 1
                and good[headed[0].end] - good[headed[0].start] >= HEADED_MIN_CHARS
            ):
                return [(headed[0].start, headed[0].end)]
            runner_up = sorted(sizes)[-2] if len(sizes) > 1 else 0
            if top_good < 2 * runner_up:
                continue
            outer = [outer[sizes.index(top_good)]]
        else:
            outer = [n for n, size in zip(outer, sizes, strict=True) if size >= 0.1 * top_good]
        total = sum(good[n.end] - good[n.start] for n in outer)
        if total < CONTENT_SHARE * best_good:
            continue
        if len(outer) == 1:
            top = outer[0]
            around = top is not best and top.start <= best.start and best.end <= top.end
            if (
                around
                and prefix[top.end] - prefix[top.start] < 0.9 * best_value
                and total < 2 * best_good
            ):
                continue
        ranges = [(n.start, n.end) for n in outer]
        if best.start <= ranges[0][0] and ranges[-1][1] <= best.end:
            ranges = _widen(ranges, blocks, best.start)
        return ranges
    return _merge_parts(best, walker.nodes, prefix)


def _merge_parts(best: _Node, nodes: list[_Node], prefix: list[float]) -> list[tuple[int, int]]:
    """The best container and its siblings of the same tag and class next to it.

    A body cut into several containers around ads and promos ("<div class=text>" part one,
    an ad, "<div class=text>" part two): the parts are siblings of one kind, and whatever
    lies between them is not prose (the ad's own text, if any, scores below zero).
    """
    if best.kind == best.name and best.name not in ("article", "section"):
        return [(best.start, best.end)]
    parent: _Node | None = None
    for node in nodes:
        if node.depth == best.depth - 1 and node.start <= best.start and best.end <= node.end:
            parent = node
            break
    if parent is None:
        return [(best.start, best.end)]
    siblings = sorted(
        (
            n
            for n in nodes
            if n.depth == best.depth and parent.start <= n.start and n.end <= parent.end
        ),
        key=lambda n: n.start,
    )
    at = siblings.index(best)
    parts = [best]
    for step in (-1, 1):
        i, edge = at + step, best
        while 0 <= i < len(siblings):
            node = siblings[i]
            gap = (node.end, edge.start) if step < 0 else (edge.end, node.start)
            if prefix[gap[1]] - prefix[gap[0]] > 0:
                break
            value = prefix[node.end] - prefix[node.start]
            if node.kind == best.kind and value > 0:
                parts.append(node)
                edge = node
            elif value > 0:
                break
            i += step
    parts.sort(key=lambda n: n.start)
    return [(n.start, n.end) for n in parts]


def _enclosing_prose(
    ranges: list[tuple[int, int]], walker: _Walker
) -> Iterator[tuple[list[int], list[_Block]]]:
    """Short lines around a too-short choice: its containers, innermost first.

    A short post of short lines (three lines of dialogue, a data sheet of "Camera: X"
    lines) scores its lines below zero, so the best container is one paragraph, under the
    length floor. For each container around it (below <body>) this gives the indexes of
    its blocks without links (and not mostly link), and all its blocks.
    """
    start, end = ranges[0][0], ranges[-1][1]
    blocks = walker.blocks
    around = sorted(
        (n for n in walker.nodes if n.start <= start and end <= n.end),
        key=lambda n: (n.end - n.start, -n.depth),
    )
    for node in around:
        if node.name in ("body", "html"):
            return
        plain = [
            i
            for i in range(node.start, node.end)
            if blocks[i].link_density <= LINK_DENSE and not blocks[i].only_links
        ]
        yield plain, blocks[node.start : node.end]


def _widen(ranges: list[tuple[int, int]], blocks: list[_Block], low: int) -> list[tuple[int, int]]:
    """Take in the prose just before a content-rule match (a lead paragraph kept apart)."""
    start = ranges[0][0]
    while start > low and blocks[start - 1].value > 0:
        start -= 1
    return [(start, ranges[0][1]), *ranges[1:]]


def _is_headline(block: _Block, title_key: str) -> bool:
    if block.kind == "h1":
        return True
    if not title_key or block.chars >= SHORT_BLOCK_CHARS:
        return False
    return normalize_phrase(block.text) == title_key


def _with_lead(
    ranges: list[tuple[int, int]], walker: _Walker, title_key: str
) -> list[tuple[int, int]]:
    """Add the standfirst kept apart from the body: prose between the headline and the body.

    News templates put the lead in its own element before the body container, often
    with the picture, its caption and credit, the byline or the date in between. It is
    taken when it sits inside the same <article> element as the body, or when the walk
    back from the body reaches the headline.
    """
    blocks = walker.blocks
    start, end = ranges[0]
    article: _Node | None = None
    for node in walker.nodes:
        inside = node.name == "article" and node.start < start and end <= node.end
        if inside and (article is None or node.start > article.start):
            article = node
    floor = max(0, start - LEAD_LOOKBACK)
    if article is not None:
        floor = max(floor, article.start)
    leads: list[int] = []
    reached_headline = False
    for i in range(start - 1, floor - 1, -1):
        block = blocks[i]
        if _is_headline(block, title_key):
            reached_headline = True
            break
        if block.kind.startswith("h") or block.link_density > LINK_DENSE:
            break
        if block.value > 0 and block.kind == "p":
            leads.append(i)
    # More prose than a standfirst holds is another story's text (or a teaser), not a lead.
    if not leads or len(leads) > LEAD_MAX or (article is None and not reached_headline):
        return ranges
    return [(i, i + 1) for i in reversed(leads)] + ranges
