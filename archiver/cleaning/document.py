"""A page as text and as an lxml tree: decoding, parsing, and the small readers every step uses."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from lxml import etree
from w3lib.encoding import html_to_unicode

from archiver.cleaning.tuning import CHARS_PER_WORD, MAX_HTML_CHARS

_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_CONTROL_LIST = tuple(
    map(chr, [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0xFFFE, 0xFFFF])
)
# Invisible characters that only hint at line breaks: soft hyphen, zero-width space, word
# joiner, BOM used as a zero-width no-break space. They split words in the text ("Bundes\u00adtag"
# must read "Bundestag"). Not ZWJ/ZWNJ (U+200C/D): Persian, Indic scripts and emoji need them.
_INVISIBLE = re.compile("[\u00ad\u200b\u2060\ufeff]")


def visible(text: str | None) -> str | None:
    """`text` without soft hyphens and zero-width spaces (entities in titles keep them)."""
    return _INVISIBLE.sub("", text) if text and _has_invisible(text) else text


def _has_invisible(text: str) -> bool:
    # Four substring tests (a memchr each) are much faster than one regex search.
    return "\u00ad" in text or "\u200b" in text or "\u2060" in text or "\ufeff" in text


_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)


def _sniff_encoding(data: bytes) -> str:
    """Encoding for bytes that declare none: UTF-8 when they decode as such, else windows-1252."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


def decode_html(html: bytes | str, content_type: str | None = None) -> str:
    """Text of a page: BOM, then the Content-Type charset, then <meta charset>, then sniffing."""
    if isinstance(html, str):
        text = html
    else:
        _, text = html_to_unicode(content_type, html, auto_detect_fun=_sniff_encoding)
    if len(text) > MAX_HTML_CHARS:
        text = text[:MAX_HTML_CHARS]
    # lxml refuses control characters; most pages have none, so look before copying (a
    # substring test per character is 3 times faster than searching for the class).
    if any(char in text for char in _CONTROL_LIST):
        text = _CONTROL_CHARS.sub("", text)
    if _has_invisible(text):
        text = _INVISIBLE.sub("", text)
    return _XML_DECL.sub("", text, count=1)


def _parse(text: str) -> etree._Element | None:
    # A parser per call: lxml parsers must not be shared between threads. lxml.etree's
    # parser, not lxml.html's: that one calls back into Python to pick each element's class,
    # for every element the steps touch (6% of the cleaner's time), for methods not used here.
    parser = etree.HTMLParser(remove_comments=True, remove_pis=True, collect_ids=False)
    try:
        root = etree.fromstring(text, parser=parser)
    except (etree.ParserError, ValueError):
        return None
    return root


# Scripts written without spaces between words: Thai, Lao, Myanmar, Khmer, kana, CJK
# ideographs. Their letters are counted one by one (a word is CHARS_PER_WORD letters).
_UNSPACED = (
    "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
)
_SPACED_WORD = re.compile(f"[^\\W{_UNSPACED}]+")
_UNSPACED_CHAR = re.compile(f"[{_UNSPACED}]")
_WORD = re.compile(r"\w+")


UNSPACED_FROM = "\u0e00"


def unspaced_chars(text: str) -> int:
    """How many letters of `text` belong to scripts written without spaces."""
    return len(_UNSPACED_CHAR.findall(text))


def count_words(text: str) -> int:
    """Words of any script: runs of word characters, and unspaced scripts by their letters."""
    if _UNSPACED_CHAR.search(text) is None:
        return len(_WORD.findall(text))
    words = len(_SPACED_WORD.findall(text))
    unspaced = len(_UNSPACED_CHAR.findall(text))
    return words + (unspaced + CHARS_PER_WORD - 1) // CHARS_PER_WORD


# A run of digits only (a score, a minute, "95'88'81'"): not a word of prose.
_NUMBER_WORD = re.compile(r"(?<![^\W\d_])\d+(?![^\W\d_])")


def count_prose_words(text: str) -> int:
    """Words as count_words counts them, bare numbers left out: the length floor's measure."""
    return count_words(text) - len(_NUMBER_WORD.findall(text))


_STRING = etree.XPath("string()")


def _content(el: etree._Element) -> str:
    """All text inside an element (lxml's string(), done in C)."""
    value = _STRING(el)
    return value if isinstance(value, str) else ""


def _text(el: etree._Element) -> str:
    return " ".join(_content(el).split())


def _attr(el: etree._Element, name: str) -> str:
    return (el.get(name) or "").strip()


def _absolute(base: str | None, link: str | None) -> str | None:
    if not link:
        return None
    full = urljoin(base or "", link.strip())
    return full if urlsplit(full).scheme in ("http", "https") else None
