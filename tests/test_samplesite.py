"""The sample news site: its files agree with the manifest, and the server speaks HTTP/1.1 correctly."""

from __future__ import annotations

import gzip
import http.client
import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import pytest
from bs4 import BeautifulSoup, Tag

from archiver.devserver.samplesite import (
    EXPECTED_DIR,
    SITE_ROOT,
    PageInfo,
    SampleSite,
    SentResponse,
    file_for_path,
    load_manifest,
    site_manifest,
)
from archiver.devserver.samplesite.manifest import BASE_PLACEHOLDER, FILE_KINDS

# Manifest checks run against the files alone; this base only fills the placeholder.
OFFLINE_BASE = "http://127.0.0.1:9"
OFFLINE_PAGES = site_manifest(OFFLINE_BASE)
ARTICLES = [p for p in OFFLINE_PAGES if p.kind == "article"]
SECTIONS = [p for p in OFFLINE_PAGES if p.kind == "section"]
ONE_OF_EACH_TEMPLATE = list({p.template: p for p in ARTICLES}.values())

# Where each template keeps the article body, and how its URLs look.
BODY_SELECTOR = {
    "daily-ledger": "article.story div.story-body > p, article.story div.story-body > h2",
    "metro-wire": "div.story-text > p:not(.read-more)",
    "kurier-poranny": "article.artykul div.tresc > p, article.artykul div.tresc > h2",
    "ce-herald": "article div.article-body p, article div.article-body h2",
}
URL_PATTERN = {
    "daily-ledger": r"/news/(\d{4})/(\d{2})/(\d{2})/[a-z0-9-]+\.html",
    "metro-wire": r"/a/\d{6}-[a-z0-9-]+",
    "kurier-poranny": r"/wiadomosci/[a-z0-9-]+,id,\d+\.html",
    "ce-herald": r"/en/news/[a-z0-9-]+-\d{7}",
}
FIRST_DAY = datetime(2026, 9, 1, tzinfo=UTC)
LAST_DAY = datetime(2026, 11, 21, tzinfo=UTC)

SEED_PATH = json.loads((EXPECTED_DIR / "seed-article.json").read_text(encoding="utf-8"))["url_path"]


def page_with(kind: str, **attrs: object) -> PageInfo:
    """The single manifest page of a kind with the given attribute values."""
    found = [
        p
        for p in OFFLINE_PAGES
        if p.kind == kind and all(getattr(p, k) == v for k, v in attrs.items())
    ]
    assert len(found) == 1, (kind, attrs, found)
    return found[0]


GZIP_PAGE = page_with("article", content_encoding="gzip")
CHUNKED_PAGE = page_with("article", chunked=True)
REDIRECT_PAGE = page_with("redirect")
KURIER_ARTICLE = next(p for p in ARTICLES if p.charset == "windows-1250")


def file_text(page: PageInfo, base: str = OFFLINE_BASE) -> str:
    """A page's file from the bundled site, decoded with its declared charset, placeholder filled."""
    return served_bytes(SITE_ROOT, page.path, base).decode(page.charset)


def served_bytes(root: Path, path: str, base: str) -> bytes:
    """What the server should send as the identity body of a file path."""
    file = file_for_path(root, path)
    assert file is not None
    return file.read_bytes().replace(BASE_PLACEHOLDER.encode(), base.encode())


def soup_of(page: PageInfo) -> BeautifulSoup:
    return BeautifulSoup(file_text(page), "lxml")


def json_ld(soup: BeautifulSoup) -> list[dict[str, object]]:
    return [json.loads(s.get_text()) for s in soup.find_all("script", type="application/ld+json")]


def naive_text(html: str) -> str:
    """A naive extraction: get_text() of <article>, lines stripped, runs of blank lines collapsed."""
    article = BeautifulSoup(html, "lxml").find("article")
    assert isinstance(article, Tag)
    lines = [line.strip() for line in article.get_text().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def dechunk(data: bytes) -> tuple[bytes, list[int]]:
    """Decode a chunked body strictly; returns the entity and the chunk sizes."""
    out, pos = b"", 0
    sizes: list[int] = []
    while True:
        eol = data.index(b"\r\n", pos)
        size = int(data[pos:eol], 16)
        pos = eol + 2
        if size == 0:
            assert data[pos:] == b"\r\n", "no trailer expected after the last chunk"
            return out, sizes
        out += data[pos : pos + size]
        assert data[pos + size : pos + size + 2] == b"\r\n"
        sizes.append(size)
        pos += size + 2


def raw_exchange(port: int, request: bytes) -> bytes:
    """Send raw request bytes and read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        received = []
        while data := sock.recv(65536):
            received.append(data)
    return b"".join(received)


def raw_get(port: int, path: str, extra_headers: str = "", version: str = "HTTP/1.1") -> bytes:
    request = f"GET {path} {version}\r\nHost: 127.0.0.1:{port}\r\n{extra_headers}Connection: close\r\n\r\n"
    return raw_exchange(port, request.encode("latin-1"))


def split_response(raw: bytes) -> tuple[str, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status_line, headers, body


def last_sent(site: SampleSite, path: str) -> SentResponse:
    return next(r for r in reversed(site.sent) if r.path == path)


@pytest.fixture(scope="module")
def sample_site() -> Iterator[SampleSite]:
    with SampleSite() as site:
        yield site


@pytest.fixture(scope="module")
def live_pages(sample_site: SampleSite) -> list[PageInfo]:
    return site_manifest(sample_site.url)


@pytest.fixture
def conn(sample_site: SampleSite) -> Iterator[http.client.HTTPConnection]:
    connection = http.client.HTTPConnection("127.0.0.1", sample_site.port, timeout=10)
    yield connection
    connection.close()


def get(
    conn: http.client.HTTPConnection,
    path: str,
    headers: dict[str, str] | None = None,
    method: str = "GET",
) -> tuple[http.client.HTTPResponse, bytes]:
    conn.request(method, path, headers=headers or {})
    response = conn.getresponse()
    return response, response.read()


# --- the manifest agrees with the files -----------------------------------------------------


def test_manifest_lists_exactly_the_files_of_the_site() -> None:
    listed = set()
    for page in OFFLINE_PAGES:
        if page.kind in FILE_KINDS:
            file = file_for_path(SITE_ROOT, page.path)
            assert file is not None and file.is_file(), page.path
            listed.add(file.relative_to(SITE_ROOT).as_posix())
    on_disk = {
        f.relative_to(SITE_ROOT).as_posix()
        for f in SITE_ROOT.rglob("*")
        if f.is_file() and not f.relative_to(SITE_ROOT).as_posix().startswith("_")
    }
    assert listed == on_disk
    paths = [p.path for p in OFFLINE_PAGES]
    assert len(paths) == len(set(paths)), "a path is listed twice"


def test_site_has_the_promised_shape() -> None:
    assert 30 <= len(ARTICLES) <= 50
    assert {p.template for p in ARTICLES} == set(load_manifest()["templates"])
    assert len({p.template for p in ARTICLES}) >= 3
    assert {p.language for p in ARTICLES} == {"en", "pl"}
    kinds = {p.kind for p in OFFLINE_PAGES}
    assert kinds == {
        "article", "section", "feed", "sitemap", "robots", "redirect", "not_found", "error", "private"
    }  # fmt: skip
    for page in ARTICLES:
        assert page.published is not None and page.modified is not None
        assert page.published.tzinfo is not None, page.path
        assert FIRST_DAY <= page.published < LAST_DAY, page.path
        assert page.published <= page.modified, page.path
        assert re.fullmatch(URL_PATTERN[str(page.template)], page.path), page.path
    # A `since` filter in the middle of the range must select a real subset.
    recent = [
        p for p in ARTICLES if p.published and p.published >= datetime(2026, 11, 1, tzinfo=UTC)
    ]
    assert 0 < len(recent) < len(ARTICLES)


@pytest.mark.parametrize("page", ARTICLES, ids=lambda p: p.path.rsplit("/", 1)[-1][:40])
def test_article_file_matches_its_manifest_entry(page: PageInfo) -> None:
    raw = served_bytes(SITE_ROOT, page.path, OFFLINE_BASE)
    html = raw.decode(page.charset)  # strict: the file really is in its declared charset
    soup = BeautifulSoup(html, "lxml")
    templates = load_manifest()["templates"]
    assert soup.html is not None
    assert str(soup.html["lang"]).split("-")[0] == page.language
    site_name = soup.find("meta", property="og:site_name")
    assert site_name is not None and site_name["content"] == templates[page.template]["name"]
    h1 = soup.find("h1")
    assert h1 is not None and h1.get_text() == page.title
    assert page.author and page.author in html
    canonical = soup.find("link", rel="canonical")
    assert canonical is not None and canonical["href"] == page.url

    if page.template in ("daily-ledger", "ce-herald"):
        (ld,) = [d for d in json_ld(soup) if d.get("@type") == "NewsArticle"]
        assert ld["headline"] == page.title
        published, modified = ld["datePublished"], ld["dateModified"]
        assert str(ld["inLanguage"]).split("-")[0] == page.language
    elif page.template == "metro-wire":
        assert soup.find("meta", property="og:type")["content"] == "article"  # type: ignore[index]
        published = soup.find("meta", property="article:published_time")["content"]  # type: ignore[index]
        modified = soup.find("meta", property="article:modified_time")["content"]  # type: ignore[index]
        byline = soup.find("span", class_="byline")
        assert byline is not None and page.author in byline.get_text()
    else:
        times = soup.select("article div.metryczka time[datetime]")
        published = times[0]["datetime"]
        modified = times[-1]["datetime"]
    assert page.published == datetime.fromisoformat(str(published))
    assert page.modified == datetime.fromisoformat(str(modified))

    words = sum(len(el.get_text().split()) for el in soup.select(BODY_SELECTOR[str(page.template)]))
    assert 300 <= words <= 900, words
    if page.template == "daily-ledger":
        match = re.fullmatch(URL_PATTERN["daily-ledger"], page.path)
        assert match is not None and page.published is not None
        assert tuple(int(g) for g in match.groups()) == (
            page.published.year, page.published.month, page.published.day
        )  # fmt: skip


@pytest.mark.parametrize("page", ONE_OF_EACH_TEMPLATE, ids=lambda p: str(p.template))
def test_each_template_carries_its_site_furniture(page: PageInfo) -> None:
    html = file_text(page)
    soup = BeautifulSoup(html, "lxml")
    if page.template == "daily-ledger":
        assert soup.select_one("article figure figcaption") is not None
        assert soup.select("article .share-tools button")
        assert soup.select_one("article .newsletter-box form") is not None
        most_read = soup.select_one("aside.most-read")
        assert most_read is not None and most_read.find("h2").get_text() == "Most read"  # type: ignore[union-attr]
        assert len(most_read.select("li a")) == 5
    elif page.template == "metro-wire":
        assert soup.find("article") is None  # div soup on purpose
        labels = [el.get_text() for el in soup.select(".ad-label")]
        assert len(labels) >= 3 and set(labels) == {"Advertisement"}
        (teaser,) = soup.select("div.story-body p.read-more")
        assert teaser.get_text().startswith("Read more: ")
    elif page.template == "kurier-poranny":
        assert "Czytaj także" in html
        credit = soup.select_one("p.zrodlo")
        assert credit is not None and credit.get_text().startswith("Źródło zdjęć: ©")
        assert soup.select_one("article time[datetime]") is not None
    else:
        assert soup.select_one("span.category + h1") is not None
        assert "Related content" in html


def test_sections_are_not_articles_and_link_each_other() -> None:
    section_paths = {p.path for p in SECTIONS}
    for page in SECTIONS:
        soup = soup_of(page)
        og_type = soup.find("meta", property="og:type")
        assert og_type is None or og_type["content"] != "article", page.path
        assert all(d.get("@type") != "NewsArticle" for d in json_ld(soup)), page.path
        links = {
            urlsplit(urljoin(page.url, str(a["href"]))).path for a in soup.find_all("a", href=True)
        }
        assert len(links & section_paths - {page.path}) >= 3, page.path


def test_non_utf8_pages_declare_and_use_their_charset() -> None:
    non_utf8 = [p for p in OFFLINE_PAGES if p.charset != "utf-8"]
    assert {p.charset for p in non_utf8} == {"windows-1250", "iso-8859-2"}
    for page in non_utf8:
        raw = served_bytes(SITE_ROOT, page.path, OFFLINE_BASE)
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")
        text = raw.decode(page.charset)
        assert re.search(r"[ąćęłńóśźż]", text), page.path
        declared = re.search(r'charset="?([\w-]+)', text[:500])
        assert declared is not None and declared.group(1).lower() == page.charset
    credit = file_text(KURIER_ARTICLE)
    assert "Źródło zdjęć: ©" in credit


def inbound_links() -> dict[str, set[str]]:
    """For every site path, the paths of HTML pages whose <a href> points to it."""
    inbound: dict[str, set[str]] = {}
    for page in OFFLINE_PAGES:
        if page.kind not in ("article", "section"):
            continue
        for a in soup_of(page).find_all("a", href=True):
            target = urlsplit(urljoin(page.url, str(a["href"]))).path
            if target != page.path:
                inbound.setdefault(target, set()).add(page.path)
    return inbound


def test_found_in_is_derived_from_the_files() -> None:
    inbound = inbound_links()
    for page in ARTICLES:
        assert ("links" in page.found_in) == (page.path in inbound), page.path
    rss = file_text(page_with("feed", content_type="application/rss+xml"))
    for page in ARTICLES:
        assert ("rss" in page.found_in) == (f"<link>{page.url}</link>" in rss), page.path
    # Feeds are announced in page heads, sitemaps in robots.txt and the sitemap index.
    for feed in (p for p in OFFLINE_PAGES if p.kind == "feed"):
        assert feed.found_in == {"alternate"}, feed.path
    assert page_with("sitemap", path="/sitemap_index.xml").found_in == {"robots"}
    assert page_with("sitemap", path="/sitemaps/pages.xml").found_in == {"sitemap_index"}


def test_some_articles_only_from_sections_and_some_only_from_feeds_or_sitemaps() -> None:
    inbound = inbound_links()
    kinds = {p.path: p.kind for p in OFFLINE_PAGES}
    only_sections = [p for p in ARTICLES if p.found_in == {"links"}]
    assert only_sections
    for page in only_sections:
        assert {kinds[src] for src in inbound[page.path]} == {"section"}, page.path
    only_feeds = [p for p in ARTICLES if p.found_in and "links" not in p.found_in]
    assert only_feeds
    assert {"rss", "atom", "news_sitemap", "sitemap"} <= set().union(
        *(p.found_in for p in only_feeds)
    )
    assert all(p.found_in for p in ARTICLES)


def test_special_urls_are_linked_from_section_pages() -> None:
    inbound = inbound_links()
    kinds = {p.path: p.kind for p in OFFLINE_PAGES}
    for kind in ("redirect", "not_found", "error", "private"):
        page = page_with(kind)
        assert page.path in inbound, kind
        assert {kinds[src] for src in inbound[page.path]} == {"section"}, kind
    assert len(inbound[page_with("error").path]) == 1


def test_feeds_and_sitemaps_agree_with_the_manifest() -> None:
    by_url = {p.url: p for p in ARTICLES}
    rss = ET.fromstring(file_text(page_with("feed", content_type="application/rss+xml")))
    items = rss.findall("channel/item")
    assert items
    for item in items:
        page = by_url[str(item.findtext("link"))]
        assert parsedate_to_datetime(str(item.findtext("pubDate"))) == page.published
        assert item.findtext("title") == page.title
    ns = {
        "a": "http://www.w3.org/2005/Atom",
        "s": "http://www.sitemaps.org/schemas/sitemap/0.9",
        "n": "http://www.google.com/schemas/sitemap-news/0.9",
    }
    atom = ET.fromstring(file_text(page_with("feed", content_type="application/atom+xml")))
    entries = atom.findall("a:entry", ns)
    assert entries
    for entry in entries:
        link = entry.find("a:link", ns)
        assert link is not None
        page = by_url[link.attrib["href"]]
        assert (
            datetime.fromisoformat(str(entry.findtext("a:published", namespaces=ns)))
            == page.published
        )
        assert (
            datetime.fromisoformat(str(entry.findtext("a:updated", namespaces=ns))) == page.modified
        )
    news = ET.fromstring(file_text(page_with("sitemap", path="/sitemaps/news.xml")))
    for url in news.findall("s:url", ns):
        page = by_url[str(url.findtext("s:loc", namespaces=ns))]
        published = url.findtext("n:news/n:publication_date", namespaces=ns)
        assert datetime.fromisoformat(str(published)) == page.published
    pages = ET.fromstring(file_text(page_with("sitemap", path="/sitemaps/pages.xml")))
    lastmods = {
        str(u.findtext("s:loc", namespaces=ns)): str(u.findtext("s:lastmod", namespaces=ns))
        for u in pages.findall("s:url", ns)
    }
    assert any(loc in by_url for loc in lastmods)
    for loc, lastmod in lastmods.items():
        if loc in by_url:
            assert datetime.fromisoformat(lastmod) == by_url[loc].modified
    index = ET.fromstring(file_text(page_with("sitemap", path="/sitemap_index.xml")))
    children = [str(loc.text) for loc in index.findall("s:sitemap/s:loc", ns)]
    assert children == [f"{OFFLINE_BASE}/sitemaps/news.xml", f"{OFFLINE_BASE}/sitemaps/pages.xml"]


def test_robots_txt_lists_sitemaps_and_disallows_private() -> None:
    text = file_text(page_with("robots"))
    sitemaps = re.findall(r"(?m)^Sitemap: (\S+)$", text)
    assert f"{OFFLINE_BASE}/sitemap_index.xml" in sitemaps
    assert all(s.startswith(OFFLINE_BASE + "/") for s in sitemaps)
    parser = RobotFileParser()
    parser.parse(text.splitlines())
    assert not parser.can_fetch("news-archiver", page_with("private").url)
    assert all(parser.can_fetch("news-archiver", p.url) for p in ARTICLES + SECTIONS)


# --- the seed article ------------------------------------------------------------------------


def test_seed_page_gives_the_seed_naive_extraction_and_keeps_its_boilerplate() -> None:
    page = page_with("article", path=SEED_PATH)
    html = file_text(page)
    expected_naive = (EXPECTED_DIR / "seed-naive.txt").read_text(encoding="utf-8")
    assert naive_text(html) == expected_naive
    assert expected_naive.startswith("NewsKremlin rejects NATO advances")
    caption = "No NATO or European forces. The Kremlin sets the conditions."
    assert BeautifulSoup(html, "lxml").get_text().count(caption) == 2
    assert "Images source: © East News | AA/ABACA" in html
    related = BeautifulSoup(html, "lxml").select_one("section.related-content")
    assert related is not None and related.find("h2").get_text() == "Related content"  # type: ignore[union-attr]
    targets = [urlsplit(str(a["href"])).path for a in related.find_all("a", href=True)]
    article_paths = {p.path for p in ARTICLES}
    assert len(targets) == 3 and set(targets) <= article_paths - {page.path}


def test_seed_expectation_is_the_article_without_its_boilerplate() -> None:
    expected = json.loads((EXPECTED_DIR / "seed-article.json").read_text(encoding="utf-8"))
    page = page_with("article", path=expected["url_path"])
    assert (
        expected["title"]
        == page.title
        == "Kremlin rejects NATO advances, insists on diplomatic hurdles"
    )
    body = expected["body"]
    for unwanted in ("Images source", "The Kremlin sets the conditions", "Related content"):
        assert unwanted not in body
    assert not body.startswith("News")
    paragraphs = body.split("\n\n")
    assert "Ukraine proposes a ceasefire" in paragraphs
    naive = (EXPECTED_DIR / "seed-naive.txt").read_text(encoding="utf-8")
    naive_blocks = [" ".join(b.split()) for b in naive.split("\n\n")]
    # Every body block is a block of the page, word for word, in page order.
    positions = [naive_blocks.index(p) for p in paragraphs]
    assert positions == sorted(positions)
    assert 300 <= len(body.split()) <= 900


# --- the server ---------------------------------------------------------------------------------


def test_binds_loopback_on_a_free_port_by_default(sample_site: SampleSite) -> None:
    assert sample_site.url == f"http://127.0.0.1:{sample_site.port}"
    assert sample_site.port > 0


def test_every_manifest_url_is_served_on_one_connection(
    sample_site: SampleSite, live_pages: list[PageInfo], conn: http.client.HTTPConnection
) -> None:
    first_socket = None
    for page in live_pages:
        response, body = get(conn, page.path)
        first_socket = first_socket or conn.sock
        assert response.status == page.status, page.path
        assert response.reason == HTTPStatus(page.status).phrase
        assert response.getheader("Content-Type") == page.media_type, page.path
        assert response.getheader("Date") and response.getheader("Server")
        assert response.getheader("Connection") is None
        if page.chunked:
            assert response.getheader("Transfer-Encoding") == "chunked"
        else:
            assert response.getheader("Content-Length") == str(len(body)), page.path
        if page.status == 200:
            assert response.getheader("ETag") and response.getheader("Last-Modified")
            expected = served_bytes(SITE_ROOT, page.path, sample_site.url)
            assert body == expected, page.path
            assert BASE_PLACEHOLDER.encode() not in body
    assert conn.sock is first_socket, "the server closed a keep-alive connection"


def test_absolute_urls_use_the_live_base_url(
    sample_site: SampleSite, conn: http.client.HTTPConnection
) -> None:
    _, body = get(conn, "/robots.txt")
    assert f"Sitemap: {sample_site.url}/sitemap_index.xml" in body.decode()
    _, body = get(conn, ARTICLES[0].path)
    canonical = BeautifulSoup(body, "lxml").find("link", rel="canonical")
    assert canonical is not None and canonical["href"] == sample_site.url + ARTICLES[0].path


def test_redirect_points_at_the_canonical_article(
    sample_site: SampleSite, conn: http.client.HTTPConnection
) -> None:
    response, body = get(conn, REDIRECT_PAGE.path)
    assert response.status == 301
    location = response.getheader("Location")
    assert location == f"{sample_site.url}{load_redirect_target()}"
    assert location.encode() in body
    with urllib.request.urlopen(sample_site.url + REDIRECT_PAGE.path, timeout=10) as followed:
        assert followed.status == 200
        assert followed.url == location
    target = page_with("article", path=load_redirect_target())
    assert target.title is not None and target.title.encode() in fetch_body(location)


def load_redirect_target() -> str:
    (entry,) = [e for e in load_manifest()["pages"] if e["kind"] == "redirect"]
    return str(entry["location"])


def fetch_body(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return bytes(response.read())


def test_missing_pages_get_an_html_404_and_the_error_page_a_500(
    conn: http.client.HTTPConnection,
) -> None:
    for path in (
        page_with("not_found").path,
        "/no/such/page.html",
        "/_manifest.json",
        "/_errors/404.html",
    ):
        response, body = get(conn, path)
        assert response.status == 404, path
        assert response.getheader("Content-Type") == "text/html; charset=utf-8"
        assert b"Page not found" in body
    response, body = get(conn, page_with("error").path)
    assert response.status == 500
    assert response.reason == "Internal Server Error"
    assert b"Something went wrong" in body


def test_directory_without_slash_redirects(
    sample_site: SampleSite, conn: http.client.HTTPConnection
) -> None:
    response, _ = get(conn, "/world?page=1")
    assert response.status == 301
    assert response.getheader("Location") == f"{sample_site.url}/world/?page=1"


def test_gzip_article_is_compressed_when_the_client_accepts_it(
    sample_site: SampleSite, conn: http.client.HTTPConnection
) -> None:
    identity = served_bytes(SITE_ROOT, GZIP_PAGE.path, sample_site.url)
    response, body = get(conn, GZIP_PAGE.path, {"Accept-Encoding": "gzip, deflate"})
    assert response.getheader("Content-Encoding") == "gzip"
    assert response.getheader("Vary") == "Accept-Encoding"
    assert response.getheader("Content-Length") == str(len(body))
    assert body[:2] == b"\x1f\x8b"
    assert gzip.decompress(body) == identity
    response, plain = get(conn, GZIP_PAGE.path, {"Accept-Encoding": "gzip;q=0, identity"})
    assert response.getheader("Content-Encoding") is None
    assert plain == identity
    sent = last_sent(sample_site, GZIP_PAGE.path)
    assert sent.body == plain


def test_chunked_response_is_chunked_on_the_wire(sample_site: SampleSite) -> None:
    raw = raw_get(sample_site.port, CHUNKED_PAGE.path)
    status_line, headers, wire_body = split_response(raw)
    assert status_line == "HTTP/1.1 200 OK"
    assert headers["transfer-encoding"] == "chunked"
    assert "content-length" not in headers
    entity, sizes = dechunk(wire_body)
    assert len(sizes) >= 3
    assert entity == served_bytes(SITE_ROOT, CHUNKED_PAGE.path, sample_site.url)
    sent = last_sent(sample_site, CHUNKED_PAGE.path)
    assert sent.wire_body == wire_body
    assert sent.body == entity


def test_chunked_page_falls_back_to_content_length_for_http_1_0(sample_site: SampleSite) -> None:
    raw = raw_get(sample_site.port, CHUNKED_PAGE.path, version="HTTP/1.0")
    _, headers, body = split_response(raw)
    assert "transfer-encoding" not in headers
    assert headers["content-length"] == str(len(body))


def test_charset_is_in_the_content_type_header(
    sample_site: SampleSite, conn: http.client.HTTPConnection
) -> None:
    response, body = get(conn, KURIER_ARTICLE.path)
    assert response.getheader("Content-Type") == "text/html; charset=windows-1250"
    assert "Źródło zdjęć: ©" in body.decode("windows-1250")
    section = page_with("section", path="/kraj/")
    response, body = get(conn, section.path)
    assert response.getheader("Content-Type") == "text/html; charset=iso-8859-2"
    assert "Wiadomości" in body.decode("iso-8859-2")


def test_conditional_get_answers_304(conn: http.client.HTTPConnection) -> None:
    path = ARTICLES[0].path
    response, body = get(conn, path)
    etag, last_modified = response.getheader("ETag"), response.getheader("Last-Modified")
    assert etag and last_modified and body
    response, body = get(conn, path, {"If-None-Match": etag})
    assert (response.status, body) == (304, b"")
    assert response.reason == "Not Modified"
    assert response.getheader("ETag") == etag
    assert response.getheader("Content-Length") is None
    response, _ = get(conn, path, {"If-None-Match": f'"other", W/{etag}'})
    assert response.status == 304
    response, _ = get(conn, path, {"If-Modified-Since": last_modified})
    assert response.status == 304
    earlier = format_datetime(parsedate_to_datetime(last_modified) - timedelta(days=1), usegmt=True)
    response, body = get(conn, path, {"If-Modified-Since": earlier})
    assert response.status == 200 and body
    # If-None-Match takes precedence: a different tag means 200 even if the date would match.
    response, body = get(
        conn, path, {"If-None-Match": '"stale"', "If-Modified-Since": last_modified}
    )
    assert response.status == 200 and body
    response, body = get(conn, path, {"If-Modified-Since": "not a date"})
    assert response.status == 200 and body


def test_head_announces_the_get_length_without_a_body(conn: http.client.HTTPConnection) -> None:
    path = SECTIONS[0].path
    _, body = get(conn, path)
    response, head_body = get(conn, path, method="HEAD")
    assert response.status == 200 and head_body == b""
    assert response.getheader("Content-Length") == str(len(body))


@pytest.mark.parametrize(
    "path",
    [SECTIONS[0].path, GZIP_PAGE.path, CHUNKED_PAGE.path, REDIRECT_PAGE.path, "/missing.html"],
    ids=["plain", "gzip", "chunked", "redirect", "missing"],
)
def test_sent_log_holds_exactly_the_bytes_received(sample_site: SampleSite, path: str) -> None:
    raw = raw_get(sample_site.port, path, extra_headers="Accept-Encoding: gzip\r\n")
    sent = last_sent(sample_site, path)
    assert sent.method == "GET"
    assert sent.head + sent.wire_body == raw
    status_line, headers, wire_body = split_response(raw)
    assert status_line == f"HTTP/1.1 {sent.status} {sent.reason}"
    assert {k.lower(): v for k, v in sent.headers} == headers
    assert sent.header("content-type") == headers["content-type"]
    if sent.header("Transfer-Encoding") == "chunked":
        assert dechunk(wire_body)[0] == sent.body
    else:
        assert wire_body == sent.body


def test_sent_log_is_complete_under_concurrent_clients(sample_site: SampleSite) -> None:
    before = len(sample_site.sent)
    paths = [p.path for p in ARTICLES[:10]]
    errors: list[BaseException] = []

    def client() -> None:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", sample_site.port, timeout=10)
            for path in paths:
                connection.request("GET", path)
                connection.getresponse().read()
            connection.close()
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=client) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(sample_site.sent) - before == 6 * len(paths)


def test_unsupported_method_is_answered_and_logged(
    sample_site: SampleSite, conn: http.client.HTTPConnection
) -> None:
    response, _ = get(conn, "/", method="POST")
    assert response.status == 501
    assert response.getheader("Connection") == "close"
    assert last_sent(sample_site, "/").method == "POST"


def test_crawl_from_front_page_and_robots_finds_every_article(sample_site: SampleSite) -> None:
    base = sample_site.url
    robots = RobotFileParser()
    robots_text = fetch_body(base + "/robots.txt").decode()
    robots.parse(robots_text.splitlines())
    queue = [base + "/", *re.findall(r"(?m)^Sitemap: (\S+)$", robots_text)]
    seen, fetched = set(queue), set()
    while queue:
        url = queue.pop()
        if not url.startswith(base + "/") or not robots.can_fetch("news-archiver", url):
            continue
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                body, ctype, final = response.read(), response.headers["Content-Type"], response.url
        except urllib.error.HTTPError:
            continue
        fetched.add(urlsplit(final).path)
        if ctype.startswith("text/html"):
            soup = BeautifulSoup(body, "lxml")
            hrefs = [str(a["href"]) for a in soup.find_all("a", href=True)]
            hrefs += [str(link["href"]) for link in soup.find_all("link", rel="alternate")]
        else:
            root = ET.fromstring(body)
            hrefs = [
                str(el.text) for el in root.iter() if el.tag.endswith("}loc") or el.tag == "link"
            ]
            hrefs += [el.attrib["href"] for el in root.iter() if el.tag.endswith("}link")]
        for href in hrefs:
            absolute = urljoin(final, href).split("#")[0]
            if absolute not in seen:
                seen.add(absolute)
                queue.append(absolute)
    assert {p.path for p in ARTICLES} <= fetched
    private = page_with("private").path
    assert base + private in seen, "the private page is linked"
    assert private not in fetched, "robots.txt was not obeyed"


def test_root_copy_serves_edited_pages(tmp_path: Path) -> None:
    root = tmp_path / "site"
    shutil.copytree(SITE_ROOT, root)
    page = ARTICLES[0]
    with SampleSite(root=root) as site:
        connection = http.client.HTTPConnection("127.0.0.1", site.port, timeout=10)
        response, before = get(connection, page.path)
        etag = response.getheader("ETag")
        file = file_for_path(root, page.path)
        assert file is not None
        file.write_bytes(file.read_bytes().replace(b"</h1>", b" (updated)</h1>", 1))
        response, after = get(connection, page.path, {"If-None-Match": str(etag)})
        connection.close()
        assert response.status == 200
        assert response.getheader("ETag") != etag
        assert b"(updated)</h1>" in after and b"(updated)" not in before
        copied = site_manifest(site.url, root=root)
        assert [p.path for p in copied] == [p.path for p in OFFLINE_PAGES]
    # The bundled site itself is untouched.
    assert b"(updated)" not in (SITE_ROOT / file.relative_to(root)).read_bytes()


def test_stop_closes_idle_keep_alive_connections() -> None:
    site = SampleSite()
    site.start()
    connection = http.client.HTTPConnection("127.0.0.1", site.port, timeout=10)
    get(connection, "/")
    site.stop()
    assert connection.sock is not None
    assert connection.sock.recv(1) == b""  # the server closed its end
    connection.close()
    with pytest.raises(RuntimeError):
        _ = site.url


@pytest.mark.timeout(60)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_module_entry_point_prints_url_and_stops_on_signal(signum: int) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "archiver.devserver.samplesite", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url), url
        with urllib.request.urlopen(url + "/robots.txt", timeout=10) as response:
            assert response.status == 200
        proc.send_signal(signum)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
