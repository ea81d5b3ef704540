"""`archiver serve`'s app (archiver/web) over a real search index built from a small table."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from starlette.testclient import TestClient

from archiver.index import ArchiveIndex
from archiver.search import SearchIndex
from archiver.web import AccessPolicy, WebConfig, create_app, hash_password, parse_users
from archiver.web.cite import bibtex, csl_json
from tests.support.web import article_row, article_table

HOSTILE_TITLE = '<script>alert("title")</script> Budget <b>vote</b>'
HOSTILE_TEXT = "Text with <img src=x onerror=alert(1)> and budget talk.\n<script>bad()</script>"


def _rows() -> list[dict[str, Any]]:
    rows = [
        article_row(
            url="https://news.example/2026/01/budget.html",
            title="Council passes the harbour budget",
            text="The council passed the harbour budget on Monday.\nA second paragraph follows.",
            captured=datetime(2026, 1, 6, 9, 30, tzinfo=UTC),
            record_id="<urn:uuid:budget-1>",
            warc_offset=1000,
        ),
        article_row(
            url="https://news.example/2026/01/budget.html",
            title="Council passes the harbour budget (updated)",
            text="The council passed the harbour budget on Monday, updated.",
            captured=datetime(2026, 1, 8, 12, 0, tzinfo=UTC),
            record_id="<urn:uuid:budget-2>",
            warc_offset=5000,
        ),
        article_row(
            url="https://other.example/rain.html",
            site="other.example",
            title="Rain expected",
            language="de",
            published="2026-02-10",
            text="Rain and budget worries in February.",
            captured=datetime(2026, 2, 11, 8, 0, tzinfo=UTC),
            record_id="<urn:uuid:rain>",
            authors=["Bea {Brace} & Co"],
        ),
        article_row(
            url="https://evil.example/x.html",
            site="evil.example",
            title=HOSTILE_TITLE,
            text=HOSTILE_TEXT,
            record_id="<urn:uuid:evil>",
        ),
        article_row(
            url="javascript:alert(document.domain)//budget",
            site="evil.example",
            title="A URL that is a script",
            text="Not a link anywhere: budget.",
            record_id="<urn:uuid:js-url>",
        ),
        article_row(
            url="https://news.example/formula.html",
            title='=HYPERLINK("http://x")',
            text="A budget cell that looks like a formula.",
            record_id="<urn:uuid:formula>",
        ),
    ]
    # Enough filler to need a second page of results (31 matches of "budget" in all).
    rows += [
        article_row(
            url=f"https://news.example/filler/{n}.html",
            title=f"Filler {n}",
            text=f"Filler article number {n} about the budget.",
            record_id=f"<urn:uuid:filler-{n}>",
            captured=datetime(2026, 1, 1, 0, n, tzinfo=UTC),
        )
        for n in range(25)
    ]
    return rows


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    index = SearchIndex.open(tmp_path / "search")
    index.add_table(article_table(_rows()), "news/x/articles.parquet", "etag-1")
    index.close()
    return tmp_path / "search"


def _client(cache: Path, **config: Any) -> Iterator[TestClient]:
    app = create_app(WebConfig(open_index=lambda: SearchIndex.open(cache), **config))
    with TestClient(app) as client:
        yield client


@pytest.fixture
def client(cache: Path) -> Iterator[TestClient]:
    yield from _client(cache)


def test_search_page_shows_results_with_marked_snippets_facets_and_pages(
    client: TestClient,
) -> None:
    page = client.get("/", params={"q": '"harbour budget"'})
    assert page.status_code == 200
    assert "Council passes the harbour budget" in page.text
    # The matched words are marked (one <mark> for the phrase, or one a word).
    assert re.search(r"<mark>harbour(</mark> <mark>| )budget</mark>", page.text)
    assert "2 results" in page.text.replace("<strong>", "").replace("</strong>", "")
    everything = client.get("/", params={"q": "budget"}).text
    # Facets: counts as links that keep the query and set the filter.
    assert 'href="/?q=budget&amp;site=other.example"' in everything
    assert 'href="/?q=budget&amp;lang=de"' in everything
    assert 'href="/?q=budget&amp;from=2026-02-01&amp;to=2026-02-28"' in everything
    # 31 matches, 20 a page: a link to page 2 that keeps the query.
    assert 'href="/?q=budget&amp;page=2"' in everything
    second = client.get("/", params={"q": "budget", "page": "2"}).text
    assert second.count('class="hit"') == 11


def test_filters_by_site_author_language_and_dates(client: TestClient) -> None:
    def titles(**params: str) -> list[str]:
        body = client.get("/api/search", params={"q": "budget", **params}).json()
        return [r["title"] for r in body["results"]]

    assert titles(site="other.example") == ["Rain expected"]
    assert titles(lang="de") == ["Rain expected"]
    assert titles(author="Bea") == ["Rain expected"]
    assert titles(author="nobody here") == []
    # The author is a field of the form, kept in the URL and cleared with the other filters.
    page = client.get("/", params={"q": "budget", "author": "Bea"}).text
    assert 'name="author" value="Bea"' in page
    assert 'href="/?q=budget"' in page  # clear filters
    assert 'href="/?q=budget&amp;author=Bea&amp;page=2"' not in page  # one page of results
    assert titles(**{"from": "2026-02-01", "to": "2026-02-28"}) == ["Rain expected"]
    assert "Rain expected" not in titles(**{"to": "2026-01"})


def test_api_search_answers_the_documented_shape(client: TestClient) -> None:
    body = client.get("/api/search", params={"q": "harbour"}).json()
    assert body["total"] == 2
    first = next(r for r in body["results"] if r["captured"].startswith("2026-01-08"))
    assert set(first) >= {
        "url",
        "title",
        "site",
        "published",
        "captured",
        "snippet",
        "article_url",
        "replay_url",
        "warc",
    }
    assert first["warc"] == {
        "key": "news/2026-01-06/crawl-1/warc/a.warc.gz",
        "offset": 5000,
        "length": 500,
    }
    assert first["article_url"].startswith("/article?url=https%3A%2F%2Fnews.example")
    assert client.get(first["article_url"]).status_code == 200
    # Sorted by date: the latest published first.
    by_date = client.get("/api/search", params={"q": "budget", "sort": "date"}).json()
    assert by_date["results"][0]["title"] == "Rain expected"


def test_hostile_titles_texts_and_queries_are_escaped_or_refused_in_one_line(
    client: TestClient,
) -> None:
    page = client.get("/", params={"q": "budget", "site": "evil.example"}).text
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page
    article = client.get("/article", params={"url": "https://evil.example/x.html"}).text
    assert "<script>bad()" not in article and "<img src=x" not in article
    assert "&lt;img src=x onerror=alert(1)&gt;" in article
    scripted = client.get("/article", params={"url": "javascript:alert(document.domain)//budget"})
    assert scripted.status_code == 200 and 'href="javascript:' not in scripted.text
    for query in ['"', "*", "(", "NEAR(", "a AND", "title:x", "-budget", "budget^", "x" * 10_000]:
        for path in ("/", "/api/search", "/download.csv"):
            response = client.get(path, params={"q": query})
            assert response.status_code in (200, 400), (path, query, response.text[:200])
            assert "Traceback" not in response.text and "sqlite" not in response.text.lower()
    refused = client.get("/api/search", params={"q": "budget", "from": "<b>soon</b>"})
    assert refused.status_code == 400
    assert refused.json() == {"error": "not a date: '<b>soon</b>' (use YYYY-MM-DD)"}
    shown = client.get("/", params={"q": "budget", "from": "<b>soon</b>"}).text
    assert "<b>soon</b>" not in shown and "&lt;b&gt;soon" in shown


def test_article_page_has_text_citation_captures_and_links(client: TestClient) -> None:
    url = "https://news.example/2026/01/budget.html"
    page = client.get("/article", params={"url": url, "at": "2026-01-06T09:30:00Z"}).text
    assert "<p>The council passed the harbour budget on Monday.</p>" in page
    assert "<p>A second paragraph follows.</p>" in page
    for value in (
        "news/2026-01-06/crawl-1/warc/a.warc.gz",
        "1000",
        "&lt;urn:uuid:budget-1&gt;",
        "sha1:AAAA",
    ):
        assert value in page
    assert 'class="copy"' in page
    # The other capture, in time order, links to its own page; this one is marked.
    assert "2026-01-06 09:30 UTC</strong> (this one)" in page
    assert "2026-01-08 12:00 UTC</a>" in page
    assert page.index("2026-01-06 09:30 UTC</strong>") < page.index("2026-01-08 12:00 UTC</a>")
    assert (
        "/record?key=news%2F2026-01-06%2Fcrawl-1%2Fwarc%2Fa.warc.gz&amp;offset=1000&amp;length=500"
        in page
    )
    assert "/replay?url=" in page
    latest = client.get("/api/article", params={"url": url}).json()
    assert latest["record_id"] == "<urn:uuid:budget-2>"
    assert [c["captured"][:10] for c in latest["captures"]] == ["2026-01-06", "2026-01-08"]
    assert latest["text"].startswith("The council passed")
    missing = client.get("/article", params={"url": "https://nowhere.example/"})
    assert missing.status_code == 404
    bad_time = client.get("/api/article", params={"url": url, "at": "<b>noon</b>"})
    assert bad_time.status_code == 400 and "error" in bad_time.json()


def test_citations_download_as_bibtex_and_csl_json(client: TestClient) -> None:
    params = {"url": "https://other.example/rain.html"}
    bib = client.get("/cite.bib", params=params)
    assert bib.headers["content-disposition"].startswith("attachment")
    assert bib.text.startswith("@misc{otherexample20260211080000,")
    assert r"author = {Bea \{Brace\} \& Co}" in bib.text
    assert "howpublished = {\\url{https://other.example/rain.html}}" in bib.text
    assert "WARC-Record-ID <urn:uuid:rain>" in bib.text
    csl = json.loads(client.get("/cite.json", params=params).text)
    assert csl[0]["URL"] == "https://other.example/rain.html"
    assert csl[0]["issued"] == {"date-parts": [[2026, 2, 10]]}
    assert csl[0]["accessed"] == {"date-parts": [[2026, 2, 11]]}
    assert "<urn:uuid:rain>" in csl[0]["note"]


def test_bibtex_of_a_capture_without_title_or_authors_names_the_url() -> None:
    from archiver.search import Hit

    hit = Hit(
        url="https://x.example/a_b",
        title=None,
        site="x.example",
        authors=(),
        published=None,
        captured="2026-03-01T00:00:00Z",
        language=None,
        crawl_id="c",
        snippet_html="",
        warc_key="k.warc.gz",
        warc_offset=0,
        warc_length=1,
        record_id="<r>",
        payload_digest=None,
        score=0.0,
    )
    entry = bibtex(hit)
    assert "title = {https://x.example/a\\_b}" in entry and "author" not in entry
    assert "year = {2026}" in entry
    assert "issued" not in csl_json(hit)[0]


def test_replay_page_frames_pywb_in_a_sandbox_or_explains_how_to_enable_it(
    cache: Path, client: TestClient
) -> None:
    url = "https://news.example/2026/01/budget.html"
    off = client.get("/replay", params={"url": url}).text
    assert "Archived copy" in off and "<iframe" not in off
    assert "archiver replay" in off and "var/pywb-venv" in off
    for on in _client(cache, replay_base="http://127.0.0.1:9999/news/"):
        response = on.get("/replay", params={"url": url, "at": "2026-01-06T09:30:00Z"})
        assert "Archived copy" in response.text and "2026-01-06 09:30 UTC" in response.text
        assert 'src="http://127.0.0.1:9999/news/20260106093000/' + url + '"' in response.text
        assert 'sandbox="allow-scripts' in response.text
        assert "frame-src http://127.0.0.1:9999;" in response.headers["content-security-policy"]
    # Without pywb no frame may load at all.
    assert "frame-src 'none'" in client.get("/").headers["content-security-policy"]


def test_csv_and_parquet_downloads_hold_the_query_rows(client: TestClient, tmp_path: Path) -> None:
    response = client.get("/download.csv", params={"q": "budget"})
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 31
    assert rows[0].keys() >= {"url", "title", "captured", "warc_key", "warc_offset", "record_id"}
    # A cell a spreadsheet would run as a formula is prefixed with a quote.
    assert '\'=HYPERLINK("http://x")' in [r["title"] for r in rows]
    one_site = client.get("/download.parquet", params={"q": "budget", "site": "other.example"})
    path = tmp_path / "rows.parquet"
    path.write_bytes(one_site.content)
    table = pq.read_table(path)
    assert table.column("url").to_pylist() == ["https://other.example/rain.html"]
    assert table.column("authors").to_pylist() == [["Bea {Brace} & Co"]]
    # The Parquet file carries each article's clean text; the CSV keeps to the metadata.
    assert table.column("text").to_pylist() == ["Rain and budget worries in February."]
    assert "text" not in rows[0]
    assert client.get("/download.csv").status_code == 400


def test_download_caps_and_record_refusals(cache: Path, client: TestClient) -> None:
    for capped in _client(cache, max_rows=7):
        rows = list(
            csv.DictReader(io.StringIO(capped.get("/download.csv", params={"q": "budget"}).text))
        )
        assert len(rows) == 7
    # Without storage the record and WACZ downloads say why.
    assert (
        client.get("/record", params={"key": "a.warc.gz", "offset": 0, "length": 1}).status_code
        == 503
    )
    archive = ArchiveIndex(None, "bucket", "news")  # type: ignore[arg-type]
    for stored in _client(cache, archive=archive):
        for key, offset, length in (
            ("other/x.warc.gz", 0, 10),
            ("news/2026/../../etc/x.warc.gz", 0, 10),
            ("news/crawl/manifest.json", 0, 10),
            ("news/crawl/a.warc.gz", -1, 10),
            ("news/crawl/a.warc.gz", 0, 10**12),
        ):
            refused = stored.get("/record", params={"key": key, "offset": offset, "length": length})
            assert refused.status_code == 400, key
        assert (
            stored.get("/record", params={"key": "news/a.warc.gz", "offset": "x"}).status_code
            == 400
        )


def test_token_and_basic_auth_guard_every_page(cache: Path) -> None:
    users = parse_users([f"ada:{hash_password('s3cret')}"])
    for guarded in _client(cache, access=AccessPolicy(token="tok-123", users=users)):
        assert guarded.get("/").status_code == 401
        assert guarded.get("/api/search?q=budget").status_code == 401
        assert guarded.get("/", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert guarded.get("/", headers={"Authorization": "Bearer tok-123"}).status_code == 200
        assert guarded.get("/", auth=("ada", "s3cret")).status_code == 200
        assert guarded.get("/", auth=("ada", "wrong")).status_code == 401
        assert guarded.get("/", auth=("bob", "s3cret")).status_code == 401
        # ?token= once, then the cookie it sets carries the page's own links.
        first = guarded.get("/", params={"token": "tok-123"})
        assert first.status_code == 200 and "HttpOnly" in first.headers["set-cookie"]
        assert guarded.get("/api/search?q=budget").status_code == 200
    with pytest.raises(ValueError, match="USER:HASH"):
        parse_users(["ada:plaintext"])
