"""The sample site's CDN host: a second server on 127.0.0.2, its files, its robots.txt, its big image."""

from __future__ import annotations

import http.client
import socket
from collections.abc import Iterator

import pytest

from archiver.devserver.samplesite import SITE_ROOT, PageInfo, SampleSite, site_manifest
from archiver.devserver.samplesite.bigimage import huge_png
from archiver.devserver.samplesite.manifest import (
    BASE_PLACEHOLDER,
    CDN_ADDRESS,
    CDN_HOST,
    CDN_PLACEHOLDER,
)
from tests.support.samplesite import served_bytes


@pytest.fixture(scope="module")
def sample_site() -> Iterator[SampleSite]:
    with SampleSite() as site:
        yield site


def cdn_get(site: SampleSite, path: str) -> tuple[http.client.HTTPResponse, bytes]:
    conn = http.client.HTTPConnection(CDN_ADDRESS, site.port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": f"{CDN_HOST}:{site.port}"})
        response = conn.getresponse()
        return response, response.read()
    finally:
        conn.close()


def site_get(
    site: SampleSite, path: str, host: str | None = None
) -> tuple[http.client.HTTPResponse, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", site.port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": host} if host else {})
        response = conn.getresponse()
        return response, response.read()
    finally:
        conn.close()


def test_cdn_url_names_the_cdn_host_on_the_site_port(sample_site: SampleSite) -> None:
    assert sample_site.cdn_url == f"http://{CDN_HOST}:{sample_site.port}"
    assert sample_site.hosts == {CDN_HOST: CDN_ADDRESS}


def test_cdn_serves_its_files_on_its_own_address(sample_site: SampleSite) -> None:
    pages = [p for p in site_manifest(sample_site.url) if p.host == "cdn"]
    assert len(pages) >= 10 and all(p.url.startswith(sample_site.cdn_url + "/") for p in pages)
    for page in pages:
        response, body = cdn_get(sample_site, page.path)
        assert response.status == 200, page.url
        assert response.getheader("Content-Type") == page.media_type, page.url
        assert response.getheader("Content-Length") == str(len(body))
        assert response.getheader("Access-Control-Allow-Origin") == "*"
        assert response.getheader("ETag") and response.getheader("Last-Modified")
        if page.generated:
            assert body == huge_png()
        else:
            assert body == served_bytes(SITE_ROOT / "_cdn", page.path, sample_site.url)
        sent = next(r for r in reversed(sample_site.sent) if r.path == page.path)
        assert sent.host == "cdn" and sent.body == body


def test_site_pages_name_the_live_cdn(sample_site: SampleSite) -> None:
    seed = next(p for p in site_manifest(sample_site.url) if p.path.endswith("hurdles-7184521"))
    _, body = site_get(sample_site, seed.path)
    assert f'src="{sample_site.cdn_url}/img/herald/'.encode() in body
    assert CDN_PLACEHOLDER.encode() not in body and BASE_PLACEHOLDER.encode() not in body


def test_the_hosts_keep_their_files_apart(sample_site: SampleSite) -> None:
    pages = site_manifest(sample_site.url)
    cdn_file = next(p for p in pages if p.host == "cdn" and p.kind == "requisite")
    site_file = next(p for p in pages if p.host == "site" and p.kind == "requisite")
    assert site_get(sample_site, cdn_file.path)[0].status == 404
    assert site_get(sample_site, "/_cdn/robots.txt")[0].status == 404
    assert cdn_get(sample_site, site_file.path)[0].status == 404
    _, robots = cdn_get(sample_site, "/robots.txt")
    assert robots == b"User-agent: *\nDisallow: /track/\n"


def test_the_site_answers_a_cdn_host_header_as_the_cdn(sample_site: SampleSite) -> None:
    # What a server bound to 0.0.0.0 relies on: the Host header decides.
    response, body = site_get(sample_site, "/robots.txt", host=f"{CDN_HOST}:{sample_site.port}")
    assert response.status == 200 and body == b"User-agent: *\nDisallow: /track/\n"


def test_very_large_image_is_sent_whole_with_its_length(sample_site: SampleSite) -> None:
    page: PageInfo = next(p for p in site_manifest(sample_site.url) if p.generated)
    response, body = cdn_get(sample_site, page.path)
    assert response.getheader("Content-Type") == "image/png"
    assert int(response.getheader("Content-Length") or 0) == len(body) > 2_500_000


def test_stop_closes_both_servers() -> None:
    site = SampleSite()
    site.start()
    port = site.port
    assert cdn_get(site, "/robots.txt")[0].status == 200
    site.stop()
    for address in ("127.0.0.1", CDN_ADDRESS):
        with pytest.raises(OSError), socket.create_connection((address, port), timeout=2):
            pass


def test_without_cdn_only_the_site_listens() -> None:
    site = SampleSite()
    site.start(cdn=False)
    try:
        assert site_get(site, "/robots.txt")[0].status == 200
        with pytest.raises(OSError), socket.create_connection((CDN_ADDRESS, site.port), timeout=2):
            pass
    finally:
        site.stop()
