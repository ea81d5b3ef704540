"""Page requisites: what an HTML page or a stylesheet needs to render, found in its markup.

Scrapy-free.  :func:`html_requisites` reads one HTML page (stylesheets, icons, preloads,
``<style>`` blocks and ``style`` attributes, images with their ``srcset`` and lazy-loading
attributes, ``<picture><source>``, ``<noscript>`` fallbacks, scripts, video posters,
``og:image`` and ``twitter:image``); :func:`css_requisites` reads one stylesheet (``@import``
and ``url()``, resolved against the stylesheet's own URL).  Each requisite has a kind
(style, font, image, script, icon, media) and the lowest ``ARCHIVER_REQUISITES`` mode that
fetches it (:data:`LEVELS`).  ``data:`` URIs are counted and left alone; media streams
(``<video src>``, ``<audio src>``) are found with kind "media", which no mode fetches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urldefrag, urljoin, urlsplit

import lxml.etree
import lxml.html

Kind = Literal["style", "font", "image", "script", "icon", "media"]
Mode = Literal["none", "styles", "images", "all"]
SrcsetChoice = Literal["all", "largest"]

MODES: tuple[Mode, ...] = ("none", "styles", "images", "all")
# The lowest mode that fetches a requisite: CSS and fonts with "styles", the images a page
# shows with "images", everything else (scripts, icons, posters, share images) with "all".
LEVELS: dict[str, int] = {"none": 0, "styles": 1, "images": 2, "all": 3}
# Media streams: never fetched by any mode (a level above "all").
MEDIA_LEVEL = 4

# The lazy-loading attributes of real news templates (lazysizes, lozad, WordPress plugins).
LAZY_SRC = ("data-src", "data-original", "data-lazy-src", "data-lazy", "data-echo")
LAZY_SRCSET = ("data-srcset", "data-lazy-srcset")
_ICON_RELS = frozenset(
    {"icon", "shortcut", "apple-touch-icon", "apple-touch-icon-precomposed", "mask-icon"}
)
_PRELOAD_AS: dict[str, tuple[Kind, int]] = {
    "style": ("style", 1),
    "font": ("font", 1),
    "image": ("image", 2),
    "script": ("script", 3),
}
_SHARE_IMAGE = frozenset(
    {"og:image", "og:image:url", "og:image:secure_url", "twitter:image", "twitter:image:src"}
)
_FONT_EXT = (".woff2", ".woff", ".ttf", ".otf", ".eot")

_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_CSS_IMPORT = re.compile(
    r"""@import\s+(?:url\(\s*(?:"([^"]*)"|'([^']*)'|([^)\s]*))\s*\)|"([^"]*)"|'([^']*)')""",
    re.I,
)
_CSS_URL = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)\s'"]*))\s*\)""", re.I)
_FONT_FACE = re.compile(r"@font-face\s*\{[^}]*\}", re.I)
_CSS_ESCAPE = re.compile(r"\\([0-9a-fA-F]{1,6}\s?|.)")


@dataclass(frozen=True)
class Requisite:
    """One resource a page needs: its absolute URL, kind and the lowest mode that fetches it."""

    url: str
    kind: Kind
    level: int


@dataclass
class Found:
    """The requisites of one document, in document order, each URL once; data: URIs counted."""

    requisites: list[Requisite] = field(default_factory=list)
    data_uris: int = 0
    _urls: set[str] = field(default_factory=set, repr=False)

    def add(self, base: str, raw: str | None, kind: Kind, level: int) -> None:
        """Resolve `raw` against `base` and keep it if it is a new http(s) URL."""
        value = (raw or "").strip()
        if not value or value.startswith("#"):
            return
        if value[:5].lower() == "data:":
            self.data_uris += 1
            return
        try:
            url = urldefrag(urljoin(base, value))[0]
            scheme = urlsplit(url).scheme
        except ValueError:
            return
        if scheme not in ("http", "https") or url in self._urls:
            return
        self._urls.add(url)
        self.requisites.append(Requisite(url, kind, level))

    def selected(self, mode: str) -> list[Requisite]:
        """The requisites the mode fetches."""
        level = LEVELS[mode]
        return [r for r in self.requisites if r.level <= level]


# --- srcset --------------------------------------------------------------------------
def srcset_candidates(value: str) -> list[tuple[str, float]]:
    """The (URL, size) candidates of a srcset; size is the width (``w``) or density (``x``)."""
    candidates: list[tuple[str, float]] = []
    pos, n = 0, len(value)
    while pos < n:
        while pos < n and (value[pos].isspace() or value[pos] == ","):
            pos += 1
        start = pos
        while pos < n and not value[pos].isspace():
            pos += 1
        url = value[start:pos]
        descriptor = ""
        if url.endswith(","):
            url = url.rstrip(",")
        else:
            start = pos
            depth = 0
            while pos < n and (value[pos] != "," or depth):
                depth += {"(": 1, ")": -1}.get(value[pos], 0)
                pos += 1
            descriptor = value[start:pos].strip()
        if url:
            candidates.append((url, _descriptor_size(descriptor)))
    return candidates


def _descriptor_size(descriptor: str) -> float:
    for token in descriptor.split():
        unit, number = token[-1:].lower(), token[:-1]
        if unit in ("w", "x"):
            try:
                # Widths dwarf densities, so a "w" candidate always outranks an "x" one.
                return float(number) * (1.0 if unit == "w" else 0.001)
            except ValueError:
                continue
    return 0.001


def srcset_urls(value: str | None, choice: SrcsetChoice) -> list[str]:
    """Every candidate URL of a srcset, or only the largest one."""
    candidates = srcset_candidates(value or "")
    if choice == "largest" and candidates:
        return [max(candidates, key=lambda c: c[1])[0]]
    return [url for url, _ in candidates]


# --- CSS -----------------------------------------------------------------------------
def _unescape_css(value: str) -> str:
    def replace(match: re.Match[str]) -> str:
        escaped = match.group(1)
        if re.fullmatch(r"[0-9a-fA-F]{1,6}\s?", escaped):
            try:
                return chr(int(escaped.strip(), 16))
            except (ValueError, OverflowError):
                return ""
        return escaped

    return _CSS_ESCAPE.sub(replace, value) if "\\" in value else value


def _url_kind(url: str) -> Kind:
    path = urlsplit(url).path.lower() if "//" in url else url.lower().split("?")[0]
    if path.endswith(_FONT_EXT):
        return "font"
    if path.endswith(".css"):
        return "style"
    return "image"


def css_into(found: Found, css: str, base: str) -> None:
    """Add what a stylesheet (or a ``<style>`` block, a ``style`` attribute) refers to."""
    if "url(" not in css.lower() and "@import" not in css.lower():
        return
    css = _CSS_COMMENT.sub(" ", css)
    for match in _CSS_IMPORT.finditer(css):
        raw = next((g for g in match.groups() if g is not None), "")
        found.add(base, _unescape_css(raw), "style", 1)
    fonts = {m.start(): m.end() for m in _FONT_FACE.finditer(css)}
    imports = {m.start(): m.end() for m in _CSS_IMPORT.finditer(css)}
    for match in _CSS_URL.finditer(css):
        if any(s <= match.start() < e for s, e in imports.items()):
            continue
        raw = _unescape_css(next((g for g in match.groups() if g is not None), ""))
        in_font_face = any(s <= match.start() < e for s, e in fonts.items())
        kind: Kind = "font" if in_font_face else _url_kind(raw)
        found.add(base, raw, kind, 1 if kind in ("font", "style") else 2)


def css_requisites(css: str | bytes, url: str) -> Found:
    """The requisites of a stylesheet fetched from `url`: @import and url(), against `url`."""
    if isinstance(css, bytes):
        css = css.decode("utf-8", "replace")
    found = Found()
    css_into(found, css, url)
    return found


# --- HTML ----------------------------------------------------------------------------
def _attr(element: lxml.html.HtmlElement, name: str) -> str | None:
    value = element.get(name)
    return value if isinstance(value, str) else None


def _rels(element: lxml.html.HtmlElement) -> set[str]:
    return set((_attr(element, "rel") or "").lower().split())


def _link_into(found: Found, el: lxml.html.HtmlElement, base: str, choice: SrcsetChoice) -> None:
    rels = _rels(el)
    href = _attr(el, "href")
    if "stylesheet" in rels and "alternate" not in rels:
        found.add(base, href, "style", 1)
    elif rels & _ICON_RELS:
        found.add(base, href, "icon", 3)
    elif "preload" in rels or "prefetch" in rels:
        kind, level = _PRELOAD_AS.get((_attr(el, "as") or "").lower(), ("image", MEDIA_LEVEL))
        if level < MEDIA_LEVEL:
            found.add(base, href, kind, level)
            for url in srcset_urls(_attr(el, "imagesrcset"), choice):
                found.add(base, url, kind, level)
    elif "modulepreload" in rels:
        found.add(base, href, "script", 3)


def _image_into(found: Found, el: lxml.html.HtmlElement, base: str, choice: SrcsetChoice) -> None:
    for name in ("src", *LAZY_SRC):
        found.add(base, _attr(el, name), "image", 2)
    for name in ("srcset", *LAZY_SRCSET):
        for url in srcset_urls(_attr(el, name), choice):
            found.add(base, url, "image", 2)


def _element_into(found: Found, el: lxml.html.HtmlElement, base: str, choice: SrcsetChoice) -> None:
    tag = el.tag.lower() if isinstance(el.tag, str) else ""
    if tag == "link":
        _link_into(found, el, base, choice)
    elif tag == "img" or (tag == "input" and (_attr(el, "type") or "").lower() == "image"):
        _image_into(found, el, base, choice)
    elif tag == "source":
        parent = el.getparent()
        if parent is not None and str(parent.tag).lower() in ("video", "audio"):
            found.add(base, _attr(el, "src"), "media", MEDIA_LEVEL)
        else:
            _image_into(found, el, base, choice)
    elif tag == "script":
        found.add(base, _attr(el, "src"), "script", 3)
    elif tag == "video":
        found.add(base, _attr(el, "poster"), "image", 3)
        found.add(base, _attr(el, "src"), "media", MEDIA_LEVEL)
    elif tag == "audio":
        found.add(base, _attr(el, "src"), "media", MEDIA_LEVEL)
    elif tag == "meta":
        key = (_attr(el, "property") or _attr(el, "name") or "").lower()
        if key in _SHARE_IMAGE:
            found.add(base, _attr(el, "content"), "image", 3)
    elif tag == "style":
        css_into(found, el.text_content() or "", base)
    elif tag == "noscript":
        text = el.text or ""
        if "<" in text:
            # Parsed as text in <head> and by some parsers: read the fallback markup itself.
            _tree_into(found, text, base, choice)
    style = _attr(el, "style")
    if style:
        css_into(found, style, base)


def _tree_into(found: Found, markup: str | bytes, base: str, choice: SrcsetChoice) -> None:
    try:
        root = lxml.html.fromstring(markup)
    except (lxml.etree.ParserError, ValueError):
        return
    for el in root.iter():
        if isinstance(el, lxml.html.HtmlElement):
            _element_into(found, el, base, choice)


def html_requisites(
    body: bytes | str,
    url: str,
    *,
    encoding: str | None = None,
    srcset: SrcsetChoice = "all",
) -> Found:
    """The requisites of an HTML page fetched from `url` (``<base href>`` honoured)."""
    found = Found()
    if isinstance(body, bytes) and encoding:
        body = body.decode(encoding, "replace")
    try:
        root = lxml.html.fromstring(body)
    except ValueError:
        # A str with an XML encoding declaration: lxml wants the bytes.
        try:
            root = lxml.html.fromstring(body.encode("utf-8") if isinstance(body, str) else b"")
        except (lxml.etree.ParserError, ValueError):
            return found
    except lxml.etree.ParserError:
        return found
    base = url
    for el in root.iter("base"):
        href = _attr(el, "href")
        if href:
            base = urljoin(url, href.strip())
            break
    for el in root.iter():
        if isinstance(el, lxml.html.HtmlElement):
            _element_into(found, el, base, srcset)
    return found
