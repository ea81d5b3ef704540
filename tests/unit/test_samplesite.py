"""The sample news site's files agree with its manifest; the seed article's expectation."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import pytest
from bs4 import BeautifulSoup, Tag

from archiver.devserver.samplesite import (
    EXPECTED_DIR,
    SITE_ROOT,
    PageInfo,
    file_for_path,
    load_manifest,
)
from archiver.devserver.samplesite.manifest import FILE_KINDS, entry_root
from tests.support.samplesite import (
    ARTICLES,
    KURIER_ARTICLE,
    OFFLINE_BASE,
    OFFLINE_PAGES,
    SECTIONS,
    page_with,
    served_bytes,
)

ONE_OF_EACH_TEMPLATE = list({p.template: p for p in ARTICLES}.values())

# Where each template keeps the article body, and how its URLs look.
BODY_SELECTOR = {
    "daily-ledger": "article.story div.story-body > p, article.story div.story-body > h2",
    "metro-wire": "div.story-text > p:not(.read-more)",
    "kurier-poranny": "article.artykul div.tresc > p, article.artykul div.tresc > h2",
    "ce-herald": "article div.article-body p, article div.article-body h2",
    "harbour-notes": "div.post div.post-text > p",
}
URL_PATTERN = {
    "daily-ledger": r"/news/(\d{4})/(\d{2})/(\d{2})/[a-z0-9-]+\.html",
    "metro-wire": r"/a/\d{6}-[a-z0-9-]+",
    "kurier-poranny": r"/wiadomosci/[a-z0-9-]+,id,\d+\.html",
    "ce-herald": r"/en/news/[a-z0-9-]+-\d{7}",
    # No date, no id, at most four slug words: not an article-shaped URL (discovery.parse).
    "harbour-notes": r"/notes/[a-z0-9]+(?:-[a-z0-9]+){0,3}",
}
FIRST_DAY = datetime(2026, 9, 1, tzinfo=UTC)
LAST_DAY = datetime(2026, 11, 21, tzinfo=UTC)

SEED_PATH = json.loads((EXPECTED_DIR / "seed-article.json").read_text(encoding="utf-8"))["url_path"]


def file_text(page: PageInfo, base: str = OFFLINE_BASE) -> str:
    """A page's file from the bundled site, decoded with its declared charset, placeholder filled."""
    return served_bytes(SITE_ROOT, page.path, base).decode(page.charset)


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


# --- the manifest agrees with the files -----------------------------------------------------


def test_manifest_lists_exactly_the_files_of_the_site() -> None:
    listed = set()
    for page in OFFLINE_PAGES:
        if page.kind in FILE_KINDS and not page.generated:
            file = file_for_path(entry_root(SITE_ROOT, {"host": page.host}), page.path)
            assert file is not None and file.is_file(), page.url
            listed.add(file.relative_to(SITE_ROOT).as_posix())
    on_disk = {
        rel
        for f in SITE_ROOT.rglob("*")
        if f.is_file()
        and (
            not (rel := f.relative_to(SITE_ROOT).as_posix()).startswith("_")
            or rel.startswith("_cdn/")
        )
    }
    assert listed == on_disk
    urls = [p.url for p in OFFLINE_PAGES]
    assert len(urls) == len(set(urls)), "a URL is listed twice"


def test_site_has_the_promised_shape() -> None:
    assert 30 <= len(ARTICLES) <= 50
    assert {p.template for p in ARTICLES} == set(load_manifest()["templates"])
    assert len({p.template for p in ARTICLES}) >= 3
    assert {p.language for p in ARTICLES} == {"en", "pl"}
    kinds = {p.kind for p in OFFLINE_PAGES}
    assert kinds == {
        "article", "section", "feed", "sitemap", "robots", "redirect", "not_found", "error", "private",
        "requisite",
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
    if page.template == "harbour-notes":
        # No structured metadata at all: the site's name is in the masthead only.
        assert not soup.select("meta[property], script[type='application/ld+json'], time")
        masthead = soup.select_one("header.masthead p.site-name")
        assert masthead is not None and masthead.get_text() == templates[page.template]["name"]
    else:
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
    elif page.template == "harbour-notes":
        # Only visible datelines: "Published 13 November 2026, 09:30 GMT", maybe "Updated ...".
        datelines = " ".join(p.get_text() for p in soup.select("p.dateline"))
        shown = [
            datetime.strptime(d, "%d %B %Y, %H:%M").replace(tzinfo=UTC).isoformat()
            for d in re.findall(r"\d{1,2} \w+ \d{4}, \d\d:\d\d(?= GMT)", datelines)
        ]
        published, modified = shown[0], shown[-1]
        byline = soup.select_one("p.byline")
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
    elif page.template == "harbour-notes":
        assert soup.select_one("div.post p.dateline") is not None
        assert soup.select_one("div.support") is not None
        assert len(soup.select("aside.around li a")) >= 2
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
    text = file_text(page_with("robots", host="site"))
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
