"""The article dataset: one Parquet file per crawl (articles.parquet), one row per archived article.

schema.py fixes the columns, build.py writes the file into a crawl directory from its items and
CDXJ indexes, read.py reads the stored datasets of the whole archive with column and row-group
pruning over ranged GETs. Scrapy-free; above spool/storage/index, below operations and commands.
"""

from __future__ import annotations

from archiver.dataset.build import (
    JOURNAL_NAME,
    build_articles,
    discard_journal,
    keep_capture_lines,
    write_dataset,
)
from archiver.dataset.read import (
    DEFAULT_COLUMNS,
    ArticleFilter,
    DatasetObject,
    RangeFile,
    iter_dataset_keys,
    read_articles,
    read_dataset,
)
from archiver.dataset.schema import ARTICLE_SCHEMA, ARTICLES_FILE, COLUMNS, site_of

__all__ = [
    "ARTICLES_FILE",
    "ARTICLE_SCHEMA",
    "COLUMNS",
    "DEFAULT_COLUMNS",
    "JOURNAL_NAME",
    "ArticleFilter",
    "DatasetObject",
    "RangeFile",
    "build_articles",
    "discard_journal",
    "iter_dataset_keys",
    "keep_capture_lines",
    "read_articles",
    "read_dataset",
    "site_of",
    "write_dataset",
]
