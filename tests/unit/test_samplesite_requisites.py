"""The sample site's page requisites: stylesheets, a web font, photos, scripts and its CDN host."""

from __future__ import annotations

import io
import re
from urllib.parse import urljoin, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

from bs4 import BeautifulSoup, Tag
from fontTools.ttLib import TTFont
from PIL import Image

from archiver.devserver.samplesite import SITE_ROOT, PageInfo
from archiver.devserver.samplesite.bigimage import HEIGHT, WIDTH, huge_png
from archiver.devserver.samplesite.manifest import CDN_HOST, cdn_url_for, entry_root
from tests.support.samplesite import (
    ARTICLES,
    OFFLINE_BASE,
    OFFLINE_PAGES,
    REQUISITES,
    SECTIONS,
    page_with,
    served_bytes,
)

OFFLINE_CDN = cdn_url_for(OFFLINE_BASE)
SEED = page_with(
    "article", path="/en/news/kremlin-rejects-nato-advances-insists-on-diplomatic-hurdles-7184521"
)
HTML_PAGES = [*ARTICLES, *SECTIONS, page_with("private")]
CSS_URL = re.compile(r"""@import\s+(?:url\(\s*)?["']?([^"')\s;]+)|url\(\s*["']?([^"')\s]+)""")


def body_of(page: PageInfo) -> bytes:
    root = entry_root(SITE_ROOT, {"host": page.host})
    if page.generated:
        return huge_png()
    return served_bytes(root, page.path, OFFLINE_BASE)


def soup_of(page: PageInfo) -> BeautifulSoup:
    return BeautifulSoup(body_of(page).decode(page.charset), "lxml")


def srcset_urls(value: str) -> list[str]:
    return [candidate.split()[0] for candidate in value.split(",") if candidate.strip()]


def html_references(soup: BeautifulSoup) -> list[str]:
    """Every resource URL a page names for rendering (noscript fallbacks included: lxml parses them)."""
    found: list[str] = []
    for tag in soup.find_all(True):
        assert isinstance(tag, Tag)
        rel = " ".join(tag.get_attribute_list("rel") or []).lower()
        if tag.name == "link" and ("stylesheet" in rel or "icon" in rel):
            found.append(str(tag["href"]))
        if tag.name == "script" and tag.get("src"):
            found.append(str(tag["src"]))
        if tag.name == "meta" and tag.get("property") == "og:image":
            found.append(str(tag["content"]))
        if tag.name in ("img", "source"):
            for attr in ("src", "data-src"):
                if tag.get(attr):
                    found.append(str(tag[attr]))
            for attr in ("srcset", "data-srcset"):
                if tag.get(attr):
                    found += srcset_urls(str(tag[attr]))
    return [u for u in found if not u.startswith("data:")]


def css_references(text: str) -> list[str]:
    return [a or b for a, b in CSS_URL.findall(re.sub(r"(?s)/\*.*?\*/", "", text))]


def without_query(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def test_every_html_page_links_the_site_stylesheet_icon_and_script() -> None:
    for page in HTML_PAGES:
        soup = soup_of(page)
        styles = [str(link["href"]) for link in soup.select('head link[rel="stylesheet"]')]
        assert "/static/css/site.css" in styles, page.path
        assert soup.select_one('head link[rel="icon"][href="/static/img/favicon.png"]'), page.path
        assert soup.select_one('head script[src="/static/js/site.js"]'), page.path


def test_every_reference_is_a_listed_requisite_and_none_is_orphaned() -> None:
    listed = {p.url: p for p in REQUISITES}
    referenced: dict[str, set[str]] = {}
    for page in HTML_PAGES:
        for ref in html_references(soup_of(page)):
            referenced.setdefault(without_query(urljoin(page.url, ref)), set()).add(page.path)
    for sheet in (p for p in REQUISITES if p.requisite == "style"):
        for ref in css_references(body_of(sheet).decode("utf-8")):
            referenced.setdefault(without_query(urljoin(sheet.url, ref)), set()).add(sheet.path)
    assert set(referenced) <= set(listed), set(referenced) - set(listed)
    assert set(listed) <= set(referenced), set(listed) - set(referenced)
    # The CDN carries the seed's photos, the big image and the tracking pixel.
    cdn = {url for url in referenced if urlsplit(url).hostname == CDN_HOST}
    assert len(cdn) == len([p for p in REQUISITES if p.host == "cdn"]) >= 10
    assert {listed[url].requisite for url in referenced} == {
        "style",
        "font",
        "image",
        "script",
        "icon",
    }


def test_seed_article_photos_use_srcset_picture_and_lazy_loading() -> None:
    soup = soup_of(SEED)
    article = soup.find("article")
    assert isinstance(article, Tag)
    source = article.select_one("figure.main-photo picture source[type='image/webp']")
    assert source is not None and len(srcset_urls(str(source["srcset"]))) == 2
    img = article.select_one("figure.main-photo picture img")
    assert img is not None and len(srcset_urls(str(img["srcset"]))) == 3
    assert str(img["src"]).startswith(OFFLINE_CDN + "/img/herald/")
    lazy = article.select("section.related-content img.lazy")
    assert len(lazy) == 3
    for tag in lazy:
        assert str(tag["src"]).startswith("data:") and tag["loading"] == "lazy"
        assert str(tag["data-src"]).startswith(OFFLINE_CDN)
        assert len(srcset_urls(str(tag["data-srcset"]))) == 2
    assert len(article.select("section.related-content noscript img")) == 3
    og_image = soup.find("meta", property="og:image")
    assert isinstance(og_image, Tag) and str(og_image["content"]).startswith(OFFLINE_CDN)
    # The tracking pixel sits outside the article, after the page footer.
    (tracker,) = soup.select("img.tracker")
    assert str(tracker["src"]).startswith(OFFLINE_CDN + "/track/pixel.gif?")
    assert tracker.find_parent("article") is None


def test_stylesheets_import_each_other_and_style_the_headline_with_the_web_font() -> None:
    site_css = body_of(page_with("requisite", path="/static/css/site.css")).decode()
    assert re.search(r'@import url\("base\.css"\)', site_css)
    assert "@font-face" in site_css and 'url("../fonts/herald-serif-bold.woff2")' in site_css
    h1 = re.search(r"(?s)\nh1 \{(.*?)\}", site_css)
    assert h1 is not None and 'font-family: "Herald Serif"' in h1.group(1)
    assert "color: #8b1a1a" in h1.group(1)
    base_css = body_of(page_with("requisite", path="/static/css/base.css")).decode()
    assert css_references(base_css) == ["../img/rule.png"]
    # A template bug real sites have: a stylesheet that imports itself.
    print_css = body_of(page_with("requisite", path="/static/css/print.css")).decode()
    assert css_references(print_css) == ["print.css"]
    ledger = [p for p in ARTICLES if p.template == "daily-ledger"]
    assert all(soup_of(p).select_one('link[href="/static/css/print.css"]') for p in ledger)


def test_images_decode_and_the_font_covers_every_headline() -> None:
    for page in (p for p in REQUISITES if p.requisite in ("image", "icon")):
        with Image.open(io.BytesIO(body_of(page))) as image:
            image.load()
            assert image.format and page.content_type == f"image/{image.format.lower()}", page.url
            assert image.width > 0 and image.height > 0
    font_page = page_with("requisite", requisite="font")
    assert font_page.content_type == "font/woff2"
    font = TTFont(io.BytesIO(body_of(font_page)))
    assert font.flavor == "woff2"
    assert font["name"].getDebugName(1) == "Herald Serif"
    cmap = font.getBestCmap()
    for page in ARTICLES:
        missing = {c for c in str(page.title) if ord(c) not in cmap}
        assert not missing, (page.path, missing)


def test_seed_photo_widths_match_their_srcset_descriptors() -> None:
    img = soup_of(SEED).select_one("figure.main-photo img")
    assert img is not None
    for candidate in str(img["srcset"]).split(","):
        url, descriptor = candidate.split()
        page = next(p for p in REQUISITES if p.url == url)
        with Image.open(io.BytesIO(body_of(page))) as image:
            assert f"{image.width}w" == descriptor


def test_very_large_image_is_generated_valid_and_the_same_every_time() -> None:
    page = page_with("requisite", generated=True)
    assert page.host == "cdn" and page.content_type == "image/png"
    data = huge_png()
    assert len(data) > 2_500_000 and data == huge_png()
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        assert image.size == (WIDTH, HEIGHT)
    assert not (entry_root(SITE_ROOT, {"host": "cdn"}) / page.path.lstrip("/")).exists()


def test_cdn_robots_refuses_the_tracking_pixel_and_allows_the_rest() -> None:
    robots = page_with("robots", host="cdn")
    assert robots.url == OFFLINE_CDN + "/robots.txt"
    parser = RobotFileParser()
    parser.parse(body_of(robots).decode().splitlines())
    for page in (p for p in OFFLINE_PAGES if p.host == "cdn" and p.kind == "requisite"):
        assert parser.can_fetch("news-archiver", page.url + "?page=1") is not page.disallowed
    assert [p.path for p in REQUISITES if p.disallowed] == ["/track/pixel.gif"]


def test_media_types_carry_a_charset_only_for_text() -> None:
    for page in REQUISITES:
        if page.requisite in ("style", "script"):
            assert page.media_type == f"{page.content_type}; charset=utf-8"
        else:
            assert page.media_type == page.content_type and "charset" not in page.media_type
