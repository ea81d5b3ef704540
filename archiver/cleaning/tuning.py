"""The cleaner's tuned constants; each says how it was set (docs/cleaning.md tells the method)."""

from __future__ import annotations

# Bounded work: pages are cut here (the largest article of the benchmark is under 2 M characters).
MAX_HTML_CHARS = 8_000_000
# Below this many words a typed article (JSON-LD/og:type) still counts; untyped pages need more.
MIN_WORDS_TYPED = 15
MIN_WORDS_UNTYPED = 50
# A block at least this long (characters) with few links is article prose.
GOOD_BLOCK_CHARS = 60
# Blocks whose link text exceeds this share of their text are navigation-like.
LINK_DENSE = 0.5
# Caption and teaser patterns only apply to blocks shorter than this (a long paragraph
# that happens to start with "Photo:" is prose).
SHORT_BLOCK_CHARS = 300
# An element holding at least this share of the page's paragraph text is never dropped by a
# class or tag rule: it is the article wrapper carrying an unlucky word ("has-sidebar").
PROTECT_SHARE = 0.5
# Likewise an element matching a content rule ("[itemprop=articleBody]", ".entry-content")
# with at least this much text, and its ancestors.
SPARE_CHARS = 400
# A content-rule match is taken instead of the best-scoring container when it holds at least
# this share of that container's prose (lower shares are a teaser that reuses the class).
CONTENT_SHARE = 0.25
# A standfirst is looked for this many blocks back from the body (a picture's caption and
# credit, a byline and a date often sit in between); 3 to 12 score the same on the benchmark.
LEAD_LOOKBACK = 6
# Prose paragraphs found there that still make a standfirst: with 2, a photo caption
# printed as a paragraph came in with the byline on one benchmark page (-0.0007 F1).
LEAD_MAX = 1
# A block repeating one of the last few kept blocks is a doubled caption or headline; a
# repeat further away is the story's own (a recipe line for each plan). 1 to 5 score the
# same on the benchmark (+0.002 F1 over dropping every repeat); 10 starts to lose recall.
DUP_WINDOW = 3
# Of several <article> elements, the one whose first blocks hold the headline is the
# story, however long its neighbours (full-text teasers) are, if it holds this much prose.
# 1 to 10 blocks and 0 to 800 characters score the same on the benchmark.
HEADLINE_WITHIN = 3
HEADED_MIN_CHARS = 400
