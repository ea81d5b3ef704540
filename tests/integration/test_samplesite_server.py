"""The sample site's server speaks HTTP/1.1 correctly and logs exactly what it sent."""

from __future__ import annotations

import gzip
import http.client
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
from datetime import timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import pytest
from bs4 import BeautifulSoup

from archiver.devserver.samplesite import (
    SITE_ROOT,
    PageInfo,
    SampleSite,
    SentResponse,
    file_for_path,
    load_manifest,
    site_manifest,
)
from archiver.devserver.samplesite.manifest import BASE_PLACEHOLDER
from tests.support.samplesite import (
    ARTICLES,
    KURIER_ARTICLE,
    OFFLINE_PAGES,
    SECTIONS,
    page_with,
    served_bytes,
)

GZIP_PAGE = page_with("article", content_encoding="gzip")
CHUNKED_PAGE = page_with("article", chunked=True)
REDIRECT_PAGE = page_with("redirect")


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


def test_binds_loopback_on_a_free_port_by_default(sample_site: SampleSite) -> None:
    assert sample_site.url == f"http://127.0.0.1:{sample_site.port}"
    assert sample_site.port > 0


def test_every_manifest_url_is_served_on_one_connection(
    sample_site: SampleSite, live_pages: list[PageInfo], conn: http.client.HTTPConnection
) -> None:
    first_socket = None
    for page in live_pages:
        if page.host != "site":
            continue  # test_cdn_serves_its_files_on_its_own_address
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
