"""CSS selectors of the rules, matched element by element (simple ones without XPath)."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cssselect import HTMLTranslator, parse
from cssselect.parser import Attrib, Class, Element, Hash, Tree
from lxml import etree


@functools.lru_cache(maxsize=512)
def css_xpath(selector: str) -> str:
    """The selector as XPath from the element itself (raises cssselect.SelectorError)."""
    return str(HTMLTranslator().css_to_xpath(selector, prefix="descendant-or-self::"))


@dataclass(frozen=True)
class SimpleSelector:
    """A CSS compound selector (tag, classes, id, attribute tests) checked without XPath."""

    tag: str | None = None
    classes: frozenset[str] = frozenset()
    ident: str | None = None
    attrs: tuple[tuple[str, str, str], ...] = ()

    def matches(self, el: etree._Element) -> bool:
        """Whether the element satisfies every part of the selector."""
        if self.tag is not None and el.tag != self.tag:
            return False
        if self.ident is not None and el.get("id") != self.ident:
            return False
        if self.classes and not self.classes <= set((el.get("class") or "").split()):
            return False
        for name, op, value in self.attrs:
            actual = el.get(name)
            if actual is None:
                return False
            if op == "=" and actual != value:
                return False
            if op == "*=" and value not in actual:
                return False
            if op == "^=" and not actual.startswith(value):
                return False
            if op == "$=" and not actual.endswith(value):
                return False
            if op == "~=" and value not in actual.split():
                return False
        return True


def _simple(tree: Tree) -> SimpleSelector | None:
    """The selector as a SimpleSelector, or None when it needs XPath (combinators, pseudos)."""
    classes: set[str] = set()
    attrs: list[tuple[str, str, str]] = []
    ident: str | None = None
    node: Any = tree
    while not isinstance(node, Element):
        if isinstance(node, Class):
            classes.add(node.class_name)
        elif isinstance(node, Hash):
            ident = node.id
        elif isinstance(node, Attrib) and node.namespace is None:
            if node.operator not in ("exists", "=", "*=", "^=", "$=", "~="):
                return None
            value = "" if node.value is None else str(node.value.value)
            attrs.append((node.attrib.lower(), node.operator, value))
        else:
            return None
        node = node.selector
    if node.namespace is not None:
        return None
    tag = None if node.element in (None, "*") else str(node.element).lower()
    return SimpleSelector(tag, frozenset(classes), ident, tuple(attrs))


class SelectorMatcher:
    """An ordered list of CSS selectors; simple ones are checked in Python, per element."""

    def __init__(self, selectors: Iterable[str]) -> None:
        self.selectors = tuple(dict.fromkeys(selectors))
        self._by_class: dict[str, list[tuple[int, SimpleSelector]]] = {}
        self._by_tag: dict[str, list[tuple[int, SimpleSelector]]] = {}
        self._by_id: dict[str, list[tuple[int, SimpleSelector]]] = {}
        self._by_attr: dict[str, list[tuple[int, SimpleSelector]]] = {}
        self.complex: list[tuple[int, etree.XPath]] = []
        for index, css in enumerate(self.selectors):
            parsed = parse(css)
            for sel in parsed:
                simple = None if sel.pseudo_element else _simple(sel.parsed_tree)
                if simple is None:
                    self.complex.append((index, etree.XPath(css_xpath(css))))
                    break
                # Indexed by the cheapest thing to look up first.
                if simple.classes:
                    key = min(simple.classes)
                    self._by_class.setdefault(key, []).append((index, simple))
                elif simple.ident is not None:
                    self._by_id.setdefault(simple.ident, []).append((index, simple))
                elif simple.attrs:
                    name = simple.attrs[0][0]
                    self._by_attr.setdefault(name, []).append((index, simple))
                elif simple.tag is not None:
                    self._by_tag.setdefault(simple.tag, []).append((index, simple))
                else:
                    self._by_tag.setdefault("*", []).append((index, simple))
        self._attr_names = tuple(self._by_attr)

    def __bool__(self) -> bool:
        return bool(self.selectors)

    def match(self, el: etree._Element) -> int | None:
        """Index of the first simple selector the element matches, or None."""
        found: int | None = None
        candidates: list[tuple[int, SimpleSelector]] = []
        if self._by_class:
            cls = el.get("class")
            if cls:
                for token in cls.split():
                    candidates.extend(self._by_class.get(token, ()))
        if self._by_id:
            ident = el.get("id")
            if ident:
                candidates.extend(self._by_id.get(ident, ()))
        for name in self._attr_names:
            if el.get(name) is not None:
                candidates.extend(self._by_attr[name])
        if self._by_tag:
            tag = el.tag
            if isinstance(tag, str):
                candidates.extend(self._by_tag.get(tag, ()))
            candidates.extend(self._by_tag.get("*", ()))
        for index, simple in candidates:
            if (found is None or index < found) and simple.matches(el):
                found = index
        return found

    def complex_matches(self, root: etree._Element) -> dict[etree._Element, int]:
        """Elements under root matched by the selectors that need XPath, with their index."""
        out: dict[etree._Element, int] = {}
        for index, xpath in self.complex:
            found = xpath(root)
            if isinstance(found, list):
                for el in found:
                    if isinstance(el, etree._Element) and index < out.get(el, index + 1):
                        out[el] = index
        return out
