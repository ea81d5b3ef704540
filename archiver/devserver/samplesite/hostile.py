"""The hostile corner of the sample site: what a crawler must survive, under /hostile/.

None of it is linked from the normal site or listed in its manifest, so crawls of the
site's front page never see it; tests start a crawl at ``/hostile/`` instead.  Every
response is built here from code (nothing is stored under site/): malformed markup,
wrong and conflicting charsets, broken gzip, a gzip bomb, pages larger than
DOWNLOAD_MAXSIZE, redirect loops, an endless calendar, a response that drips one byte
at a time, binary bodies behind .html URLs, and error pages that look like articles.
See docs/sample-site.md for the list.
"""

from __future__ import annotations

import random
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

PREFIX = "/hostile/"
# Larger than the default DOWNLOAD_MAXSIZE (50 MiB), so the crawler must cut it.
HUGE_SIZE = 60 * 1024 * 1024
# What the gzip bomb inflates to: far past DOWNLOAD_MAXSIZE, from a body of about 256 KB.
BOMB_SIZE = 256 * 1024 * 1024
# The drip: one byte every DRIP_INTERVAL seconds, DRIP_BYTES in all (several minutes),
# so any sane DOWNLOAD_TIMEOUT fires first.
DRIP_INTERVAL = 0.25
DRIP_BYTES = 2000
_HTML = "text/html; charset=utf-8"

Stream = Callable[[], Iterator[bytes]]


@dataclass
class HostileResponse:
    """A response of the hostile corner: a body, or a stream for the huge and slow ones."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    # Called once per request; each piece is written as it comes (chunk framed if no length).
    stream: Stream | None = None
    # Content-Length announced for a stream; None sends it chunked.
    length: int | None = None


def _page(title: str, body: str, *, article: bool = True) -> str:
    og = '<meta property="og:type" content="article">' if article else ""
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>{og}'
        f"</head>\n<body>{body}</body></html>\n"
    )


_STORY = (
    "The harbour authority kept the outer basin closed for a third day on Thursday as "
    "gusts above ninety kilometres an hour pushed waves over the breakwater, stranding "
    "two ferries and a grain carrier at anchor off the point. Pilots said the swell "
    "would have to fall below three metres before any vessel could be brought through "
    "the narrow entrance, and forecasters expect that no earlier than Saturday morning. "
)


def _story(paragraphs: int = 4) -> str:
    return "".join(f"<p>{_STORY}</p>\n" for _ in range(paragraphs))


INDEX_LINKS = (
    ("malformed.html", "Malformed markup"),
    ("charset/conflict.html", "Header and meta charsets disagree"),
    ("charset/wrong.html", "Charset header that does not match the bytes"),
    ("charset/unknown.html", "A charset nobody knows"),
    ("charset/utf16.html", "UTF-16 with a BOM under a UTF-8 header"),
    ("gzip/invalid.html", "Content-Encoding gzip that is not gzip"),
    ("gzip/truncated.html", "A gzip stream cut short"),
    ("gzip/bomb.html", "A gzip bomb"),
    ("huge.html", "A page larger than DOWNLOAD_MAXSIZE, with Content-Length"),
    ("huge-chunked.html", "A page larger than DOWNLOAD_MAXSIZE, chunked"),
    ("loop/a", "A redirect loop"),
    ("loop/self", "A page redirecting to itself"),
    ("calendar/2026/11/", "An endless calendar"),
    ("drip.html", "A response that drips one byte at a time"),
    ("binary.html", "Binary bytes served as text/html"),
    ("document.html", "A binary document behind an .html URL"),
    ("status/404.html", "Not found, looking like an article"),
    ("status/410.html", "Gone"),
    ("status/500.html", "Server error, looking like an article"),
    ("status/503.html", "Unavailable"),
)


def index_page() -> bytes:
    """The start page of the hostile corner: links to every case."""
    links = "".join(f'<li><a href="{PREFIX}{path}">{text}</a></li>\n' for path, text in INDEX_LINKS)
    return _page(
        "Hostile corner", f"<h1>Hostile corner</h1>\n<ul>\n{links}</ul>", article=False
    ).encode()


def malformed_page() -> bytes:
    """An article whose markup is broken in every common way, plus a NUL byte and deep nesting."""
    deep = "<div>" * 3000 + "<p>deep text</p>" + "</div>" * 10
    body = (
        '<script type="application/ld+json">{"@type": "NewsArticle", "headline": [}</script>\n'
        '<script type="application/ld+json">{"@context": "https://schema.org", "@type": '
        '"NewsArticle", "headline": "Storm keeps harbour shut", "datePublished": '
        '"2026-13-45T99:99:99Z", "author": {"name": null}}</script>\n'
        '<div class="story" class="other" id=a id=b><h1>Storm keeps <b>harbour <i>shut</b> '
        "for a third day</i></h1>\n"
        "<p>Bogus entities &bogus; &#xFFFFFFF; &#0; &#55296; and a NUL \x00 byte in the text.\n"
        f"<p>{_STORY}\n<p>{_STORY}\n<p>{_STORY}\n"
        '<p><a href="javascript:void(0)">script link</a> <a href="http://[::1">broken URL</a> '
        '<a href="//">empty host</a> <a href="http://exa mple.com/">space in host</a> '
        '<a href="mailto:">mail</a>\n'
        "<table><tr><td><p>cell<table><td>nested cell</table></tr>\n"
        "</div></div></span></article>\n"
        f'<p title="{"x" * 200_000}">huge attribute</p>\n'
        "<svg><script>svg script</script><foreignObject><p>svg text</p></foreignObject></svg>\n"
        "<math><mi>x</mi></math><frameset><frame src=x></frameset>\n"
        f"{deep}\n<!-- a comment that never ends\n<p>swallowed"
    )
    return _page("Storm keeps harbour shut - Malformed", body).encode("utf-8", "surrogatepass")


_POLISH = (
    "Remont wiaduktu na ulicy Zielonej potrwa do wiosny, a kierowców czekają objazdy przez "
    "Śródmieście. Zarząd dróg zapowiada, że ruch wróci na wiadukt dopiero po zakończeniu "
    "prac przy łożyskach i dylatacjach, których nie dało się wykonać jesienią. "
)


def _polish_page(meta_charset: str) -> str:
    paragraphs = "".join(f"<p>{_POLISH}</p>\n" for _ in range(5))
    return (
        f'<!DOCTYPE html>\n<html lang="pl"><head><meta charset="{meta_charset}">'
        '<meta property="og:type" content="article"><title>Remont wiaduktu</title></head>\n'
        f"<body><article><h1>Remont wiaduktu potrwa do wiosny</h1>\n{paragraphs}</article>"
        "</body></html>\n"
    )


def _gzip(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


_bomb_lock = threading.Lock()
_bomb: bytes | None = None


def gzip_bomb() -> bytes:
    """BOMB_SIZE zero bytes (inside an HTML comment) as one gzip member; built once, ~256 KB."""
    global _bomb
    with _bomb_lock:
        if _bomb is None:
            _bomb = _build_bomb()
        return _bomb


def _build_bomb() -> bytes:
    # Deflating 256 MiB takes seconds; after a full flush a block never refers back, so the
    # block of one MiB of zeros can be repeated as it is, with the CRC computed alongside.
    prefix, suffix = b"<!DOCTYPE html><html><body><!--", b"--></body></html>"
    zeros = bytes(1024 * 1024)
    count = BOMB_SIZE // len(zeros)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    start = deflate.compress(prefix) + deflate.flush(zlib.Z_FULL_FLUSH)
    block = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    end = deflate.compress(suffix) + deflate.flush(zlib.Z_FINISH)
    crc = zlib.crc32(prefix)
    for _ in range(count):
        crc = zlib.crc32(zeros, crc)
    crc = zlib.crc32(suffix, crc)
    size = len(prefix) + count * len(zeros) + len(suffix)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = crc.to_bytes(4, "little") + (size & 0xFFFFFFFF).to_bytes(4, "little")
    return header + start + block * count + end + trailer


def _huge_stream(total: int) -> Stream:
    block = (_page("Huge", "") + "<p>" + _STORY * 40 + "</p>\n").encode()

    def pieces() -> Iterator[bytes]:
        left = total
        while left > 0:
            piece = block[:left]
            left -= len(piece)
            yield piece

    return pieces


def _drip() -> Iterator[bytes]:
    for _ in range(DRIP_BYTES):
        yield b"."
        time.sleep(DRIP_INTERVAL)


def _binary(seed: int, size: int) -> bytes:
    rng = random.Random(seed)
    return b"\x89PNG\r\n\x1a\n" + bytes(rng.getrandbits(8) for _ in range(size))


def _calendar(base_url: str, year: int, month: int) -> bytes:
    def month_path(y: int, m: int) -> str:
        y, m = (y - 1, 12) if m < 1 else (y + 1, 1) if m > 12 else (y, m)
        return f"{PREFIX}calendar/{y:04d}/{m:02d}/"

    body = (
        f"<h1>Events in {year:04d}-{month:02d}</h1>\n<p>No events this month.</p>\n"
        f'<p><a href="{month_path(year, month - 1)}">previous month</a> '
        f'<a href="{month_path(year, month + 1)}">next month</a></p>'
    )
    return _page(f"Calendar {year:04d}-{month:02d}", body, article=False).encode()


def _redirect(location: str, status: int = 302) -> HostileResponse:
    body = f'<html><body><a href="{location}">moved</a></body></html>'.encode()
    return HostileResponse(status, [("Location", location), ("Content-Type", _HTML)], body)


def _error_article(status: int) -> HostileResponse:
    # An article-shaped body, so a crawler that cleaned error pages would produce an item.
    page = _page(
        f"Error {status}", f"<article><h1>Page unavailable ({status})</h1>{_story()}</article>"
    )
    return HostileResponse(status, [("Content-Type", _HTML)], page.encode())


def respond(path: str, base_url: str, *, host_port: int | None = None) -> HostileResponse | None:
    """The response for a path under /hostile/, or None for an unknown path (a 404)."""
    if not path.startswith(PREFIX):
        return None
    rest = path[len(PREFIX) :]
    html = [("Content-Type", _HTML)]
    if rest == "":
        return HostileResponse(200, html, index_page())
    if rest == "malformed.html":
        return HostileResponse(200, html, malformed_page())
    if rest == "charset/conflict.html":
        # The header wins in browsers and in Scrapy, so the windows-1250 bytes are misread.
        body = _polish_page("windows-1250").encode("cp1250")
        return HostileResponse(200, [("Content-Type", "text/html; charset=utf-8")], body)
    if rest == "charset/wrong.html":
        body = _polish_page("utf-8").encode("utf-8")
        return HostileResponse(200, [("Content-Type", "text/html; charset=iso-8859-1")], body)
    if rest == "charset/unknown.html":
        body = _polish_page("x-no-such-charset").encode("utf-8")
        return HostileResponse(
            200, [("Content-Type", "text/html; charset=x-no-such-charset")], body
        )
    if rest == "charset/utf16.html":
        body = _polish_page("utf-16").encode("utf-16")
        return HostileResponse(200, [("Content-Type", "text/html; charset=utf-8")], body)
    if rest == "gzip/invalid.html":
        headers = [*html, ("Content-Encoding", "gzip")]
        return HostileResponse(200, headers, b"this is not gzip at all " * 20)
    if rest == "gzip/truncated.html":
        data = _gzip(_page("Cut gzip", _story(8)).encode())
        return HostileResponse(200, [*html, ("Content-Encoding", "gzip")], data[: len(data) // 2])
    if rest == "gzip/bomb.html":
        return HostileResponse(200, [*html, ("Content-Encoding", "gzip")], gzip_bomb())
    if rest == "huge.html":
        return HostileResponse(200, html, stream=_huge_stream(HUGE_SIZE), length=HUGE_SIZE)
    if rest == "huge-chunked.html":
        return HostileResponse(200, html, stream=_huge_stream(HUGE_SIZE))
    if rest == "loop/a":
        return _redirect(f"{base_url}{PREFIX}loop/b")
    if rest == "loop/b":
        return _redirect(f"{base_url}{PREFIX}loop/a")
    if rest == "loop/self":
        return _redirect(f"{base_url}{PREFIX}loop/self", 301)
    if rest == "redirect/loopback2" and host_port is not None:
        # Another loopback address: refused unless allowed, and safe to try even if it were not.
        return _redirect(f"http://127.0.0.2:{host_port}{PREFIX}")
    if rest.startswith("calendar/"):
        parts = rest.split("/")
        if len(parts) == 4 and parts[3] == "" and parts[1].isdigit() and parts[2].isdigit():
            year, month = int(parts[1]), int(parts[2])
            if 1 <= month <= 12:
                return HostileResponse(200, html, _calendar(base_url, year, month))
        return None
    if rest == "drip.html":
        return HostileResponse(200, html, stream=_drip, length=DRIP_BYTES)
    if rest == "binary.html":
        return HostileResponse(200, html, _binary(7, 64 * 1024))
    if rest == "document.html":
        pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + _binary(11, 32 * 1024) + b"\n%%EOF\n"
        return HostileResponse(200, [("Content-Type", "application/pdf")], pdf)
    if rest.startswith("status/") and rest.endswith(".html"):
        code = rest[len("status/") : -len(".html")]
        if code in {"404", "410", "500", "503"}:
            return _error_article(int(code))
    return None
