"""The pruned page as a BeautifulSoup tree (lxml builder), built from the lxml tree directly.

Serialising the pruned tree and parsing it again with ``BeautifulSoup(html, "lxml")`` gives
the same tree but cost about a quarter of the cleaner's CPU time, most of it in
BeautifulSoup's parser callbacks, which check and re-link every element as it arrives. The
tree is already parsed and well formed, so its elements are mirrored one by one here (less
than half that cost), each tag made as ``BeautifulSoup`` makes it (its builder's settings,
copied from a tag the builder made once per name) and linked in document order as the
parser links them: parent, contents, siblings, next and previous element.

Differences from a parse of the serialised tree: no comments or processing instructions
(the cleaner's parser drops them), no <html> around the copied element, attribute values
as the page wrote them (the serializer escapes spaces and non-ASCII letters in links), and
whitespace-only strings kept as they are (BeautifulSoup's parser shortens them to one space
or newline; the walk collapses spaces anyway).
"""

from __future__ import annotations

from typing import Any

from bs4 import BeautifulSoup, Tag
from bs4.element import NavigableString, PageElement
from lxml import etree

# Per tag name, a tag's settings as the builder gives them (the same for every soup made
# with the options of `_new_soup`); the per-tag fields are set when it is made.
_PER_TAG = frozenset(
    {"attrs", "contents", "parent", "previous_element", "next_element", "previous_sibling",
     "next_sibling", "name", "_namespaces"}
)  # fmt: skip
_TEMPLATES: dict[str, dict[str, Any]] = {}
# How deep below the pruned <body> the walk (blocks._Walker) and the copy go.
MAX_DEPTH = 400
MAX_TEMPLATES = 4096


def _new_soup() -> BeautifulSoup:
    # Attributes as plain strings ("class" not split into a list): the walk reads them whole.
    return BeautifulSoup("", "lxml", multi_valued_attributes=None)


def _template(soup: BeautifulSoup, name: str) -> dict[str, Any]:
    template = _TEMPLATES.get(name)
    if template is None:
        made = Tag(soup, soup.builder, name)
        template = {k: v for k, v in made.__dict__.items() if k not in _PER_TAG}
        if len(_TEMPLATES) < MAX_TEMPLATES:  # custom element names are unbounded
            _TEMPLATES[name] = template
    return template


def soup_from_tree(root: etree._Element, max_depth: int = MAX_DEPTH) -> BeautifulSoup:
    """A BeautifulSoup holding a copy of `root`: its tags, attributes and text.

    The children of elements more than `max_depth` levels below `root` are left out: the
    walk, which stops at the same depth, never reads them.
    """
    soup = _new_soup()
    attr_class = soup.builder.attribute_dict_class
    containers = soup.builder.string_containers
    templates = _TEMPLATES
    new_tag, new_str = Tag.__new__, str.__new__
    last: PageElement = soup  # the element made last, in document order

    def text(
        parent: Tag, siblings: list[PageElement], value: str, kind: type[NavigableString]
    ) -> None:
        nonlocal last
        string = new_str(kind, value)
        before = siblings[-1] if siblings else None
        string.__dict__ = {
            "hidden": False, "parent": parent, "previous_element": last, "next_element": None,
            "previous_sibling": before, "next_sibling": None,
        }  # fmt: skip
        last.next_element = string
        if before is not None:
            before.next_sibling = string
        siblings.append(string)
        last = string

    def copy(
        parent: Tag, siblings: list[PageElement], el: etree._Element,
        kind: type[NavigableString], depth: int,
    ) -> None:  # fmt: skip
        nonlocal last
        name = el.tag
        if not isinstance(name, str):
            return
        made = new_tag(Tag)
        before = siblings[-1] if siblings else None
        contents: list[PageElement] = []
        made.__dict__ = {
            **(templates.get(name) or _template(soup, name)),
            "name": name, "attrs": attr_class(el.items()), "contents": contents, "_namespaces": {},
            "parent": parent, "previous_element": last, "next_element": None,
            "previous_sibling": before, "next_sibling": None,
        }  # fmt: skip
        last.next_element = made
        if before is not None:
            before.next_sibling = made
        siblings.append(made)
        last = made
        if depth > max_depth:
            return
        inner = containers.get(name, kind)
        value = el.text
        if value:
            text(made, contents, value, inner)
        depth += 1
        for child in el:
            copy(made, contents, child, inner, depth)
            value = child.tail
            if value:
                text(made, contents, value, inner)

    copy(soup, soup.contents, root, NavigableString, 0)
    return soup
