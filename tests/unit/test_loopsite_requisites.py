"""bench/loopsite.py --requisites: a dataset page's requisite URLs point at the loopback site."""

from __future__ import annotations

import re

from bench.loopsite import ARTICLE_SLOT, requisite_body, with_requisites

BASE = "http://127.0.0.1:8000"
PAGE = b"""<html><head><base href="https://news.example/politics/story.html">
<link rel="stylesheet" href="/assets/site.css"><link rel="canonical" href="https://news.example/s">
<link rel="icon" href="favicon.ico"><script src="https://cdn.example/app.js?v=3"></script>
<meta property="og:image" content="https://cdn.example/share.jpg">
<style>.hero { background: url('img/hero.png') } @import "print.css";</style></head>
<body><a href="/politics/other.html">Other</a>
<img src="data:image/gif;base64,R0lGOD" data-src="https://cdn.example/p/1.jpg"
 data-srcset="https://cdn.example/p/1-320.jpg 320w, https://cdn.example/p/1-640.jpg 640w">
<picture><source srcset="/p/2.webp 1x, /p/2@2x.webp 2x"><img src="/p/2.jpg"></picture>
<div style="background-image: url(/p/bg.gif)"></div></body></html>"""


def local_urls(html: bytes) -> list[bytes]:
    return re.findall(rb"http://127\.0\.0\.1:8000/r/[^\s\"')]+", html)


def test_every_requisite_url_points_at_the_loopback_site() -> None:
    out = with_requisites(PAGE, BASE)
    # Stylesheet, icon, script, og:image, a CSS url() and an @import, data-src, 2 data-srcset
    # candidates, 2 srcset candidates, img src, a style attribute's url().
    assert len(local_urls(out)) == 13
    assert b"cdn.example" not in out and b"/assets/site.css" not in out
    assert b'href="/politics/other.html"' in out, "links stay as they are"
    assert b'rel="canonical" href="https://news.example/s"' in out
    assert b'<base href="https://news.example/politics/story.html">' in out
    assert b'src="data:image/gif;base64,R0lGOD"' in out


def test_images_carry_the_article_slot_and_site_wide_files_do_not() -> None:
    urls = local_urls(with_requisites(PAGE, BASE))
    for url in urls:
        if url.endswith((b".css", b".js", b".ico")):
            assert ARTICLE_SLOT not in url, url
        else:
            assert ARTICLE_SLOT in url, url
    assert len(set(urls)) == len(urls)


def test_requisite_bodies_are_fixed_by_their_path() -> None:
    ctype, body = requisite_body(b"/r/0123456789ab-000000007.jpg")
    assert ctype == b"image/jpeg" and 2048 <= len(body) < 64 * 1024
    assert requisite_body(b"/r/0123456789ab-000000007.jpg") == (ctype, body)
    css_type, css = requisite_body(b"/r/fedcba987654.css")
    assert css_type == b"text/css; charset=utf-8" and css.startswith(b".story")
    assert requisite_body(b"/r/0123456789ab-000000008.jpg")[1] != body
