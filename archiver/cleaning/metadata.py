"""Metadata read before any element is removed: title, dates, authors, language, links.

JSON-LD, <meta>, <link rel=canonical>, <time>, <html lang>, <h1>, figcaptions and
image texts, then what the page prints (a byline). Dates are weighed in archiver/cleaning/dates/.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from cssselect import SelectorError, parse
from cssselect.parser import Attrib, Class, CombinedSelector, Hash
from lxml import etree

from archiver.cleaning.dates import iso_date, page_dates
from archiver.cleaning.document import _attr, _content, _parse, _text, decode_html
from archiver.cleaning.jsonld import jsonld_objects, read_jsonld
from archiver.cleaning.rulebook import CompiledRules, normalize_phrase, process_rulebook

__all__ = ["ARTICLE_TYPES", "extract_published", "iso_date"]

ARTICLE_TYPES = frozenset(
    {
        "article", "newsarticle", "blogposting", "reportagenewsarticle", "analysisnewsarticle",
        "opinionnewsarticle", "reviewnewsarticle", "backgroundnewsarticle", "livebloposting",
        "liveblogposting", "report", "techarticle", "scholarlyarticle", "socialmediaposting",
        "posting", "satiricalarticle", "askpublicnewsarticle",
    }
)  # fmt: skip

_LANG = re.compile(r"^[a-zA-Z]{2,3}(?:-[a-zA-Z0-9]{2,8})*$")
_HAS_TIME = re.compile(r"\d{1,2}:\d{2}")
_ISO_DAY = re.compile(r"\b((?:19|20)\d{2})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])\b")
_DOTTED_DAY = re.compile(r"\b(0?[1-9]|[12]\d|3[01])\.\s?(0?[1-9]|1[0-2])\.\s?((?:19|20)\d{2})\b")
_SLASHED_DAY = re.compile(r"\b(\d{1,2})/(\d{1,2})/((?:19|20)\d{2})\b")


@dataclass
class _Meta:
    """Everything read from <head>, JSON-LD and the page before any element is removed."""

    meta: dict[str, str] = field(default_factory=dict)
    jsonld: dict[str, Any] = field(default_factory=dict)
    # Every ld+json script of the page, parsed (archiver.cleaning.jsonld): dates read them too.
    jsonld_documents: list[Any] = field(default_factory=list)
    typed_article: bool = False
    captions: set[str] = field(default_factory=set)
    h1_titles: list[str] = field(default_factory=list)
    title_tag: str = ""
    canonical: str = ""
    html_lang: str = ""
    times: list[tuple[str, str]] = field(default_factory=list)  # (itemprop, datetime)


def _jsonld_types(item: dict[str, Any]) -> set[str]:
    raw = item.get("@type", "")
    types = raw if isinstance(raw, list) else [raw]
    return {str(t).rsplit("/", 1)[-1].lower() for t in types}


def _read_jsonld(documents: list[Any]) -> dict[str, Any]:
    """The article's JSON-LD object: the first of an article type, else the first dated one."""
    found: dict[str, Any] = {}
    for item in jsonld_objects(documents):
        if _jsonld_types(item) & ARTICLE_TYPES:
            return item
        if not found and "datePublished" in item:
            found = item
    return found


def _read_metadata(doc: etree._Element, rules: CompiledRules) -> _Meta:
    m = _Meta()
    m.html_lang = _attr(doc, "lang") or _attr(doc, "xml:lang")
    for el in doc.iter("meta", "link", "title", "time", "figcaption", "img", "h1"):
        tag = el.tag
        if tag == "meta":
            key = (el.get("property") or el.get("name") or el.get("itemprop") or "").strip()
            if not key:
                key = _attr(el, "http-equiv")
            content = el.get("content")
            if key and content and content.strip():
                m.meta.setdefault(key.lower(), content.strip())
        elif tag == "link":
            if "canonical" in _attr(el, "rel").lower().split() and not m.canonical:
                m.canonical = _attr(el, "href")
        elif tag == "title":
            if not m.title_tag:
                m.title_tag = _text(el)
        elif tag == "time":
            value = _attr(el, "datetime") or _attr(el, "content")
            if value:
                m.times.append((_attr(el, "itemprop").lower(), value))
        elif tag == "figcaption":
            m.captions.add(normalize_phrase(_text(el)))
        elif tag == "img":
            for name in ("alt", "title"):
                value = _attr(el, name)
                if len(value) >= 20:
                    m.captions.add(normalize_phrase(value))
        elif tag == "h1" and len(m.h1_titles) < 5:
            title = _h1_text(el, rules)
            if title:
                m.h1_titles.append(title)
    m.jsonld_documents = read_jsonld(doc)
    m.jsonld = _read_jsonld(m.jsonld_documents)
    og_type = m.meta.get("og:type", "").lower()
    m.typed_article = bool(_jsonld_types(m.jsonld) & ARTICLE_TYPES) or og_type == "article"
    return m


def _h1_text(h1: etree._Element, rules: CompiledRules) -> str:
    """Headline text without category labels and kickers glued into it."""
    parts: list[str] = [h1.text or ""]
    for child in h1:
        if not isinstance(child.tag, str):
            parts.append(child.tail or "")
            continue
        words = f"{_attr(child, 'class')} {_attr(child, 'id')}".lower()
        if rules.title_label_class is None or not rules.title_label_class.search(words):
            parts.append(_content(child))
        parts.append(child.tail or "")
    return " ".join("".join(parts).split())


def _visible_byline(
    doc: etree._Element, rules: CompiledRules, markup: str | None = None
) -> list[str]:
    """Author names printed in the page (when no metadata names them).

    With the page's `markup`, a selector whose class names, ids and attributes are not
    all written in it is not run: each costs a pass over the whole tree (a tenth of the
    cleaner's time went to them).
    """
    low = markup.lower() if markup is not None else None
    for css, xpath in zip(rules.author_selectors, rules.author_xpaths, strict=True):
        if low is not None and not any(
            all(word in low for word in words) for words in _selector_words(css)
        ):
            continue
        found = xpath(doc)
        if not isinstance(found, list):
            continue
        names = [_text(el) for el in found[:5] if isinstance(el, etree._Element)]
        names = [name for name in names if 0 < len(name) <= 100]
        if names:
            return names
    return []


@functools.lru_cache(maxsize=256)
def _selector_words(css: str) -> tuple[tuple[str, ...], ...]:
    """Per part of a selector list, the words (lower case) an element it matches has in its
    start tag: class names, ids, attribute names and the values tested.

    A page that writes one of those words with a character reference (`class="by&#108;ine"`)
    is taken not to have it (on the development sets the names found are the same with and
    without this test).
    """
    try:
        parts = parse(css)
    except SelectorError:
        return ((),)  # no words known: the selector is always run
    out: list[tuple[str, ...]] = []
    for part in parts:
        words: list[str] = []
        _required_words(part.parsed_tree, words)
        out.append(tuple(words))
    return tuple(out)


def _required_words(node: Any, words: list[str]) -> None:
    while node is not None:
        if isinstance(node, CombinedSelector):
            _required_words(node.subselector, words)
        elif isinstance(node, Class):
            words.append(node.class_name.lower())
        elif isinstance(node, Hash):
            words.append(node.id.lower())
        elif isinstance(node, Attrib):
            words.append(node.attrib.lower())
            if node.operator in ("=", "~=", "^=", "$=", "*=", "|=") and node.value is not None:
                words.append(str(node.value.value).lower())
        # What :not() and other pseudo-classes test need not be written: only their subject.
        node = getattr(node, "selector", None)


def _find_day(text: str, rules: CompiledRules, lang: str) -> str | None:
    """The first calendar day written in text (ISO, dotted, slashed or with a month name)."""
    for match in _ISO_DAY.finditer(text):
        return _ymd(int(match[1]), int(match[2]), int(match[3]))
    for match in _DOTTED_DAY.finditer(text):
        return _ymd(int(match[3]), int(match[2]), int(match[1]))
    low = text.lower()
    for match in re.finditer(
        r"(\d{1,2})\.?\s+(?:de\s+)?([^\W\d_]+)\.?,?\s+(?:de\s+)?((?:19|20)\d{2})", low
    ):
        month = rules.months.get(match[2]) or rules.months.get(match[2][:3])
        if month:
            return _ymd(int(match[3]), month, int(match[1]))
    for match in re.finditer(
        r"([^\W\d_]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+((?:19|20)\d{2})", low
    ):
        month = rules.months.get(match[1]) or rules.months.get(match[1][:3])
        if month:
            return _ymd(int(match[3]), month, int(match[2]))
    for match in _SLASHED_DAY.finditer(text):
        first, second = int(match[1]), int(match[2])
        if lang.lower().startswith("en") and first <= 12:
            first, second = second, first
        return _ymd(int(match[3]), second, first)
    return None


def _ymd(year: int, month: int, day: int) -> str | None:
    try:
        return datetime(year, month, day).date().isoformat()
    except ValueError:
        return None


def _names(value: Any) -> list[str]:
    """Person names from a JSON-LD author value (string, object or list of them)."""
    out: list[str] = []
    items = value if isinstance(value, list) else [value]
    for item in items:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            name = item.get("name")
            if isinstance(name, str):
                out.append(name)
            elif isinstance(name, list):
                out.extend(n for n in name if isinstance(n, str))
    return out


def _split_authors(values: list[str], rules: CompiledRules) -> list[str]:
    out: dict[str, None] = {}
    for value in values:
        text = " ".join(value.split())
        if not text or text.startswith(("http://", "https://")):
            continue
        match = rules.author_prefix.match(text.lower()) if rules.author_prefix else None
        if match:
            text = text[match.end() :].strip()
        for name in rules.author_split.split(text):
            name = name.strip(" ,;|\u00b7-\u2013\u2014")
            if 2 <= len(name) <= 60 and not any(ch.isdigit() for ch in name):
                out.setdefault(name, None)
    return list(out)


def _first_str(*values: Any) -> str | None:
    for value in values:
        if isinstance(value, list):
            value = next((v for v in value if isinstance(v, str | dict)), None)
        if isinstance(value, dict):
            value = value.get("url") or value.get("name") or value.get("@id")
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())
    return None


def _language(m: _Meta) -> str | None:
    for raw in (
        m.html_lang,
        _first_str(m.jsonld.get("inLanguage")),
        m.meta.get("og:locale"),
        m.meta.get("content-language"),
        m.meta.get("language"),
    ):
        if not raw:
            continue
        tag = raw.replace("_", "-").split(",")[0].strip()
        if not _LANG.match(tag):
            continue
        parts = tag.split("-")
        parts[0] = parts[0].lower()
        if len(parts) > 1 and len(parts[1]) == 2:
            parts[1] = parts[1].upper()
        return "-".join(parts)
    return None


_DASHES = frozenset({"-", "\u2013", "\u2014"})


def _strip_site_name(title: str, rules: CompiledRules, site_name: str) -> str:
    site = site_name.lower()
    for sep in rules.site_separators:
        if sep not in title:
            continue
        head, _, tail = title.rpartition(sep)
        if site and tail.strip().lower() == site:
            return head.strip()
        if len(tail) < len(head) and len(tail.split()) <= 5:
            return head.strip()
        # The site's name first ("Prairie Wire :: Old grain elevator becomes arts centre"):
        # named so, or short before a long tail behind a separator that is not a dash (a
        # dash also joins the parts of many headlines: such a title stays whole).
        if site and head.strip().lower() == site:
            return tail.strip()
        if (
            sep.strip() not in _DASHES
            and len(head.split()) <= 3
            and len(tail.split()) >= 2 * len(head.split()) + 1
        ):
            return tail.strip()
    return title


def _title(m: _Meta, rules: CompiledRules) -> str | None:
    site_name = m.meta.get("og:site_name", "")
    meta_titles = [
        t
        for t in (
            _first_str(m.jsonld.get("headline")),
            m.meta.get("og:title"),
            m.meta.get("twitter:title"),
            m.title_tag,
        )
        if t
    ]
    keys = [normalize_phrase(t) for t in meta_titles]
    # Each meta title's part before a site separator ("Headline — Long Site Name").
    heads = {
        normalize_phrase(t.split(sep)[0])
        for t in meta_titles
        for sep in rules.site_separators
        if sep in t
    }
    for h1 in m.h1_titles:
        key = normalize_phrase(h1)
        # The headline, not the site name in a blog's <h1>: it must cover most of a meta title,
        # or be the first of its parts (the site's name after it may be the longer).
        if key and any((key in k and 2 * len(key) > len(k)) or k in key for k in keys if k):
            return h1
        if key and key in heads and len(key.split()) >= 5 and key != normalize_phrase(site_name):
            return h1
    for title in meta_titles:
        cleaned = _strip_site_name(" ".join(title.split()), rules, site_name)
        if cleaned:
            return cleaned
    return m.h1_titles[0] if m.h1_titles else None


def _dates(
    m: _Meta, url: str | None, doc: etree._Element, hint: str | None = None, html: str | None = None
) -> tuple[str | None, str | None]:
    """(published, modified): the page's date evidence weighed (archiver/cleaning/dates/)."""
    found = page_dates(doc, url, m.meta, _language(m), hint, html=html, jsonld=m.jsonld_documents)
    return found.published, found.modified


def extract_published(html: bytes | str, url: str | None = None) -> str | None:
    """The publication date only (the contract of ../shared/bench/date_eval.py)."""
    text = decode_html(html)
    doc = _parse(text) if text.strip() else None
    if doc is None:
        return None
    book = process_rulebook()
    rules = book.for_host(urlsplit(url).hostname if url else None)
    return _dates(_read_metadata(doc, rules), url, doc, html=text)[0]
