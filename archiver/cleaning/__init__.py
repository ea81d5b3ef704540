"""Article cleaning: a news page in, its title, metadata and clean body text out.

Owns the cleaning rules (``rules/*.toml`` are data) and the code that walks the tree.
Works on HTML bytes and strings only: no WARC, storage, index or Scrapy.
"""

from __future__ import annotations

from archiver.cleaning.cleaner import Article, clean_html, extract_body
from archiver.cleaning.document import count_words, decode_html
from archiver.cleaning.metadata import iso_date
from archiver.cleaning.rulebook import (
    CompiledRules,
    RuleBook,
    RuleError,
    RuleSource,
    default_rulebook,
    install_rulebook,
    load_rulebook,
    normalize_phrase,
    parse_rules,
    process_rulebook,
)

__all__ = [
    "Article",
    "CompiledRules",
    "RuleBook",
    "RuleError",
    "RuleSource",
    "clean_html",
    "count_words",
    "decode_html",
    "default_rulebook",
    "extract_body",
    "install_rulebook",
    "iso_date",
    "load_rulebook",
    "normalize_phrase",
    "parse_rules",
    "process_rulebook",
]
