"""Rendering: the kept blocks as plain text and as structural HTML."""

from __future__ import annotations

from archiver.cleaning.blocks import _Block


def _render_text(blocks: list[_Block]) -> str:
    paragraphs: list[str] = []
    previous: _Block | None = None
    for block in blocks:
        joined = (
            previous is not None
            and block.kind in ("li", "td", "th", "dt", "dd")
            and previous.kind in ("li", "td", "th", "dt", "dd")
            and block.wrap[:1] == previous.wrap[:1]
            and bool(block.wrap)
        )
        if joined:
            same_row = block.kind in ("td", "th") and block.wrap == previous.wrap  # type: ignore[union-attr]
            paragraphs[-1] += (" | " if same_row else "\n") + block.text
        else:
            paragraphs.append(block.text)
        previous = block
    return "\n\n".join(paragraphs)


def _render_html(blocks: list[_Block]) -> str:
    out: list[str] = []
    open_wraps: list[str] = []
    for block in blocks:
        wrap = list(block.wrap)
        common = 0
        while common < min(len(wrap), len(open_wraps)) and wrap[common] == open_wraps[common]:
            common += 1
        while len(open_wraps) > common:
            out.append(f"</{open_wraps.pop().split('#')[0]}>")
        for item in wrap[common:]:
            out.append(f"<{item.split('#')[0]}>")
            open_wraps.append(item)
        tag = {"h1": "h2", "dt": "p", "dd": "p"}.get(block.kind, block.kind)
        if tag not in ("p", "h2", "h3", "h4", "li", "pre", "td", "th"):
            tag = "p"
        out.append(f"<{tag}>{block.html}</{tag}>")
    while open_wraps:
        out.append(f"</{open_wraps.pop().split('#')[0]}>")
    return "\n".join(out)
