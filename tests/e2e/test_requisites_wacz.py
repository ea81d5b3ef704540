"""Page requisites in the WACZ export: pages.jsonl names them, a site slice brings the CDN's."""

from __future__ import annotations

import gzip
import json
import zipfile
from pathlib import Path

import pytest

from archiver.access import Slice, export_slice
from archiver.access.records import parse_response, read_capture
from archiver.access.slices import add_page_needs, add_requisites
from archiver.cli import main
from archiver.devserver.s3server import SeaweedServer
from archiver.discovery import html_requisites
from archiver.index import ArchiveIndex, Capture, key_range
from tests.support.retrieval import ArchivedCrawl, archived_crawl

pytestmark = [pytest.mark.s3, pytest.mark.slow]


@pytest.fixture(scope="module")
def crawl(s3_server: SeaweedServer, tmp_path_factory: pytest.TempPathFactory) -> ArchivedCrawl:
    return archived_crawl(s3_server, tmp_path_factory.mktemp("retrieval"))


def _read(path: Path) -> tuple[list[Capture], list[dict[str, object]]]:
    with zipfile.ZipFile(path) as zf:
        lines = gzip.decompress(zf.read("indexes/index.cdx.gz")).decode().splitlines()
        pages = [json.loads(line) for line in zf.read("pages/pages.jsonl").splitlines()[1:]]
    return [Capture.parse(line) for line in lines if line.strip()], pages


def test_site_slice_holds_the_cdn_captures_its_pages_need(
    crawl: ArchivedCrawl, tmp_path: Path
) -> None:
    site_host = crawl.site_url.split("//", 1)[1].split(":", 1)[0]
    out = tmp_path / "slice.wacz"
    code = main(
        [*crawl.settings(), "export-wacz", "--site", site_host, "--from", crawl.date, "--to", crawl.date, "-o", str(out)]
    )  # fmt: skip
    assert code == 0
    captures, pages = _read(out)
    cdn = [c for c in captures if c.is_capture and "cdn.sample.test" in c.url]
    assert cdn, "the CDN's captures came with the site's pages"
    # Each names the page it was fetched for, a page of the site.
    assert all(str(c.get("page")).startswith(crawl.site_url) for c in cdn)
    page_urls = {str(p["url"]) for p in pages}
    assert not [u for u in page_urls if "cdn.sample.test" in u], "requisites are not pages"
    with_requisites = [p for p in pages if p.get("requisites")]
    assert with_requisites
    named = {u for p in with_requisites for u in p["requisites"]}  # type: ignore[attr-defined]
    assert {c.url for c in cdn} <= named
    assert any("/static/css/site.css" in u for u in named)


def test_one_page_exported_alone_brings_what_it_shares_with_pages_left_out(
    crawl: ArchivedCrawl, tmp_path: Path
) -> None:
    # A crawl asks for the site's stylesheet, font and logo once, for the first article that
    # links them; a WACZ of another article alone (a search's result set) still needs them.
    index = ArchiveIndex(crawl.server.client(), crawl.bucket, crawl.prefix)
    captures = index.query(key_range(crawl.site_url, "domain"))
    stylesheet = next(c for c in captures if c.url.endswith("/static/css/site.css"))
    first_page = str(stylesheet.get("page"))
    article = next(
        c
        for c in captures
        if c.url != first_page
        and "/a/" in c.url
        and str(c.get("mime") or "").startswith("text/html")
        and not c.get("page")
    )
    chosen = Slice(article.url, article.timestamp, article.timestamp, captures=[article])
    add_requisites(index, chosen)
    add_page_needs(index, chosen)
    out = tmp_path / "one.wacz"
    report = export_slice(index, chosen, out, title="one article")
    assert report.pages == 1
    held, pages = _read(out)
    urls = {c.url for c in held if c.is_capture}
    assert stylesheet.url in urls, "the shared stylesheet, fetched for another page"
    # What the stylesheet itself loads (the web font, background images) comes too.
    assert any(u.endswith((".woff2", ".woff")) for u in urls)
    # Every resource the page's HTML references that the crawl archived is in the WACZ.
    body = parse_response(read_capture(index, article)).body
    referenced = {r.url for r in html_requisites(body, article.url).requisites}
    archived = {u for u in referenced if index.query(key_range(u))}
    assert archived and archived <= urls
    [page] = pages
    assert page["url"] == article.url
    listed = set(page["requisites"])  # type: ignore[call-overload]
    assert stylesheet.url in listed and archived <= listed <= urls
