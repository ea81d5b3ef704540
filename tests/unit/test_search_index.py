"""The search index (archiver.search): words and phrases, filters, facets, snippets, hostile
queries, sorting, pagination, captures and updates, over tables built here."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from archiver.search import MAX_QUERY_CHARS, SearchIndex, SearchQuery, SearchQueryError
from tests.support.search import article, table

KEY = "archive/2024-03-01/crawl-1/articles.parquet"


@pytest.fixture
def index(tmp_path: Path) -> SearchIndex:
    ix = SearchIndex.open(tmp_path / "search")
    rows = [
        article(1, "The lazy brown dog sleeps by the harbour wall.", title="Harbour news"),
        article(2, "A dog that is lazy will not chase the brown fox.", site="two.example"),
        article(
            3,
            "Le café du port ferme ses portes après trente ans.",
            language="fr",
            published="2023-06-15T09:00:00+02:00",
            authors=["Émile Zola", "Jean Dupont"],
        ),
        article(4, "Harbour cranes stand still as dockers strike.", language="en-GB"),
        article(5, "Fishing fleet returns; harbour prices fall.", published="2024-01-20"),
    ]
    ix.add_table(table(rows), KEY, "etag-1")
    return ix


def urls(ix: SearchIndex, text: str, **filters: object) -> set[str]:
    results = ix.search(SearchQuery(text, per_page=200, **filters))  # type: ignore[arg-type]
    return {hit.url.rsplit("-", 1)[1] for hit in results.hits}


def test_words_match_anywhere_and_phrases_only_in_order(index: SearchIndex) -> None:
    assert urls(index, "lazy dog") == {"1", "2"}
    assert urls(index, '"lazy dog"') == set()
    assert urls(index, '"lazy brown dog"') == {"1"}
    assert urls(index, '"dog that is lazy"') == {"2"}
    assert urls(index, '"dog lazy"') == set()


def test_case_and_accents_are_folded(index: SearchIndex) -> None:
    assert urls(index, "CAFE") == {"3"}
    assert urls(index, "après") == urls(index, "apres") == {"3"}


def test_filters_by_site_dates_language_and_author(index: SearchIndex) -> None:
    assert urls(index, "harbour") == {"1", "4", "5"}
    assert urls(index, "dog", site="two.example") == {"2"}
    assert urls(index, "dog", site="www.TWO.example") == {"2"}
    # Dates are the published date, else the capture date (2024-03-01).
    assert urls(index, "harbour", until=date(2024, 1, 31)) == {"5"}
    assert urls(index, "harbour", since=date(2024, 2, 1)) == {"1", "4"}
    assert urls(index, "", since=date(2023, 6, 15), until=date(2023, 6, 15)) == {"3"}
    assert urls(index, "", language="fr") == {"3"}
    assert urls(index, "harbour", language="en") == {"1", "4", "5"}  # en finds en-GB
    assert urls(index, "harbour", language="en-gb") == {"4"}
    assert urls(index, "", author="zola") == {"3"}
    assert urls(index, "", author="Emile Zola") == {"3"}
    assert urls(index, "", author="Lovelace") == {"1", "2", "4", "5"}
    assert urls(index, "", author="***") == set()


def test_facets_count_every_match_not_only_the_page(index: SearchIndex) -> None:
    results = index.search(SearchQuery("", per_page=1))
    assert results.total == 5
    assert len(results.hits) == 1
    assert dict(results.facets["site"]) == {"one.example": 4, "two.example": 1}
    assert dict(results.facets["language"]) == {"en": 3, "fr": 1, "en-gb": 1}
    assert results.facets["month"] == [("2023-06", 1), ("2024-01", 1), ("2024-03", 3)]
    assert index.search(SearchQuery("harbour")).facets["site"] == [("one.example", 3)]


def test_snippets_escape_html_and_mark_the_matched_words(tmp_path: Path) -> None:
    ix = SearchIndex.open(tmp_path / "s")
    text = 'Before <script>alert("x")</script> the <b>mayor</b> & council met the mayor.'
    ix.add_table(table([article(1, text, title="<img src=x onerror=alert(1)>")]), KEY, "e")
    hit = ix.search(SearchQuery("mayor")).hits[0]
    assert "<script" not in hit.snippet_html and "&lt;script&gt;" in hit.snippet_html
    assert "<b>" not in hit.snippet_html and "&amp;" in hit.snippet_html
    assert hit.snippet_html.count("<mark>mayor</mark>") == 2
    assert hit.snippet_html.replace("<mark>", "").replace("</mark>", "").count("<") == 0
    # Titles are data, returned as stored: the page escapes them when it renders them.
    assert hit.title == "<img src=x onerror=alert(1)>"
    # A match only in the title: the snippet is the start of the text, escaped.
    only_title = ix.search(SearchQuery("onerror")).hits[0].snippet_html
    assert only_title.startswith("Before &lt;script&gt;")


HOSTILE = [
    '"',
    '""',
    "*",
    "dog*",
    "(",
    ")",
    "(dog",
    "NEAR",
    "NEAR(lazy dog)",
    "AND",
    "dog AND",
    "OR NOT",
    ":",
    "title:dog",
    "-",
    "-dog",
    "dog -lazy",
    "^",
    "+dog",
    "{dog}",
    "[a TO z]",
    "'",
    "\\",
    "\x00",
    "dog\x00lazy",
    '"unclosed phrase',
    "🐕 dog",
    "x" * 10_000,
    "dog " * 5_000,
    '"' * 10_000,
    "(" * 10_000,
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_queries_never_raise(index: SearchIndex, text: str) -> None:
    for sort in ("relevance", "date"):
        results = index.search(SearchQuery(text, sort=sort))  # type: ignore[arg-type]
        assert results.total >= 0


def test_syntax_characters_are_plain_text(index: SearchIndex) -> None:
    # Operators of FTS5, Lucene and tantivy are words or separators here, never operators.
    assert urls(index, "dog*") == urls(index, "dog") == {"1", "2"}
    assert urls(index, "-lazy dog") == {"1", "2"}
    assert urls(index, "NEAR(lazy dog)") == set()  # "near" is a word no article holds
    assert urls(index, "title:dog") == set()  # a phrase "title dog"
    assert urls(index, "x" * 10_000) == set()
    assert urls(index, "dog " * 5_000) == {"1", "2"}


def test_long_queries_are_cut(index: SearchIndex) -> None:
    padded = " " * (MAX_QUERY_CHARS - 1) + " harbour"
    assert index.search(SearchQuery(padded)).total == 5  # cut before the word: no word


def test_relevance_weighs_titles_and_sort_by_date_is_newest_first(index: SearchIndex) -> None:
    ranked = index.search(SearchQuery("harbour")).hits
    assert ranked[0].title == "Harbour news"
    assert ranked[0].score >= ranked[1].score >= ranked[2].score > 0
    dated = index.search(SearchQuery("harbour", sort="date")).hits
    days = [(h.published or h.captured)[:10] for h in dated]
    assert days == sorted(days, reverse=True)
    assert dated[-1].url.endswith("-5")


def test_sort_by_date_orders_one_day_by_time(tmp_path: Path) -> None:
    ix = SearchIndex.open(tmp_path / "s")
    rows = [
        article(1, "tide", published="2024-05-01T08:00:00Z"),
        article(2, "tide", published="2024-05-01T18:00:00+02:00"),
        article(3, "tide", published="2024-05-01"),
        article(4, "tide", published="not a date"),  # filed under its capture, 2024-03-01
        article(5, "tide", published="2024-05-02T00:30:00+05:00"),  # 2024-05-01T19:30Z
    ]
    ix.add_table(table(rows), KEY, "e")
    hits = ix.search(SearchQuery("tide", sort="date")).hits
    assert [h.url.rsplit("-", 1)[1] for h in hits] == ["5", "2", "1", "3", "4"]


def test_pages_are_disjoint_and_cover_every_match(index: SearchIndex) -> None:
    seen: list[str] = []
    for page in (1, 2, 3):
        results = index.search(SearchQuery("", page=page, per_page=2))
        assert results.total == 5
        seen += [hit.url for hit in results.hits]
    assert len(seen) == len(set(seen)) == 5
    assert index.search(SearchQuery("", page=4, per_page=2)).hits == []


@pytest.mark.parametrize(
    "query",
    [
        SearchQuery("dog", page=0),
        SearchQuery("dog", per_page=0),
        SearchQuery("dog", per_page=100_000),
        SearchQuery("dog", page=10**9),
        SearchQuery("dog", since=date(2024, 2, 1), until=date(2024, 1, 1)),
    ],
)
def test_queries_that_cannot_run_say_why_in_one_line(
    index: SearchIndex, query: SearchQuery
) -> None:
    with pytest.raises(SearchQueryError) as info:
        index.search(query)
    assert "\n" not in str(info.value)


def test_hits_carry_what_a_citation_needs(index: SearchIndex) -> None:
    hit = index.search(SearchQuery('"café du port"')).hits[0]
    assert hit.url == "https://one.example/story-3"
    assert hit.site == "one.example"
    assert hit.authors == ("Émile Zola", "Jean Dupont")
    assert hit.published == "2023-06-15T09:00:00+02:00"
    assert hit.captured == "2024-03-01T12:00:03Z"
    assert hit.language == "fr"
    assert (hit.crawl_id, hit.warc_offset, hit.warc_length) == ("crawl-1", 3000, 900)
    assert hit.warc_key == "archive/2024-03-01/crawl-1/one.warc.gz"
    assert hit.record_id == "<urn:uuid:00000000-0000-4000-8000-000000000003>"
    assert hit.payload_digest == "sha1:DIGEST3"
    assert "<mark>café</mark>" in hit.snippet_html


def test_captures_and_article_text(tmp_path: Path) -> None:
    ix = SearchIndex.open(tmp_path / "s")
    url = "https://one.example/story-7"
    rows = [
        article(7, f"Version {v}", url=url, captured=datetime(2024, 3, day, tzinfo=UTC))
        for v, day in ((2, 10), (1, 1), (3, 20))
    ]
    ix.add_table(table(rows), KEY, "e")
    assert [h.captured for h in ix.captures(url)] == [
        "2024-03-01T00:00:00Z",
        "2024-03-10T00:00:00Z",
        "2024-03-20T00:00:00Z",
    ]
    assert ix.captures("https://one.example/none") == []
    latest = ix.article_text(url)
    assert latest is not None and latest[1] == "Version 3"
    near = ix.article_text(url, "2024-03-08T00:00:00Z")
    assert near is not None and near[0].captured == "2024-03-10T00:00:00Z"
    assert near[1] == "Version 2"
    warc_date = ix.article_text(url, "20240302000000")
    assert warc_date is not None and warc_date[1] == "Version 1"
    assert ix.article_text("https://one.example/none") is None
    with pytest.raises(SearchQueryError):
        ix.article_text(url, "last tuesday")


def test_a_dataset_read_again_replaces_its_rows_and_survives_reopening(tmp_path: Path) -> None:
    ix = SearchIndex.open(tmp_path / "s")
    assert ix.add_table(table([article(1, "old words"), article(2, "old text")]), KEY, "e1") == 2
    ix.add_table(table([article(1, "new words")]), KEY, "e2")
    ix.add_table(table([article(9, "other words")]), "other/articles.parquet", "e9")
    assert ix.article_count() == 2
    assert urls(ix, "old") == set()
    assert urls(ix, "words") == {"1", "9"}
    ix.close()
    again = SearchIndex.open(tmp_path / "s")
    assert again.datasets() == {KEY: "e2", "other/articles.parquet": "e9"}
    assert again.article_count() == 2
    again.drop([KEY])
    assert urls(again, "words") == {"9"}
    assert again.datasets() == {"other/articles.parquet": "e9"}


def test_an_index_of_another_version_is_rebuilt_empty(tmp_path: Path) -> None:
    ix = SearchIndex.open(tmp_path / "s")
    ix.add_table(table([article(1, "words")]), KEY, "e1")
    ix.close()
    (tmp_path / "s" / "datasets.json").write_text('{"version": -1, "datasets": {}}')
    again = SearchIndex.open(tmp_path / "s")
    assert again.article_count() == 0
    assert again.datasets() == {}
