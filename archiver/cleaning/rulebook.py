"""Cleaning rules as data: TOML files of selectors, keywords and phrases, compiled once."""

from __future__ import annotations

import functools
import logging
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cssselect import SelectorError
from lxml import etree

from archiver.cleaning.selectors import SelectorMatcher, css_xpath

logger = logging.getLogger(__name__)

RULES_DIR = Path(__file__).with_name("rules")
GENERIC_FILE = "generic.toml"
SITE_GLOB = "site-*.toml"
# Every phrase table of the generic rules must cover these languages.
REQUIRED_LANGUAGES = ("en", "de", "pl", "fr", "es")
PHRASE_KINDS = ("headings", "prefixes", "labels", "mentions", "endings", "suffixes")
LIST_KINDS = ("tags", "class_keywords", "selectors")
DROP_KEYS = frozenset(
    ("description", "unconditional", "spare_without_links", *LIST_KINDS, *PHRASE_KINDS)
)
CONTENT_KEYS = frozenset(
    (
        "description",
        "selectors",
        "containers",
        "positive_keywords",
        "negative_keywords",
        "lead_keywords",
    )
)
TITLE_KEYS = frozenset(("description", "label_keywords", "site_separators"))
AUTHOR_KEYS = frozenset(("description", "selectors", "prefixes", "separators"))
DATE_KEYS = frozenset(("description", "published_meta", "modified_meta", "months"))
TOP_KEYS = frozenset(("site", "drop", "content", "title", "authors", "dates"))
SITE_KEYS = frozenset(("name", "domains", "description"))


class RuleError(ValueError):
    """A rule file that cannot be used (bad TOML, unknown key, empty group, bad selector)."""


@dataclass(frozen=True)
class DropGroup:
    """One concept of boilerplate (ads, share, related ...) and the rules that find it."""

    name: str
    unconditional: bool = False
    # Class words of this group spare an element without links (boxes of links to other pages).
    spare_without_links: bool = False
    tags: tuple[str, ...] = ()
    class_keywords: tuple[str, ...] = ()
    selectors: tuple[str, ...] = ()
    headings: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    prefixes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    labels: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    mentions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    endings: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    suffixes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def phrases(self, kind: str) -> list[str]:
        """All phrases of one kind (headings, prefixes or labels), every language."""
        table: Mapping[str, tuple[str, ...]] = getattr(self, kind)
        return [phrase for lang in sorted(table) for phrase in table[lang]]


@dataclass(frozen=True)
class RuleSource:
    """The rules of one file, as written (generic or one site)."""

    path: Path
    name: str
    domains: tuple[str, ...]
    drop: tuple[DropGroup, ...]
    content_selectors: tuple[str, ...] = ()
    content_containers: tuple[str, ...] = ()
    positive_keywords: tuple[str, ...] = ()
    negative_keywords: tuple[str, ...] = ()
    lead_keywords: tuple[str, ...] = ()
    title_label_keywords: tuple[str, ...] = ()
    site_separators: tuple[str, ...] = ()
    author_selectors: tuple[str, ...] = ()
    author_prefixes: tuple[str, ...] = ()
    author_separators: tuple[str, ...] = ()
    published_meta: tuple[str, ...] = ()
    modified_meta: tuple[str, ...] = ()
    months: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise RuleError(f"{where}: expected a list of non-empty strings")
    return tuple(value)


def _phrase_table(value: Any, where: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, dict):
        raise RuleError(f"{where}: expected a table of languages, e.g. {where}.en = [...]")
    table = {lang: _strings(phrases, f"{where}.{lang}") for lang, phrases in value.items()}
    for lang, phrases in table.items():
        if not phrases:
            raise RuleError(f"{where}.{lang}: empty phrase list")
    return table


def _check_keys(table: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise RuleError(f"{where}: unknown key(s) {', '.join(unknown)}")


def _table(
    data: Mapping[str, Any], key: str, allowed: frozenset[str], where: str
) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise RuleError(f"{where}: [{key}] must be a table")
    _check_keys(value, allowed, f"{where} [{key}]")
    return value


def _drop_group(name: str, raw: Any, where: str) -> DropGroup:
    if not isinstance(raw, dict):
        raise RuleError(f"{where}: [drop.{name}] must be a table")
    _check_keys(raw, DROP_KEYS, f"{where} [drop.{name}]")
    lists = {k: _strings(raw[k], f"{where} drop.{name}.{k}") for k in LIST_KINDS if k in raw}
    phrases = {
        k: _phrase_table(raw[k], f"{where} drop.{name}.{k}") for k in PHRASE_KINDS if k in raw
    }
    flags = {k: raw.get(k, False) for k in ("unconditional", "spare_without_links")}
    for key, flag in flags.items():
        if not isinstance(flag, bool):
            raise RuleError(f"{where}: drop.{name}.{key} must be true or false")
    group = DropGroup(
        name=name,
        **flags,
        tags=lists.get("tags", ()),
        class_keywords=lists.get("class_keywords", ()),
        selectors=lists.get("selectors", ()),
        headings=phrases.get("headings", {}),
        prefixes=phrases.get("prefixes", {}),
        labels=phrases.get("labels", {}),
        mentions=phrases.get("mentions", {}),
        endings=phrases.get("endings", {}),
        suffixes=phrases.get("suffixes", {}),
    )
    if not any(lists.values()) and not any(phrases.values()):
        raise RuleError(f"{where}: [drop.{name}] has no rules (an empty group is an error)")
    for selector in group.selectors:
        _selector_xpath(selector, f"{where} drop.{name}")
    return group


def parse_rules(text: str, path: Path, *, generic: bool) -> RuleSource:
    """Parse and check one rule file's text; `generic` is the base file, else a site file."""
    where = path.name
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"{where}: {exc}") from None
    _check_keys(data, TOP_KEYS, where)
    site = _table(data, "site", SITE_KEYS, where)
    domains = _strings(site.get("domains", []), f"{where} site.domains") if site else ()
    if not generic and not domains:
        raise RuleError(f"{where}: a site file needs [site] domains = [...]")
    drop_raw = data.get("drop", {})
    if not isinstance(drop_raw, dict):
        raise RuleError(f"{where}: [drop] must hold tables like [drop.ads]")
    drop = tuple(_drop_group(name, raw, where) for name, raw in drop_raw.items())
    content = _table(data, "content", CONTENT_KEYS, where)
    title = _table(data, "title", TITLE_KEYS, where)
    authors = _table(data, "authors", AUTHOR_KEYS, where)
    dates = _table(data, "dates", DATE_KEYS, where)

    def strings(table: Mapping[str, Any], key: str, section: str) -> tuple[str, ...]:
        return _strings(table[key], f"{where} {section}.{key}") if key in table else ()

    source = RuleSource(
        path=path,
        name=str(site.get("name", path.stem)),
        domains=tuple(d.lower().lstrip(".") for d in domains),
        drop=drop,
        content_selectors=strings(content, "selectors", "content"),
        content_containers=strings(content, "containers", "content"),
        positive_keywords=strings(content, "positive_keywords", "content"),
        negative_keywords=strings(content, "negative_keywords", "content"),
        lead_keywords=strings(content, "lead_keywords", "content"),
        title_label_keywords=strings(title, "label_keywords", "title"),
        site_separators=strings(title, "site_separators", "title"),
        author_selectors=strings(authors, "selectors", "authors"),
        author_prefixes=tuple(
            p
            for ps in _phrase_table(authors.get("prefixes", {}), f"{where} authors").values()
            for p in ps
        ),
        author_separators=tuple(authors.get("separators", ())),
        published_meta=strings(dates, "published_meta", "dates"),
        modified_meta=strings(dates, "modified_meta", "dates"),
        months=_phrase_table(dates.get("months", {}), f"{where} dates.months"),
    )
    for selector in (
        *source.content_selectors,
        *source.content_containers,
        *source.author_selectors,
    ):
        _selector_xpath(selector, where)
    for lang, names in source.months.items():
        if len(names) != 12:
            raise RuleError(f"{where} dates.months.{lang}: expected 12 month names")
    if generic:
        _check_generic(source)
    return source


def _check_generic(source: RuleSource) -> None:
    where = source.path.name
    required = {
        "content selectors": source.content_selectors,
        "content containers": source.content_containers,
        "content lead_keywords": source.lead_keywords,
        "title label_keywords": source.title_label_keywords,
        "title site_separators": source.site_separators,
        "authors selectors": source.author_selectors,
        "dates published_meta": source.published_meta,
        "dates modified_meta": source.modified_meta,
    }
    for name, values in required.items():
        if not values:
            raise RuleError(f"{where}: {name} is empty")
    for group in source.drop:
        for kind in PHRASE_KINDS:
            table: Mapping[str, tuple[str, ...]] = getattr(group, kind)
            missing = [lang for lang in REQUIRED_LANGUAGES if table and lang not in table]
            if missing:
                raise RuleError(f"{where} drop.{group.name}.{kind}: no {', '.join(missing)}")
    missing_months = [lang for lang in REQUIRED_LANGUAGES if lang not in source.months]
    if missing_months:
        raise RuleError(f"{where} dates.months: no {', '.join(missing_months)}")


def _selector_xpath(selector: str, where: str = "") -> str:
    try:
        return css_xpath(selector)
    except SelectorError as exc:
        raise RuleError(f"{where}: bad CSS selector {selector!r}: {exc}") from None


# --- compiling -------------------------------------------------------------------


def normalize_phrase(text: str) -> str:
    """Lower-case, single-spaced text without the trailing colon, arrows or dots."""
    return " ".join(text.lower().split()).strip(" :>|-.\u00bb\u203a\u2192\u2026\u2013\u2014\u00b7")


def keyword_regex(keywords: Iterable[str]) -> re.Pattern[str] | None:
    """Regex finding any keyword as a whole word of a class/id string ('*' = word prefix)."""
    alternatives = []
    for keyword in sorted(set(keywords)):
        word = keyword.lower()
        if word.endswith("*"):
            alternatives.append(re.escape(word[:-1]) + "[a-z0-9]*")
        else:
            alternatives.append(re.escape(word))
    if not alternatives:
        return None
    # Words of a class attribute are delimited by spaces, "-" and "_" (BEM: block__elem--mod).
    return re.compile(r"(?:^|[\s_-])(?:" + "|".join(alternatives) + r")(?=$|[\s_-])")


def _mention_regex(
    phrases: Iterable[str], before: str = r"(?<!\w)", after: str = r"(?!\w)"
) -> re.Pattern[str] | None:
    words = sorted({" ".join(p.lower().split()) for p in phrases}, key=len, reverse=True)
    if not words:
        return None
    return re.compile(before + "(?:" + "|".join(re.escape(w) for w in words) + ")" + after)


def _prefix_regex(prefixes: Iterable[str]) -> re.Pattern[str] | None:
    alternatives = []
    for prefix in sorted(set(prefixes), key=len, reverse=True):
        p = " ".join(prefix.lower().split())
        if p.endswith(":"):
            alternatives.append(re.escape(p[:-1].rstrip()) + r"\s*:")
        elif p[-1].isalnum():
            alternatives.append(re.escape(p) + r"(?!\w)")
        else:
            alternatives.append(re.escape(p))
    if not alternatives:
        return None
    # "#" in a prefix stands for a number ("Figure #:" matches "Figure 3:" and "Figure 3a:").
    return re.compile(r"^(?:" + "|".join(alternatives).replace(r"\#", r"\d+[a-z]?") + ")")


@dataclass(frozen=True)
class CompiledRules:
    """Rules of one site (generic plus its overrides) in the form the cleaner uses."""

    name: str
    strip_tags: frozenset[str]
    drop_tags: frozenset[str]
    drop_class: re.Pattern[str] | None
    strict_class: re.Pattern[str] | None
    linked_class: re.Pattern[str] | None
    drop_selectors: SelectorMatcher
    headings: frozenset[str]
    endings: frozenset[str]
    heading_starts: tuple[str, ...]
    labels: frozenset[str]
    block_prefix: re.Pattern[str] | None
    block_mention: re.Pattern[str] | None
    block_suffix: re.Pattern[str] | None
    content_selectors: SelectorMatcher
    content_specific: int
    positive_class: re.Pattern[str] | None
    negative_class: re.Pattern[str] | None
    lead_class: re.Pattern[str] | None
    title_label_class: re.Pattern[str] | None
    site_separators: tuple[str, ...]
    author_selectors: tuple[str, ...]  # CSS, in order; author_xpaths are the same
    author_xpaths: tuple[etree.XPath, ...]
    author_prefix: re.Pattern[str] | None
    author_split: re.Pattern[str]
    published_meta: tuple[str, ...]
    modified_meta: tuple[str, ...]
    months: Mapping[str, int]


def compile_rules(sources: Iterable[RuleSource], name: str = "generic") -> CompiledRules:
    """Merge rule sources (generic first, then a site's) into one compiled rule set."""
    srcs = list(sources)
    groups = [g for s in srcs for g in s.drop]
    months: dict[str, int] = {}
    for src in srcs:
        for names in src.months.values():
            for number, month in enumerate(names, start=1):
                months[month.lower()] = number
                months.setdefault(month.lower()[:3], number)
    headings = {normalize_phrase(p) for g in groups for p in g.phrases("headings")}
    separators = [s for src in srcs for s in src.author_separators]
    # Site selectors come before the generic ones: a site file knows its own body best.
    specific = list(dict.fromkeys(sel for src in reversed(srcs) for sel in src.content_selectors))
    containers = [sel for src in reversed(srcs) for sel in src.content_containers]
    content = list(dict.fromkeys([*specific, *containers]))
    authors = [sel for src in reversed(srcs) for sel in src.author_selectors]
    return CompiledRules(
        name=name,
        strip_tags=frozenset(t.lower() for g in groups if g.unconditional for t in g.tags),
        drop_tags=frozenset(t.lower() for g in groups if not g.unconditional for t in g.tags),
        drop_class=keyword_regex(k for g in groups for k in g.class_keywords),
        strict_class=keyword_regex(
            k for g in groups if not g.spare_without_links for k in g.class_keywords
        ),
        linked_class=keyword_regex(
            k for g in groups if g.spare_without_links for k in g.class_keywords
        ),
        drop_selectors=SelectorMatcher(s for g in groups for s in g.selectors),
        headings=frozenset(headings),
        endings=frozenset(normalize_phrase(p) for g in groups for p in g.phrases("endings")),
        heading_starts=tuple(sorted(h + " " for h in headings)),
        labels=frozenset(normalize_phrase(p) for g in groups for p in g.phrases("labels")),
        block_prefix=_prefix_regex(p for g in groups for p in g.phrases("prefixes")),
        block_mention=_mention_regex(p for g in groups for p in g.phrases("mentions")),
        # Only after a sentence's end ("... the whole story. Read more"): a sentence of the
        # story that ends on the same words has no full stop before them.
        block_suffix=_mention_regex(
            (p for g in groups for p in g.phrases("suffixes")),
            r"[.!?\u2026\"\u201d\u00bb)]\s*",
            r"\W*$",
        ),
        content_selectors=SelectorMatcher(content),
        content_specific=len(specific),
        positive_class=keyword_regex(k for s in srcs for k in s.positive_keywords),
        negative_class=keyword_regex(k for s in srcs for k in s.negative_keywords),
        lead_class=keyword_regex(k for s in srcs for k in s.lead_keywords),
        title_label_class=keyword_regex(k for s in srcs for k in s.title_label_keywords),
        site_separators=tuple(dict.fromkeys(x for s in srcs for x in s.site_separators)),
        author_selectors=tuple(dict.fromkeys(authors)),
        author_xpaths=tuple(etree.XPath(_selector_xpath(s)) for s in dict.fromkeys(authors)),
        author_prefix=_prefix_regex(p for s in srcs for p in s.author_prefixes),
        author_split=re.compile("|".join(re.escape(s) for s in separators) or r"(?!)"),
        published_meta=tuple(dict.fromkeys(m.lower() for s in srcs for m in s.published_meta)),
        modified_meta=tuple(dict.fromkeys(m.lower() for s in srcs for m in s.modified_meta)),
        months=months,
    )


class RuleBook:
    """The generic rules and every site file, with a compiled rule set per site."""

    def __init__(self, generic: RuleSource, sites: Iterable[RuleSource] = ()) -> None:
        self.generic = generic
        self.sites = tuple(sites)
        self._by_domain: dict[str, RuleSource] = {}
        for site in self.sites:
            for domain in site.domains:
                self._by_domain[domain] = site
        self._compiled: dict[str, CompiledRules] = {}

    def __getstate__(self) -> dict[str, Any]:
        # Compiled XPath objects cannot be pickled; a worker process compiles its own, once.
        return {"generic": self.generic, "sites": self.sites}

    def __setstate__(self, state: dict[str, Any]) -> None:
        RuleBook.__init__(self, state["generic"], state["sites"])

    def site_for(self, host: str | None) -> RuleSource | None:
        """The site file whose domains include this host or one of its parent domains."""
        if not host:
            return None
        parts = host.lower().rstrip(".").split(".")
        for i in range(len(parts) - 1):
            site = self._by_domain.get(".".join(parts[i:]))
            if site is not None:
                return site
        return None

    def for_host(self, host: str | None) -> CompiledRules:
        """Compiled rules for a page on this host (generic ones when no site file matches)."""
        site = self.site_for(host)
        key = str(site.path) if site is not None else ""
        compiled = self._compiled.get(key)
        if compiled is None:
            sources = [self.generic] if site is None else [self.generic, site]
            compiled = compile_rules(sources, site.name if site else "generic")
            self._compiled[key] = compiled
        return compiled


def load_rulebook(extra_dirs: Iterable[str | Path] = ()) -> RuleBook:
    """Load the packaged rules plus site files (site-*.toml) from extra directories."""
    generic_path = RULES_DIR / GENERIC_FILE
    generic = parse_rules(generic_path.read_text(encoding="utf-8"), generic_path, generic=True)
    paths = sorted(RULES_DIR.glob(SITE_GLOB))
    for directory in extra_dirs:
        if not Path(directory).is_dir():
            # A mistyped directory would silently leave a site on the generic rules.
            raise RuleError(f"{directory}: not a directory of rule files")
        found = sorted(Path(directory).glob(SITE_GLOB))
        if not found:
            logger.warning("no %s rule files in %s", SITE_GLOB, directory)
        paths.extend(found)
    sites = [parse_rules(p.read_text(encoding="utf-8"), p, generic=False) for p in paths]
    logger.debug("loaded generic rules and %s site file(s)", len(sites))
    return RuleBook(generic, sites)


@functools.lru_cache(maxsize=1)
def default_rulebook() -> RuleBook:
    """The packaged rules, loaded once per process."""
    return load_rulebook()


_installed: list[RuleBook] = []


def install_rulebook(book: RuleBook | None) -> None:
    """Make `book` the rules of this process (a process-pool initializer); None: packaged rules."""
    _installed[:] = [] if book is None else [book]


def process_rulebook() -> RuleBook:
    """The rules installed in this process, else the packaged ones."""
    return _installed[0] if _installed else default_rulebook()
