"""The index on disk: a tantivy index, its schema and analyzer, and the list of datasets in it."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pyarrow as pa
import tantivy

# Bumped when the schema or the analyzer changes; an index of another version is rebuilt
# from storage by the next sync.
SCHEMA_VERSION = 2
INDEX_DIR = "tantivy"
STATE_FILE = "datasets.json"
# The analyzer of the title, text and author fields: words split on anything that is not a
# letter or digit, lowercased, accents folded (é -> e), words over 40 bytes dropped.
ANALYZER = "archiver_fold"
# Rows are converted from Arrow in batches of this many.
BATCH_ROWS = 2_000
# The writer's memory budget; tantivy flushes a segment when it is reached.
WRITER_HEAP = 128 * 1024 * 1024
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def analyzer(for_query: bool = False) -> tantivy.TextAnalyzer:
    """The analyzer of the full-text fields; queries split alike but keep long words, so that
    a word the index dropped matches nothing instead of vanishing from the query."""
    builder = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
    if not for_query:
        builder = builder.filter(tantivy.Filter.remove_long(40))
    return builder.filter(tantivy.Filter.lowercase()).filter(tantivy.Filter.ascii_fold()).build()


def schema() -> tantivy.Schema:
    """The fields: full text (title, text, authors), filters and facets (fast), stored metadata."""
    builder = tantivy.SchemaBuilder()
    for name in ("title", "text", "authors"):
        builder.add_text_field(name, stored=True, tokenizer_name=ANALYZER)
    # Exact-value fields (raw: one term each); fast ones feed facets and sorting.
    for name, fast in (("dataset", False), ("url", False), ("site", True), ("month", True)):
        builder.add_text_field(name, stored=name != "month", tokenizer_name="raw", fast=fast)
    builder.add_text_field("language", stored=True, tokenizer_name="raw", fast=True)
    # The language and its base ("en-gb" and "en"), so that --lang en finds en-GB.
    builder.add_text_field("lang_key", tokenizer_name="raw", index_option="basic")
    builder.add_date_field("day", indexed=True, fast=True)
    # The published time (else the capture time) to the second: the order of --sort date.
    builder.add_date_field("when", fast=True)
    for name in (
        "canonical_url",
        "published",
        "captured",
        "crawl_id",
        "warc_key",
        "record_id",
        "payload_digest",
    ):
        builder.add_text_field(name, stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_integer_field("warc_offset", stored=True)
    builder.add_integer_field("warc_length", stored=True)
    return builder.build()


def iso_utc(value: datetime) -> str:
    """ISO 8601 in UTC with a Z, microseconds only when there are some."""
    value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    spec = "microseconds" if value.microsecond else "seconds"
    return value.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def day_of(published: str | None, captured: str) -> str:
    """The date an article is filed under: its published date if it has one, else its capture's."""
    if published and _DAY.match(published):
        try:
            return date.fromisoformat(published[:10]).isoformat()
        except ValueError:
            pass
    return captured[:10]


def when_of(published: str | None, captured: datetime) -> datetime:
    """The moment an article is sorted by: its published time if readable, else its capture's."""
    if published:
        try:
            moment = datetime.fromisoformat(published.replace("Z", "+00:00"))
        except ValueError:
            if day_of(published, "") == "":
                return captured
            return day_value(published[:10])
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return captured


def day_value(day: str | date) -> datetime:
    """A date as the day field holds it: midnight UTC."""
    value = date.fromisoformat(day) if isinstance(day, str) else day
    return datetime.combine(value, time(), UTC)


def documents(table: pa.Table, source_key: str) -> Iterator[tantivy.Document]:
    """The rows of a dataset table as tantivy documents."""
    for batch in table.to_batches(max_chunksize=BATCH_ROWS):
        for row in batch.to_pylist():
            captured = row["captured"]
            captured_iso = iso_utc(captured) if isinstance(captured, datetime) else str(captured)
            published = row.get("published") or None
            day = day_of(published, captured_iso)
            doc = tantivy.Document()
            doc.add_text("dataset", source_key)
            doc.add_text("url", row["url"])
            doc.add_text("site", row["site"])
            doc.add_text("month", day[:7])
            doc.add_date("day", day_value(day))
            moment = captured if isinstance(captured, datetime) else day_value(day)
            doc.add_date("when", when_of(published, moment))
            doc.add_text("text", row.get("text") or "")
            doc.add_text("captured", captured_iso)
            doc.add_text("crawl_id", row["crawl_id"])
            doc.add_text("warc_key", row["warc_key"])
            doc.add_text("record_id", row["record_id"])
            doc.add_integer("warc_offset", int(row["warc_offset"]))
            doc.add_integer("warc_length", int(row["warc_length"]))
            for name in ("canonical_url", "title", "payload_digest"):
                if row.get(name):
                    doc.add_text(name, row[name])
            if published:
                doc.add_text("published", published)
            for author in row.get("authors") or ():
                if author:
                    doc.add_text("authors", author)
            language = (row.get("language") or "").strip().lower()
            if language:
                doc.add_text("language", language)
                for key in {language, language.split("-")[0]}:
                    doc.add_text("lang_key", key)
            yield doc


class State:
    """The datasets in the index (storage key -> ETag and article count), kept in a JSON file.

    Written after each commit: a crash between the two leaves a dataset in the index that the
    file does not list, and the next sync reads it again (deleting its documents first).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.datasets: dict[str, dict[str, Any]] = {}
        if path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("version") == SCHEMA_VERSION:
                self.datasets = dict(data.get("datasets") or {})

    def save(self) -> None:
        """Write the file atomically."""
        part = self.path.with_suffix(".part")
        data = {"version": SCHEMA_VERSION, "datasets": self.datasets}
        part.write_text(json.dumps(data, indent=0, sort_keys=True), encoding="utf-8")
        os.replace(part, self.path)


def open_index(cache_dir: Path) -> tuple[tantivy.Index, State]:
    """The index in `cache_dir` (created when missing; rebuilt empty when of another version)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    state_path = cache_dir / STATE_FILE
    index_path = cache_dir / INDEX_DIR
    fresh = _version(state_path) != SCHEMA_VERSION
    if fresh:
        state_path.unlink(missing_ok=True)
    state = State(state_path)
    if fresh and index_path.exists():
        shutil.rmtree(index_path)
    index_path.mkdir(exist_ok=True)
    index = tantivy.Index(schema(), path=str(index_path), reuse=True)
    index.register_tokenizer(ANALYZER, analyzer())
    if fresh:
        state.datasets = {}
        state.save()
    return index, state


def _version(path: Path) -> int | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8")).get("version")
    except (OSError, ValueError):
        return None
    return value if isinstance(value, int) else None
