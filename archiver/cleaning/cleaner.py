"""Article cleaning: a news page in, its title, metadata and clean body text out.

lxml parses the page, reads the metadata and removes what the rules
(archiver/cleaning/rules/*.toml) mark as boilerplate; BeautifulSoup (on lxml) then walks
what is left once, cutting it into text blocks and scoring every container;
the best container's blocks are filtered once more and rendered as text and as
structural HTML. docs/cleaning.md explains the steps and how constants were tuned.
"""

from __future__ import annotations

import dataclasses
import html as html_lib
import json
import logging
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import lxml.html
from bs4 import BeautifulSoup, Tag
from bs4.element import NavigableString
from dateutil import parser as date_parser
from lxml import etree
from w3lib.encoding import html_to_unicode

from archiver.cleaning.rulebook import CompiledRules, RuleBook, normalize_phrase, process_rulebook

logger = logging.getLogger(__name__)

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

ARTICLE_TYPES = frozenset(
    {
        "article", "newsarticle", "blogposting", "reportagenewsarticle", "analysisnewsarticle",
        "opinionnewsarticle", "reviewnewsarticle", "backgroundnewsarticle", "livebloposting",
        "liveblogposting", "report", "techarticle", "scholarlyarticle", "socialmediaposting",
        "posting", "satiricalarticle", "askpublicnewsarticle",
    }
)  # fmt: skip
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
WEIGHED_TAGS = frozenset({"div", "section", "article", "main", "td"})
CANDIDATE_SKIP = frozenset({"li", "dt", "dd", "tr", "th", "thead", "tbody", "ul", "ol"})

_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_WORDS = re.compile(r"\w+")
_WORD_CHAR = re.compile(r"[^\W_]")
_SPACES = re.compile(r"\s+")
_LANG = re.compile(r"^[a-zA-Z]{2,3}(?:-[a-zA-Z0-9]{2,8})*$")
_HAS_TIME = re.compile(r"\d{1,2}:\d{2}")
_URL_DATE = re.compile(
    r"/((?:19|20)\d{2})[/-](0?[1-9]|1[0-2])[/-](0?[1-9]|[12]\d|3[01])(?:[/-]|$)"
    r"|/((?:19|20)\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?:/|$)"
)
_ISO_DAY = re.compile(r"\b((?:19|20)\d{2})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])\b")
_DOTTED_DAY = re.compile(r"\b(0?[1-9]|[12]\d|3[01])\.\s?(0?[1-9]|1[0-2])\.\s?((?:19|20)\d{2})\b")
_SLASHED_DAY = re.compile(r"\b(\d{1,2})/(\d{1,2})/((?:19|20)\d{2})\b")
_DATELINE_CLASS = re.compile(r"date|time|posted|published|byline|meta|dateline|stamp", re.I)


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
) -> Article:
    """Clean one page with `rules`, else this process's installed or packaged rules; never raises."""
    try:
        return _clean(html, url, content_type, rules or process_rulebook())
    except Exception as exc:  # the crawl must go on whatever one page holds
        logger.warning("cleaning failed for %s: %s: %s", url, type(exc).__name__, exc)
        return Article(url=url, canonical_url=url, reason=f"cleaning failed: {type(exc).__name__}")


def extract_body(html: str, url: str | None) -> str:
    """The body text only (the contract of the shared extraction benchmark)."""
    return clean_html(html, url).body


# --- decoding and parsing ----------------------------------------------------------


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


# --- metadata --------------------------------------------------------------------


@dataclass
class _Meta:
    """Everything read from <head>, JSON-LD and the page before any element is removed."""

    meta: dict[str, str] = field(default_factory=dict)
    jsonld: dict[str, Any] = field(default_factory=dict)
    typed_article: bool = False
    captions: set[str] = field(default_factory=set)
    h1_titles: list[str] = field(default_factory=list)
    title_tag: str = ""
    canonical: str = ""
    html_lang: str = ""
    times: list[tuple[str, str]] = field(default_factory=list)  # (itemprop, datetime)


def _walk_jsonld(value: Any) -> Iterator[dict[str, Any]]:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, dict):
            yield item
            graph = item.get("@graph")
            if graph is not None:
                stack.append(graph)


def _jsonld_types(item: dict[str, Any]) -> set[str]:
    raw = item.get("@type", "")
    types = raw if isinstance(raw, list) else [raw]
    return {str(t).rsplit("/", 1)[-1].lower() for t in types}


def _read_jsonld(doc: etree._Element) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for script in doc.iter("script"):
        if "ld+json" not in _attr(script, "type").lower() or not script.text:
            continue
        raw = script.text.strip().removeprefix("<![CDATA[").removesuffix("]]>").strip()
        try:
            data = json.loads(raw, strict=False)
        except ValueError:
            continue
        for item in _walk_jsonld(data):
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
    m.jsonld = _read_jsonld(doc)
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


def _visible_byline(doc: etree._Element, rules: CompiledRules) -> list[str]:
    """Author names printed in the page (when no metadata names them)."""
    for xpath in rules.author_xpaths:
        found = xpath(doc)
        if not isinstance(found, list):
            continue
        names = [_text(el) for el in found[:5] if isinstance(el, etree._Element)]
        names = [name for name in names if 0 < len(name) <= 100]
        if names:
            return names
    return []


def _visible_dateline(doc: etree._Element, rules: CompiledRules, lang: str) -> str | None:
    """The day printed in a date/byline element (when no metadata dates the page)."""
    for el in doc.iter("span", "div", "p", "time", "li", "small"):
        words = f"{_attr(el, 'class')} {_attr(el, 'id')}"
        if not _DATELINE_CLASS.search(words):
            continue
        text = _text(el)
        if len(text) <= 120:
            day = _find_day(text, rules, lang)
            if day:
                return day
    return None


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


def iso_date(value: Any) -> str | None:
    """ISO 8601 form of a date string (with its offset when it has one), or None."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > 60:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            with warnings.catch_warnings():
                # "EST" and the like: the time is kept, without an offset.
                warnings.simplefilter("ignore", date_parser.UnknownTimezoneWarning)
                parsed = date_parser.parse(text)
        except (ValueError, OverflowError, TypeError):
            return None
    if not 1990 <= parsed.year <= 2100:
        return None
    if not _HAS_TIME.search(text):
        return parsed.date().isoformat()
    return parsed.isoformat(timespec="seconds")


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


def _absolute(base: str | None, link: str | None) -> str | None:
    if not link:
        return None
    full = urljoin(base or "", link.strip())
    return full if urlsplit(full).scheme in ("http", "https") else None


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
    for h1 in m.h1_titles:
        key = normalize_phrase(h1)
        # The headline, not the site name in a blog's <h1>: it must cover most of a meta title.
        if key and any((key in k and 2 * len(key) > len(k)) or k in key for k in keys if k):
            return h1
    for title in meta_titles:
        cleaned = _strip_site_name(" ".join(title.split()), rules, site_name)
        if cleaned:
            return cleaned
    return m.h1_titles[0] if m.h1_titles else None


def _dates(
    m: _Meta, rules: CompiledRules, url: str | None, doc: etree._Element
) -> tuple[str | None, str | None]:
    jl = m.jsonld
    published = iso_date(jl.get("datePublished")) or iso_date(jl.get("dateCreated"))
    for key in rules.published_meta:
        if published:
            break
        published = iso_date(m.meta.get(key))
    for itemprop, value in m.times:
        if published:
            break
        if itemprop in ("", "datepublished", "datecreated"):
            published = iso_date(value)
    published = published or _visible_dateline(doc, rules, m.html_lang)
    if not published and url:
        match = _URL_DATE.search(urlsplit(url).path)
        if match:
            year, month, day = [g for g in match.groups() if g][:3]
            published = _ymd(int(year), int(month), int(day))
    modified = iso_date(jl.get("dateModified"))
    for key in rules.modified_meta:
        if modified:
            break
        modified = iso_date(m.meta.get(key))
    for itemprop, value in m.times:
        if modified:
            break
        if itemprop == "datemodified":
            modified = iso_date(value)
    return published, modified


# --- pruning (lxml) -----------------------------------------------------------------


def _paragraph_chars(el: etree._Element) -> int:
    return sum(len(_content(p)) for p in el.iter("p"))


def _prune(doc: etree._Element, rules: CompiledRules) -> etree._Element:
    """Remove boilerplate by tag, class word and selector; mark content candidates."""
    etree.strip_elements(doc, *rules.strip_tags, with_tail=False)
    body = doc.find("body")
    if body is None:
        body = doc
    total_p = _paragraph_chars(body)
    measure = _paragraph_chars if total_p >= 500 else (lambda el: len(_content(el)))
    total = total_p if total_p >= 500 else len(_content(body))
    threshold = max(1.0, total * PROTECT_SHARE)
    content = rules.content_selectors

    def spared(el: etree._Element, size: int) -> bool:
        # A content-rule match with real text inside a doomed element saves it.
        if size >= threshold:
            return True
        if size < SPARE_CHARS:
            return False
        complex_hits = content.complex_matches(el)
        return any(
            (content.match(inner) is not None or inner in complex_hits)
            and measure(inner) >= SPARE_CHARS
            for inner in el.iter()
            if isinstance(inner.tag, str)
        )

    drop_tags, drop_class = rules.drop_tags, rules.drop_class
    selectors = rules.drop_selectors
    selected = selectors.complex_matches(body)
    positive, negative = rules.positive_class, rules.negative_class
    lead_class = rules.lead_class
    # Top-down, so that nothing inside a dropped element is looked at.
    stack = [body]
    while stack:
        for el in list(stack.pop()):
            tag = el.tag
            if not isinstance(tag, str):
                continue
            words = el.get("class")
            ident = el.get("id")
            if words is not None or ident is not None:
                words = f"{words or ''} {ident or ''}".lower()
            doomed = (
                tag in drop_tags
                or (words is not None and drop_class is not None and drop_class.search(words))
                or selectors.match(el) is not None
                or el in selected
            )
            if doomed and not spared(el, measure(el)):
                if lead_class is not None:
                    stack.extend(_rescue_lead(el, lead_class))
                _drop(el)
                continue
            if words is not None and tag in WEIGHED_TAGS:
                weight = (1 if positive and positive.search(words) else 0) - (
                    1 if negative and negative.search(words) else 0
                )
                if weight:
                    el.set("data-aw", str(weight))
            if len(el):
                stack.append(el)
    complex_hits = content.complex_matches(body)
    for el in body.iter():
        if isinstance(el.tag, str):
            rank = content.match(el)
            hit = complex_hits.get(el)
            if hit is not None and (rank is None or hit < rank):
                rank = hit
            if rank is not None:
                el.set("data-cr", str(rank))
    return body


def _rescue_lead(el: etree._Element, lead_class: re.Pattern[str]) -> list[etree._Element]:
    """Move the standfirst out of a story header that is about to go (it holds the <h1>)."""
    if next(el.iter("h1"), None) is None:
        return []
    moved: list[etree._Element] = []
    for inner in el.iter():
        if inner is el or not isinstance(inner.tag, str):
            continue
        words = f"{inner.get('class') or ''} {inner.get('id') or ''}".lower()
        if not lead_class.search(words) or len(_text(inner)) < GOOD_BLOCK_CHARS:
            continue
        if any(inner in m.iterdescendants() for m in moved):
            continue
        moved.append(inner)
    for lead in moved:
        lead.tail = None
        el.addprevious(lead)
    return moved


def _drop(el: etree._Element) -> None:
    """Remove an element but keep the text that follows it."""
    parent = el.getparent()
    if parent is None:
        return
    tail = el.tail
    if tail and tail.strip():
        previous = el.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(el)


# --- segmentation and scoring (BeautifulSoup) ---------------------------------------


class _Block:
    """One paragraph-like piece of text, with where it sits and how link-heavy it is."""

    __slots__ = ("chars", "html", "kind", "links", "only_links", "text", "wrap")

    def __init__(
        self, kind: str, text: str, html: str, links: int, wrap: tuple[str, ...], only_links: bool
    ) -> None:
        self.kind = kind
        self.text = text
        self.html = html
        self.links = links
        self.chars = len(text)
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
        n = self.chars
        density = self.link_density
        if self.kind.startswith("h") and density <= LINK_DENSE:
            return 0.0
        if n >= GOOD_BLOCK_CHARS:
            return n * (1.0 - 2.0 * density)
        return -n * (0.25 + density)


class _Node:
    __slots__ = ("end", "name", "rank", "start", "weight")

    def __init__(self, start: int, end: int, rank: int | None, weight: int, name: str) -> None:
        self.start = start
        self.end = end
        self.rank = rank
        self.weight = weight
        self.name = name


class _Walker:
    """One pass over the soup: text blocks in order, and every container's block range."""

    def __init__(self, base_url: str | None, max_depth: int = 400) -> None:
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
        if not text:
            return
        if self.kind != "pre":
            text = _SPACES.sub(" ", text)
            if text == " " and not self.parts:
                return
        elif not text.strip():
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
        if link:
            raw = tag.get("href")
            href = _absolute(self.base_url, raw if isinstance(raw, str) else None) or ""
            self.in_link += 1
            self.link_runs += 1
            if href:
                self.html.append(f'<a href="{html_lib.escape(href)}">')
        for child in tag.children:
            if isinstance(child, Tag):
                if child.name == "br":
                    if self.last_br:
                        self.flush()
                    elif self.parts:
                        self.parts.append("\n")
                        self.html.append("<br>")
                        self.last_br = True
                    continue
                self.walk(child, depth + 1)
            elif type(child) is NavigableString:
                self.add_text(str(child))
        if link:
            self.in_link -= 1
            if href:
                self.html.append("</a>")
        if block:
            self.flush()
            end = len(self.blocks)
            if end > start and name not in CANDIDATE_SKIP:
                rank = tag.get("data-cr")
                weight = tag.get("data-aw")
                self.nodes.append(
                    _Node(
                        start,
                        end,
                        int(rank) if isinstance(rank, str) else None,
                        int(weight) if isinstance(weight, str) else 0,
                        name,
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
            if around and prefix[top.end] - prefix[top.start] < 0.9 * best_value:
                continue
        ranges = [(n.start, n.end) for n in outer]
        if best.start <= ranges[0][0] and ranges[-1][1] <= best.end:
            ranges = _widen(ranges, blocks, best.start)
        return ranges
    return [(best.start, best.end)]


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


# --- block filters ------------------------------------------------------------------


def _heading_hit(key: str, rules: CompiledRules) -> bool:
    if key in rules.headings:
        return True
    if len(key) > 60:
        return False
    return any(key.startswith(h + " ") for h in rules.heading_starts)


def _filter(
    blocks: list[_Block], rules: CompiledRules, m: _Meta, title: str | None
) -> list[_Block]:
    title_key = normalize_phrase(title or "")
    out: list[_Block] = []
    seen: dict[str, int] = {}
    skipping = False
    for block in blocks:
        key = normalize_phrase(block.text)
        short = block.chars < SHORT_BLOCK_CHARS
        if skipping:
            if block.link_density > LINK_DENSE or (block.kind == "li" and block.links):
                continue
            if block.chars < GOOD_BLOCK_CHARS and not block.kind.startswith("h"):
                continue
            skipping = False
        if block.kind == "h1" and title_key and (key in title_key or title_key in key):
            continue
        if not key or key in rules.labels:
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
        if block.kind == "p" and (block.link_density >= 0.9 or block.only_links):
            continue
        if block.chars < 100 and _furniture(block.text, rules, m.html_lang):
            continue
        if block.chars >= 20 and len(out) - seen.get(key, -DUP_WINDOW - 1) <= DUP_WINDOW:
            continue
        seen[key] = len(out)
        out.append(block)
    return _drop_link_lists(out)


def _furniture(text: str, rules: CompiledRules, lang: str) -> bool:
    """A byline ("By A and B") or a bare date/time line printed above or below the story."""
    if text.endswith((".", "!", "?", "\u201d", '"')) and not _HAS_TIME.search(text[-12:]):
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


# --- rendering ----------------------------------------------------------------------


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


# --- the whole run ------------------------------------------------------------------


def _listing(blocks: list[_Block]) -> bool:
    """A run of linked headlines with short blurbs: a section or home page, not an article."""
    linked_heads = sum(1 for b in blocks if b.kind.startswith("h") and b.link_density > LINK_DENSE)
    prose = sum(1 for b in blocks if b.value > 0)
    return linked_heads >= 4 and linked_heads * 2 >= prose


def _clean(html: bytes | str, url: str | None, content_type: str | None, book: RuleBook) -> Article:
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
    article.title = _title(m, rules)
    article.canonical_url = _absolute(url, m.canonical) or _absolute(url, meta.get("og:url")) or url
    article.language = _language(m)
    article.published, article.modified = _dates(m, rules, url, doc)
    article.authors = _split_authors(
        _names(jl.get("author"))
        or [v for k in ("author", "article:author", "parsely-author", "sailthru.author",
                        "dc.creator", "byl") if (v := meta.get(k))]
        or _visible_byline(doc, rules),
        rules,
    )  # fmt: skip
    article.section = _first_str(jl.get("articleSection"), meta.get("article:section"),
                                 meta.get("section"), meta.get("parsely-section"))  # fmt: skip
    article.description = _first_str(meta.get("og:description"), meta.get("description"),
                                     meta.get("twitter:description"), jl.get("description"))  # fmt: skip
    article.image = _absolute(
        url, _first_str(meta.get("og:image"), meta.get("twitter:image"), jl.get("image"))
    )

    body = _prune(doc, rules)
    soup = BeautifulSoup(etree.tostring(body, encoding="unicode", method="html"), "lxml",
                         multi_valued_attributes=None)  # fmt: skip
    root = soup.body or soup
    walker = _Walker(article.canonical_url or url)
    if isinstance(root, Tag):
        walker.walk(root)
    walker.flush()
    if not walker.blocks:
        article.reason = "no text in the page"
        return article
    title_key = normalize_phrase(article.title or "")
    ranges = _with_lead(_choose(walker, rules.content_specific, title_key), walker, title_key)
    chosen = [b for start, end in ranges for b in walker.blocks[start:end]]
    blocks = _filter(chosen, rules, m, article.title)
    words = sum(len(_WORDS.findall(b.text)) for b in blocks)
    needed = MIN_WORDS_TYPED if m.typed_article else MIN_WORDS_UNTYPED
    if not m.typed_article and _listing(chosen):
        article.reason = "a list of links to other pages (section or index page), not an article"
        return article
    if words < needed:
        article.reason = f"no article body found ({words} words of text at best, {needed} needed)"
        return article
    article.body = _render_text(blocks)
    article.body_html = _render_html(blocks)
    article.word_count = len(_WORDS.findall(article.body))
    article.is_article = True
    return article
