"""Page requisites: what an HTML page and a stylesheet refer to, the modes and the limits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from archiver.config import SettingError
from archiver.discovery.requisite_limits import RequisiteBudget, RequisitePolicy
from archiver.discovery.requisites import (
    css_requisites,
    html_requisites,
    srcset_candidates,
    srcset_urls,
)
from archiver.operations.crawlstats import crawl_stats

PAGE = "https://news.example/2026/11/20/story.html"

HTML = """<!doctype html>
<html><head>
<base href="https://news.example/">
<link rel="stylesheet" href="/static/site.css">
<link rel="alternate stylesheet" href="/static/print.css">
<link rel="icon" href="/favicon.ico">
<link rel="apple-touch-icon" href="/touch.png">
<link rel="preload" as="font" href="/fonts/serif.woff2" crossorigin>
<link rel="preload" as="image" href="/img/hero.jpg" imagesrcset="/img/hero-2x.jpg 2x">
<link rel="canonical" href="https://news.example/story">
<meta property="og:image" content="https://cdn.example/share.jpg">
<meta name="twitter:image" content="https://cdn.example/tw.jpg">
<style>
  @import url("/static/extra.css");
  .masthead { background: url('/img/bg.png') }
  /* url(/img/commented-out.png) */
</style>
<script src="/js/app.js"></script>
<script>var inline = "url(/not/a/requisite.png)";</script>
<noscript><link rel="stylesheet" href="/static/noscript.css"></noscript>
</head><body>
<div style="background-image: url(/img/inline.jpg)"></div>
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" data-src="/img/lazy.jpg"
     data-srcset="/img/lazy-320.jpg 320w, /img/lazy-640.jpg 640w" loading="lazy">
<img src="/img/a-320.jpg" srcset="/img/a-320.jpg 320w, /img/a-1280.jpg 1280w, /img/a-640.jpg 640w">
<img data-original="/img/orig.jpg"><img data-lazy-src="/img/ls.jpg">
<img data-lazy-srcset="/img/lss-1x.jpg 1x, /img/lss-2x.jpg 2x">
<picture><source type="image/webp" srcset="https://cdn.example/p-640.webp 640w, https://cdn.example/p-1280.webp 1280w">
<img src="https://cdn.example/p.jpg"></picture>
<noscript><img src="/img/fallback.jpg"></noscript>
<video poster="/img/poster.jpg" src="/media/clip.mp4"><source src="/media/clip.webm"></video>
<audio src="/media/sound.mp3"></audio>
<a href="/another-page.html">a link, never a requisite</a>
<img src="#fragment-only"><img src="javascript:void(0)">
</body></html>"""


def _urls(found: object, kind: str | None = None) -> list[str]:
    return [r.url for r in found.requisites if kind is None or r.kind == kind]  # type: ignore[attr-defined]


def test_html_finds_each_kind_of_requisite_resolved_against_base() -> None:
    found = html_requisites(HTML, PAGE)
    base = "https://news.example"
    assert _urls(found, "style") == [
        f"{base}/static/site.css",
        f"{base}/static/extra.css",
        f"{base}/static/noscript.css",
    ]
    assert _urls(found, "font") == [f"{base}/fonts/serif.woff2"]
    assert set(_urls(found, "icon")) == {f"{base}/favicon.ico", f"{base}/touch.png"}
    assert _urls(found, "script") == [f"{base}/js/app.js"]
    images = set(_urls(found, "image"))
    for path in (
        "/img/hero.jpg",
        "/img/hero-2x.jpg",
        "/img/bg.png",
        "/img/inline.jpg",
        "/img/lazy.jpg",
        "/img/lazy-320.jpg",
        "/img/lazy-640.jpg",
        "/img/a-320.jpg",
        "/img/a-640.jpg",
        "/img/a-1280.jpg",
        "/img/orig.jpg",
        "/img/ls.jpg",
        "/img/lss-1x.jpg",
        "/img/lss-2x.jpg",
        "/img/fallback.jpg",
        "/img/poster.jpg",
    ):
        assert base + path in images, path
    for url in ("p-640.webp", "p-1280.webp", "p.jpg", "share.jpg", "tw.jpg"):
        assert f"https://cdn.example/{url}" in images
    assert set(_urls(found, "media")) == {
        f"{base}/media/clip.mp4",
        f"{base}/media/clip.webm",
        f"{base}/media/sound.mp3",
    }
    everything = _urls(found)
    assert len(everything) == len(set(everything)), "each URL once"
    assert f"{base}/static/print.css" not in everything
    assert f"{base}/another-page.html" not in everything
    assert f"{base}/story" not in everything
    assert f"{base}/img/commented-out.png" not in everything
    assert f"{base}/not/a/requisite.png" not in everything
    assert not [u for u in everything if not u.startswith("https://")]
    assert found.data_uris == 1


def test_modes_select_by_level() -> None:
    found = html_requisites(HTML, PAGE)
    styles = {r.kind for r in found.selected("styles")}
    images = {r.kind for r in found.selected("images")}
    every = found.selected("all")
    assert found.selected("none") == []
    assert styles == {"style", "font"}
    assert images == {"style", "font", "image"}
    assert {r.kind for r in every} == {"style", "font", "image", "script", "icon"}
    # Posters and share images are not what the page shows inline: "all" only.
    image_urls = {r.url for r in found.selected("images")}
    assert "https://news.example/img/poster.jpg" not in image_urls
    assert "https://cdn.example/share.jpg" not in image_urls
    assert "https://news.example/img/poster.jpg" in {r.url for r in every}
    assert not [r for r in every if r.kind == "media"], "media streams are never fetched"


def test_srcset_largest_keeps_one_candidate_per_set() -> None:
    found = html_requisites(HTML, PAGE, srcset="largest")
    images = set(_urls(found, "image"))
    assert "https://news.example/img/a-1280.jpg" in images
    assert "https://news.example/img/a-640.jpg" not in images
    assert "https://news.example/img/lazy-640.jpg" in images
    assert "https://news.example/img/lazy-320.jpg" not in images
    assert "https://news.example/img/lss-2x.jpg" in images
    assert "https://news.example/img/lss-1x.jpg" not in images
    assert "https://cdn.example/p-1280.webp" in images
    assert "https://cdn.example/p-640.webp" not in images
    # src stays: it is what browsers without srcset show.
    assert "https://news.example/img/a-320.jpg" in images


def test_srcset_parsing_follows_the_html_rules() -> None:
    assert srcset_candidates("a.jpg 1x, b.jpg 2x") == [("a.jpg", 0.001), ("b.jpg", 0.002)]
    # A comma inside a URL stays; a comma right after a URL ends the candidate.
    assert [u for u, _ in srcset_candidates("/i,1.jpg 100w,/i,2.jpg 200w")] == [
        "/i,1.jpg",
        "/i,2.jpg",
    ]
    assert [u for u, _ in srcset_candidates("one.jpg, two.jpg")] == ["one.jpg", "two.jpg"]
    assert srcset_urls("s.jpg 300w, l.jpg 900w, m.jpg 600w", "largest") == ["l.jpg"]
    assert srcset_urls("", "largest") == []


def test_css_imports_fonts_and_images_resolve_against_the_stylesheet() -> None:
    css = """
    @import "print.css" print;
    @import url(./more/base.css);
    @import url('https://fonts.example/family.css');
    @font-face { font-family: Serif; src: url(../fonts/serif.woff2) format("woff2"),
                 url("../fonts/serif.bin") format("truetype"); }
    body { background: url( "../img/paper.png" ) repeat; }
    .logo { background-image: url(data:image/png;base64,iVBORw0KGgo=); }
    .mask { mask: url(#clip); }
    .icon::before { content: url(\\2e\\2e/img/escaped.svg); }
    """
    found = css_requisites(css, "https://cdn.example/static/css/site.css")
    assert _urls(found, "style") == [
        "https://cdn.example/static/css/print.css",
        "https://cdn.example/static/css/more/base.css",
        "https://fonts.example/family.css",
    ]
    assert _urls(found, "font") == [
        "https://cdn.example/static/fonts/serif.woff2",
        "https://cdn.example/static/fonts/serif.bin",
    ]
    assert _urls(found, "image") == [
        "https://cdn.example/static/img/paper.png",
        "https://cdn.example/static/img/escaped.svg",
    ]
    assert found.data_uris == 1


def test_a_self_importing_stylesheet_finds_itself_once() -> None:
    url = "https://news.example/static/loop.css"
    found = css_requisites(b'@import url("loop.css"); @import "loop.css";', url)
    assert _urls(found) == [url]


def test_unparsable_documents_give_nothing() -> None:
    assert html_requisites(b"", PAGE).requisites == []
    assert css_requisites(b"\xff\xfe garbage {{{", PAGE).requisites == []
    # A str with an XML declaration is read as well.
    xhtml = '<?xml version="1.0" encoding="utf-8"?><html><body><img src="x.png"></body></html>'
    assert _urls(html_requisites(xhtml, PAGE)) == ["https://news.example/2026/11/20/x.png"]


def _policy(**values: object) -> RequisitePolicy:
    settings: dict[str, object] = {
        "ARCHIVER_REQUISITES": "all",
        "ARCHIVER_REQUISITES_ALL_PAGES": False,
        "ARCHIVER_REQUISITES_SRCSET": "all",
        "ARCHIVER_REQUISITE_MAX_BYTES": 1000,
        "ARCHIVER_REQUISITES_PER_PAGE": 3,
        "ARCHIVER_REQUISITE_PAGE_BYTES": 2500,
        "ARCHIVER_REQUISITES_PER_HOST": 4,
    }
    settings.update(values)
    return RequisitePolicy.from_settings(settings)


def test_policy_reads_and_checks_settings() -> None:
    policy = _policy(ARCHIVER_REQUISITES=" Images ", ARCHIVER_REQUISITES_ALL_PAGES="true")
    assert (policy.mode, policy.level, policy.all_pages, policy.enabled) == (
        "images",
        2,
        True,
        True,
    )
    assert not _policy(ARCHIVER_REQUISITES="none").enabled
    for name, bad in (
        ("ARCHIVER_REQUISITES", "everything"),
        ("ARCHIVER_REQUISITES_SRCSET", "smallest"),
        ("ARCHIVER_REQUISITE_MAX_BYTES", "-1"),
        ("ARCHIVER_REQUISITES_PER_PAGE", "many"),
        ("ARCHIVER_REQUISITES_ALL_PAGES", "perhaps"),
    ):
        with pytest.raises(SettingError, match=name):
            _policy(**{name: bad})


def test_budget_caps_per_page_per_host_and_dedupes() -> None:
    budget = RequisiteBudget(_policy(ARCHIVER_REQUISITES_PER_HOST=3))
    page_a, page_b = "https://s.example/a", "https://s.example/b"
    assert budget.admit(page_a, "https://s.example/1.css") is None
    assert budget.admit(page_b, "https://s.example/1.css") == "duplicate"
    assert budget.admit(page_a, "https://s.example/2.css") is None
    assert budget.admit(page_a, "https://cdn.example/3.jpg") is None
    assert budget.admit(page_a, "https://cdn.example/4.jpg") == "over_page_count"
    assert budget.admit(page_b, "https://s.example/5.css") is None
    assert budget.admit(page_b, "https://s.example/6.css") == "over_host_cap"
    assert budget.admit(page_b, "https://cdn.example/6.jpg") is None


def test_budget_bytes_per_page_and_size_cap() -> None:
    budget = RequisiteBudget(_policy(ARCHIVER_REQUISITES_PER_PAGE=0))
    page = "https://s.example/a"
    assert budget.size_cap(page) == 1000
    budget.charge(page, 1000)
    budget.charge(page, 1000)
    # 500 bytes of the page's 2500 are left: the next one is cut there.
    assert budget.size_cap(page) == 500
    assert not budget.over_page_bytes(page)
    budget.charge(page, 500)
    assert budget.over_page_bytes(page)
    assert budget.admit(page, "https://s.example/late.png") == "over_page_bytes"
    assert budget.admit("https://s.example/other", "https://s.example/late.png") is None
    unlimited = RequisiteBudget(
        _policy(ARCHIVER_REQUISITE_MAX_BYTES=0, ARCHIVER_REQUISITE_PAGE_BYTES=0)
    )
    unlimited.charge(page, 10**9)
    assert unlimited.size_cap(page) == 0
    assert not unlimited.over_page_bytes(page)


def test_crawl_stats_report_requisites_and_leave_them_out_of_the_error_rate() -> None:
    stats = {
        "downloader/request_count": 100,
        # 10 page requests failed; 30 requisite downloads failed (a CDN that did not resolve).
        "downloader/exception_type_count/twisted.internet.error.DNSLookupError": 40,
        "archiver/requisites/requested": 62,
        "archiver/requisites/fetched": 20,
        "archiver/requisites/failed": 30,
        "archiver/requisites/revisits": 5,
        "archiver/requisites/robots_refused": 12,
        "archiver/requisites/over_page_count": 3,
    }
    doc = crawl_stats({"stats": stats}, run_started=datetime.now(UTC), closing_seconds=0.0)
    assert doc["error_rate"] == 0.2  # 10 of the 50 page requests
    assert doc["pages"]["requests"] == 100
    requisites = doc["requisites"]
    assert (requisites["fetched"], requisites["revisits"], requisites["revisit_share"]) == (
        20,
        5,
        0.25,
    )
    assert requisites["failed"] == 30
    assert requisites["robots_refused"] == 12
    assert requisites["not_fetched"] == {"over_page_count": 3}
