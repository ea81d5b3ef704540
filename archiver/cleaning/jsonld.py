"""A page's JSON-LD: every ld+json script parsed once, and the objects inside walked.

The metadata reader and the date evidence both read it; the page's scripts are parsed once,
in _read_metadata, and the two walk the same parsed documents.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from lxml import etree


def read_jsonld(doc: etree._Element) -> list[Any]:
    """The parsed JSON of each <script type="application/ld+json"> (CDATA-wrapped too), in
    document order; a script that is not JSON is left out."""
    documents: list[Any] = []
    for script in doc.iter("script"):
        if "ld+json" not in (script.get("type") or "").lower() or not script.text:
            continue
        raw = script.text.strip().removeprefix("<![CDATA[").removesuffix("]]>").strip()
        try:
            documents.append(json.loads(raw, strict=False))
        except ValueError:
            continue
    return documents


def jsonld_objects(
    documents: Iterable[Any], nested: tuple[str, ...] = ("@graph",)
) -> Iterator[dict[str, Any]]:
    """Every object of the documents, depth first: list items, and the values of `nested` keys."""
    for document in documents:
        stack = [document]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(reversed(item))
            elif isinstance(item, dict):
                yield item
                for key in nested:
                    if isinstance(item.get(key), list | dict):
                        stack.append(item[key])
