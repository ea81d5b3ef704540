"""SearchIndex: BM25 search, phrases, filters, facets and snippets over a tantivy index."""

from __future__ import annotations

import html
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import tantivy

from archiver.search import store
from archiver.search.model import (
    Hit,
    SearchIndexBusy,
    SearchQuery,
    SearchQueryError,
    SearchResults,
    SyncReport,
)
from archiver.search.query import check, parse

# Title matches weigh this many times text matches in BM25.
TITLE_WEIGHT = 10.0
# Characters of a snippet (tantivy picks the fragment with the most matched words).
SNIPPET_CHARS = 240
# Facet values returned at most per facet (months: 50 years).
FACET_SIZES = {"site": 200, "language": 50, "month": 600}
# Captures of one URL looked at, at most, by captures() and article_text().
MAX_CAPTURES = 10_000
# Hits past this rank are not served (a deep page costs a top-N of that size).
MAX_RESULT_WINDOW = 100_000
_Q = tantivy.Query
_MUST = tantivy.Occur.Must
_SHOULD = tantivy.Occur.Should
_MARKS = (("<b>", "<mark>"), ("</b>", "</mark>"))


def _first(doc: dict[str, list[Any]], name: str) -> Any:
    values = doc.get(name)
    return values[0] if values else None


def _hit(
    doc: dict[str, list[Any]], snippet_html: str = "", score: float = 0.0, *, text: bool = False
) -> Hit:
    return Hit(
        url=_first(doc, "url"),
        title=_first(doc, "title"),
        site=_first(doc, "site"),
        authors=tuple(doc.get("authors") or ()),
        published=_first(doc, "published"),
        captured=_first(doc, "captured"),
        language=_first(doc, "language"),
        crawl_id=_first(doc, "crawl_id"),
        snippet_html=snippet_html,
        warc_key=_first(doc, "warc_key"),
        warc_offset=int(_first(doc, "warc_offset")),
        warc_length=int(_first(doc, "warc_length")),
        record_id=_first(doc, "record_id"),
        payload_digest=_first(doc, "payload_digest"),
        score=score,
        text=(_first(doc, "text") or "") if text else None,
    )


def _lead(text: str) -> str:
    """The start of a text, cut at a word, escaped: the snippet when no word matched in it."""
    if len(text) <= SNIPPET_CHARS:
        return html.escape(text)
    cut = text[:SNIPPET_CHARS].rsplit(" ", 1)[0]
    return html.escape(cut) + "…"


def parse_captured(value: str) -> datetime:
    """An ISO 8601 capture time or a 14-digit WARC timestamp (also shorter: 2024, 202403...)."""
    text = value.strip()
    try:
        if text.isdigit() and 4 <= len(text) <= 14 and len(text) % 2 == 0:
            padded = text + "0101000000"[len(text) - 4 :] if len(text) < 14 else text
            return datetime.strptime(padded, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SearchQueryError(f"not a capture time: {value[:40]!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _captured(hit: Hit) -> datetime:
    return datetime.fromisoformat(hit.captured.replace("Z", "+00:00"))


class SearchIndex:
    """The local search index of the archive's article datasets (a tantivy index in a directory)."""

    def __init__(self, index: tantivy.Index, state: store.State, path: Path) -> None:
        self._index = index
        self._state = state
        self._schema = index.schema
        self._analyzer = store.analyzer(for_query=True)
        self.path = path
        self._lock = threading.Lock()

    @classmethod
    def open(cls, cache_dir: Path) -> SearchIndex:
        """Open the index in `cache_dir`, creating the directory and an empty index if missing."""
        index, state = store.open_index(cache_dir)
        return cls(index, state, cache_dir)

    def __enter__(self) -> SearchIndex:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the index (tantivy frees it with the object; nothing is left open)."""

    def _searcher(self) -> tantivy.Searcher:
        # Another process (a sync) may have committed since: reload is cheap when it has not.
        self._index.reload()
        return self._index.searcher()

    def article_count(self) -> int:
        """How many captures the index holds."""
        return int(self._searcher().num_docs)

    # --- queries ---------------------------------------------------------------------

    def _words(self, raw: str) -> list[str]:
        return list(self._analyzer.analyze(raw))

    def _term_query(self, words: Sequence[str]) -> tantivy.Query:
        """Words (one, or a phrase) in the title (weighted) or the text."""

        def on(field: str) -> tantivy.Query:
            if len(words) == 1:
                return _Q.term_query(self._schema, field, words[0])
            phrase: list[str | tuple[int, str]] = list(words)
            return _Q.phrase_query(self._schema, field, phrase)

        title = _Q.boost_query(on("title"), TITLE_WEIGHT)
        return _Q.boolean_query([(_SHOULD, title), (_SHOULD, on("text"))])

    def _filters(self, query: SearchQuery) -> list[tuple[tantivy.Occur, tantivy.Query]]:
        out = []
        if query.site:
            site = query.site.strip().lower().removeprefix("www.")
            out.append((_MUST, _Q.term_query(self._schema, "site", site)))
        if query.since or query.until:
            low = store.day_value(query.since) if query.since else None
            high = store.day_value(query.until) if query.until else None
            out.append(
                (_MUST, _Q.range_query(self._schema, "day", tantivy.FieldType.Date, low, high))
            )
        if query.language:
            lang = query.language.strip().lower()
            out.append((_MUST, _Q.term_query(self._schema, "lang_key", lang)))
        if query.author:
            words: list[str | tuple[int, str]] = list(self._words(query.author))
            if not words:
                by = _Q.empty_query()  # no word in the name given: no author matches
            elif len(words) == 1:
                by = _Q.term_query(self._schema, "authors", words[0])
            else:
                by = _Q.phrase_query(self._schema, "authors", words)
            out.append((_MUST, by))
        return out

    def search(self, query: SearchQuery) -> SearchResults:
        """One page of the captures matching `query`, its total and facets (SearchQueryError)."""
        check(query)
        offset = (query.page - 1) * query.per_page
        if offset + query.per_page > MAX_RESULT_WINDOW:
            raise SearchQueryError(
                f"results past the first {MAX_RESULT_WINDOW:,} are not shown: narrow the search"
            )
        phrases = [w for w in (self._words(t) for t in parse(query.text).terms) if w]
        words_query = (
            _Q.boolean_query([(_MUST, self._term_query(w)) for w in phrases]) if phrases else None
        )
        clauses = self._filters(query)
        if words_query is not None:
            clauses.append((_MUST, words_query))
        full = _Q.boolean_query(clauses) if clauses else _Q.all_query()
        searcher = self._searcher()
        by_date = query.sort == "date" or words_query is None
        if by_date:
            found = searcher.search(
                full,
                limit=query.per_page,
                offset=offset,
                count=True,
                order_by_field="when",
                order=tantivy.Order.Desc,
            )
        else:
            found = searcher.search(full, limit=query.per_page, offset=offset, count=True)
        snippets = (
            tantivy.SnippetGenerator.create(searcher, words_query, self._schema, "text")
            if words_query is not None
            else None
        )
        if snippets is not None:
            snippets.set_max_num_chars(SNIPPET_CHARS)
        hits = []
        for key, address in found.hits:
            doc = searcher.doc(address)
            fields = doc.to_dict()
            marked = snippets.snippet_from_doc(doc).to_html() if snippets is not None else ""
            for old, new in _MARKS:
                marked = marked.replace(old, new)
            snippet = marked or _lead(_first(fields, "text") or "")
            hits.append(_hit(fields, snippet, 0.0 if by_date else float(key), text=query.with_text))
        # The count is there (count=True) though tantivy's type stubs do not declare it.
        total = int(getattr(found, "count", 0) or 0)
        return SearchResults(total, hits, self._facets(searcher, full))

    def _facets(
        self, searcher: tantivy.Searcher, query: tantivy.Query
    ) -> dict[str, list[tuple[str, int]]]:
        spec = {
            name: {"terms": {"field": name, "size": size}} for name, size in FACET_SIZES.items()
        }
        answer = searcher.aggregate(query, spec)
        facets: dict[str, list[tuple[str, int]]] = {}
        for name in FACET_SIZES:
            buckets = answer.get(name, {}).get("buckets", [])
            pairs = [(str(b["key"]), int(b["doc_count"])) for b in buckets]
            facets[name] = sorted(pairs) if name == "month" else pairs
        return facets

    def _captures(self, url: str) -> list[tuple[Hit, str]]:
        searcher = self._searcher()
        found = searcher.search(
            _Q.term_query(self._schema, "url", url), limit=MAX_CAPTURES, count=False
        )
        out = []
        for _score, address in found.hits:
            fields = searcher.doc(address).to_dict()
            out.append((_hit(fields), _first(fields, "text") or ""))
        out.sort(key=lambda pair: (pair[0].captured, pair[0].record_id))
        return out

    def captures(self, url: str) -> list[Hit]:
        """Every capture of `url` in the index, oldest first (snippets empty)."""
        return [hit for hit, _text in self._captures(url)]

    def article_text(self, url: str, captured: str | None = None) -> tuple[Hit, str] | None:
        """The capture of `url` at or nearest `captured` (the latest when None) and its clean text.

        `captured` is ISO 8601 or a WARC timestamp (20240301120000); SearchQueryError otherwise.
        """
        moment = parse_captured(captured) if captured is not None else None
        found = self._captures(url)
        if not found:
            return None
        if moment is None:
            return found[-1]

        def distance(pair: tuple[Hit, str]) -> tuple[timedelta, int]:
            # On a tie the later capture wins.
            return abs(_captured(pair[0]) - moment), -found.index(pair)

        return min(found, key=distance)

    # --- updates ---------------------------------------------------------------------

    def _writer(self) -> tantivy.IndexWriter:
        try:
            return self._index.writer(heap_size=store.WRITER_HEAP, num_threads=1)
        except ValueError as exc:
            raise SearchIndexBusy(
                f"the search index in {self.path} is being updated by another process; "
                f"try again when it is done ({str(exc).splitlines()[0][:120]})"
            ) from None

    def add_table(self, table: pa.Table, source_key: str, etag: str) -> int:
        """Replace the articles of dataset `source_key` by the rows of `table`; the rows added."""
        with self._lock:
            writer = self._writer()
            try:
                writer.delete_documents_by_term("dataset", source_key)
                for doc in store.documents(table, source_key):
                    writer.add_document(doc)
                writer.commit()
            except BaseException:
                writer.rollback()
                raise
            finally:
                writer.wait_merging_threads()
            self._state.datasets[source_key] = {"etag": etag, "articles": table.num_rows}
            self._state.save()
        return int(table.num_rows)

    def drop(self, source_keys: list[str]) -> None:
        """Remove the articles of these datasets."""
        with self._lock:
            writer = self._writer()
            try:
                for key in source_keys:
                    writer.delete_documents_by_term("dataset", key)
                writer.commit()
            finally:
                writer.wait_merging_threads()
            for key in source_keys:
                self._state.datasets.pop(key, None)
            self._state.save()

    def datasets(self) -> dict[str, str]:
        """The datasets in the index: storage key -> ETag."""
        with self._lock:
            return {key: str(v["etag"]) for key, v in self._state.datasets.items()}

    def sync(self, client: Any, bucket: str, prefix: str) -> SyncReport:
        """Bring the index up to date with the datasets stored under `prefix` (see sync.py)."""
        from archiver.search.sync import sync_index

        return sync_index(self, client, bucket, prefix)
