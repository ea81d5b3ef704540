"""A page as text and as an lxml tree: decoding, parsing, and the small readers every step uses."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree
from w3lib.encoding import html_to_unicode

from archiver.cleaning.tuning import MAX_HTML_CHARS

_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
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
    # lxml refuses control characters; most pages have none, so look before copying.
    if _CONTROL_CHARS.search(text):
        text = _CONTROL_CHARS.sub("", text)
    return _XML_DECL.sub("", text, count=1)


def _parse(text: str) -> etree._Element | None:
    # A parser per call: lxml parsers must not be shared between threads.
    parser = lxml.html.HTMLParser(remove_comments=True, remove_pis=True, collect_ids=False)
    try:
        root = lxml.html.document_fromstring(text, parser=parser)
    except (etree.ParserError, ValueError):
        return None
    return root


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
