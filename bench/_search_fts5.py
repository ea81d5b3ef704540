"""The SQLite FTS5 candidate of bench/search.py: the same features as archiver.search over FTS5.

An external-content FTS5 table (title, text; unicode61 with diacritics removed) over an
articles table with the metadata and filters (site, day, language), BM25 with the title
weighted 10, snippets, and the site/language/month facets over all matches, as
archiver.search.SearchIndex computes them over tantivy.
"""

from __future__ import annotations

import html
import re
import sqlite3
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from archiver.search.store import day_of, iso_utc

_WORD = re.compile(r"[^\W_]+")
_TERM = re.compile(r'"([^"]*)"?|(\S+)')

DDL = """
CREATE TABLE articles (
    id INTEGER PRIMARY KEY, dataset TEXT NOT NULL, url TEXT NOT NULL, site TEXT NOT NULL,
    title TEXT, authors TEXT NOT NULL, published TEXT, captured TEXT NOT NULL,
    day TEXT NOT NULL, language TEXT, crawl_id TEXT NOT NULL, text TEXT NOT NULL,
    warc_key TEXT NOT NULL, warc_offset INTEGER NOT NULL, warc_length INTEGER NOT NULL,
    record_id TEXT NOT NULL, payload_digest TEXT
);
CREATE INDEX articles_site_day ON articles(site, day);
CREATE INDEX articles_url ON articles(url, captured);
CREATE INDEX articles_dataset ON articles(dataset);
CREATE VIRTUAL TABLE fts USING fts5(
    title, text, content='articles', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER articles_ai AFTER INSERT ON articles BEGIN
    INSERT INTO fts(rowid, title, text) VALUES (new.id, new.title, new.text);
END;
"""
_INSERT = (
    "INSERT INTO articles (dataset, url, site, title, authors, published, captured, day, "
    "language, crawl_id, text, warc_key, warc_offset, warc_length, record_id, payload_digest) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def match_expression(text: str) -> str:
    """Every term quoted (no operator survives), all required."""
    terms = []
    for m in _TERM.finditer(text[:500]):
        words = _WORD.findall(m.group(1) if m.group(1) is not None else m.group(2))
        if words:
            terms.append('"' + " ".join(words) + '"')
    return " ".join(terms)


class Fts5Index:
    """The FTS5 candidate: one SQLite file in WAL mode."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(DDL)

    def add_table(self, table: pa.Table, source_key: str) -> int:
        """Insert a dataset's rows in one transaction."""
        rows = []
        for batch in table.to_batches(max_chunksize=2000):
            for r in batch.to_pylist():
                captured = (
                    iso_utc(r["captured"]) if isinstance(r["captured"], datetime) else r["captured"]
                )
                rows.append(
                    (
                        source_key,
                        r["url"],
                        r["site"],
                        r["title"],
                        "\n".join(r["authors"]),
                        r["published"],
                        captured,
                        day_of(r["published"], captured),
                        r["language"],
                        r["crawl_id"],
                        r["text"],
                        r["warc_key"],
                        r["warc_offset"],
                        r["warc_length"],
                        r["record_id"],
                        r["payload_digest"],
                    )
                )
        self.conn.execute("BEGIN")
        self.conn.executemany(_INSERT, rows)
        self.conn.execute("COMMIT")
        return len(rows)

    def size(self) -> int:
        """Bytes on disk after a checkpoint."""
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*"))

    def search(
        self, text: str, site: str | None, since: date | None, until: date | None
    ) -> tuple[int, list[Any], dict[str, Counter[str]]]:
        """Top 20 by BM25 with their rows and snippets, the total and the facets."""
        where, params = "", []
        if site:
            where += " AND a.site = ?"
            params.append(site)
        if since:
            where += " AND a.day >= ?"
            params.append(since.isoformat())
        if until:
            where += " AND a.day <= ?"
            params.append(until.isoformat())
        match = match_expression(text)
        base = f"FROM fts CROSS JOIN articles a ON a.id = fts.rowid WHERE fts MATCH ?{where}"
        page = self.conn.execute(
            f"SELECT a.id, bm25(fts, 10.0, 1.0) AS r {base} ORDER BY r LIMIT 20", [match, *params]
        ).fetchall()
        groups = self.conn.execute(
            f"SELECT a.site, a.language, substr(a.day, 1, 7), count(*) {base} GROUP BY 1, 2, 3",
            [match, *params],
        ).fetchall()
        ids = [row[0] for row in page]
        marks = ", ".join("?" * len(ids))
        snippets = self.conn.execute(
            f"SELECT rowid, snippet(fts, -1, '\x02', '\x03', '…', 32) FROM fts "
            f"WHERE fts MATCH ? AND rowid IN ({marks})",
            [match, *ids],
        ).fetchall()
        rows = self.conn.execute(f"SELECT * FROM articles WHERE id IN ({marks})", ids).fetchall()
        for _id, snippet in snippets:
            html.escape(snippet).replace("\x02", "<mark>").replace("\x03", "</mark>")
        facets: dict[str, Counter[str]] = {
            "site": Counter(),
            "language": Counter(),
            "month": Counter(),
        }
        for s, lang, month, n in groups:
            facets["site"][s] += n
            facets["language"][lang] += n
            facets["month"][month] += n
        return sum(g[3] for g in groups), rows, facets

    def close(self) -> None:
        """Close the database."""
        self.conn.close()
