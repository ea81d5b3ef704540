"""Page requisites in the WACZ export: pages.jsonl names them, a site slice brings the CDN's."""

from __future__ import annotations

import gzip
import json
import zipfile
from pathlib import Path

import pytest

from archiver.cli import main
from archiver.devserver.s3server import SeaweedServer
from archiver.index import Capture
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
