"""`archiver clean` and `archiver extract` from the command line."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archiver.cli import main
from archiver.devserver.samplesite import SITE_ROOT
from tests.support.paths import TESTS
from tests.support.samplesite import OFFLINE_BASE, served_bytes

FIXTURES = TESTS / "fixtures" / "html"
SEED = FIXTURES / "cedaily.kremlin-rejects-nato.html"
SEED_URL = json.loads(SEED.with_suffix(".json").read_text(encoding="utf-8"))["url"]


def test_clean_prints_title_and_body(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["clean", str(SEED), "--url", SEED_URL]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Kremlin rejects NATO advances, insists on diplomatic hurdles\n\n")
    assert "Ukraine proposes a ceasefire" in out and "Images source" not in out


def test_clean_json_has_the_documented_fields(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["clean", str(SEED), "--url", SEED_URL, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["title"] == "Kremlin rejects NATO advances, insists on diplomatic hurdles"
    assert data["authors"] == ["Anna Kowalczyk"]
    assert data["published"] == "2025-05-12T09:41:00+02:00"
    assert data["language"] == "en"
    assert data["canonical_url"] == SEED_URL
    assert data["body"].startswith("Russia cannot allow NATO infrastructure")


def test_clean_unreadable_file_fails_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["clean", str(tmp_path / "missing.html")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_clean_non_article_says_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "empty.html"
    page.write_bytes(b"")
    assert main(["clean", str(page)]) == 1
    assert "no article: empty document" in capsys.readouterr().err


def _warc(path: Path) -> None:
    story = SEED.read_bytes()
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for uri, status, ctype in [
            (SEED_URL, "200 OK", "text/html; charset=utf-8"),
            ("https://www.cedaily.example/missing", "404 Not Found", "text/html"),
            ("https://www.cedaily.example/logo.png", "200 OK", "image/png"),
        ]:
            headers = StatusAndHeaders(status, [("Content-Type", ctype)], protocol="HTTP/1.1")
            record = writer.create_warc_record(
                uri, "response", payload=io.BytesIO(story), http_headers=headers
            )
            writer.write_record(record)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_extract_writes_one_line_per_article(tmp_path: Path, jobs: str) -> None:
    warc = tmp_path / "crawl.warc.gz"
    _warc(warc)
    out = tmp_path / "items.jsonl"
    assert main(["extract", str(warc), "-o", str(out), "-j", jobs]) == 0
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 1
    line = lines[0]
    assert line["target_uri"] == SEED_URL
    assert line["warc_file"] == str(warc)
    assert line["warc_record_id"].startswith("<urn:uuid:")
    assert line["warc_date"]
    assert line["title"] == "Kremlin rejects NATO advances, insists on diplomatic hurdles"


def test_extract_judges_pages_as_the_crawl_does(tmp_path: Path) -> None:
    # The sample site's pages without article markup: one article, two listings that look
    # like articles (a headline, a date, paragraphs that are teasers). The crawl makes an
    # item of the article only; extract gives the same answer from the WARC.
    pages = {
        path: served_bytes(SITE_ROOT, path, OFFLINE_BASE)
        for path in (
            "/notes/harbour-wall-reopens",
            "/notes/week-in-review",
            "/notes/from-the-archive",
        )
    }
    warc = tmp_path / "notes.warc.gz"
    with warc.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for path, body in pages.items():
            headers = StatusAndHeaders(
                "200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1"
            )
            writer.write_record(
                writer.create_warc_record(
                    OFFLINE_BASE + path, "response", payload=io.BytesIO(body), http_headers=headers
                )
            )
    out = tmp_path / "items.jsonl"
    assert main(["extract", str(warc), "-o", str(out)]) == 0
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [line["target_uri"] for line in lines] == [OFFLINE_BASE + "/notes/harbour-wall-reopens"]
    assert lines[0]["title"].startswith("Harbour wall")


def test_extract_reports_unreadable_warc(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["extract", str(tmp_path / "nope.warc.gz"), "-o", str(tmp_path / "o.jsonl")]) == 1
    assert "nope.warc.gz" in capsys.readouterr().err


# --- ARCHIVER_CLEAN_RULES_DIRS ----------------------------------------------------------

PROMO_URL = "https://www.promotimes.example/harbour"
PROMO_SITE = "[site]\nname = 'Promo Times'\ndomains = ['promotimes.example']\n[drop.shop]\nselectors = ['p.shop-box']\n"
PROMO_PAGE = (
    '<html><head><title>Harbour works</title><meta property="og:type" content="article">'
    "</head><body><article>"
    + "".join(
        f"<p>Paragraph {i} of the harbour story, long enough to count as prose here.</p>"
        for i in range(6)
    )
    + "<p class='shop-box'>Buy the harbour calendar in our shop, only 9.99 this week!</p>"
    "</article></body></html>"
)


@pytest.fixture
def promo(tmp_path: Path) -> tuple[Path, Path]:
    """(rules directory with the Promo Times site file, a saved Promo Times page)."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "site-promotimes.toml").write_text(PROMO_SITE, encoding="utf-8")
    page = tmp_path / "promo.html"
    page.write_text(PROMO_PAGE, encoding="utf-8")
    return rules, page


@pytest.mark.parametrize("how", ["setting", "option", "none"])
def test_clean_honours_the_rules_dirs_setting(
    promo: tuple[Path, Path], how: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rules, page = promo
    args = ["clean", str(page), "--url", PROMO_URL]
    if how == "setting":
        args = ["-s", f"ARCHIVER_CLEAN_RULES_DIRS={rules}", *args]
    elif how == "option":
        args += ["--rules", str(rules)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Paragraph 5 of the harbour story" in out
    assert ("calendar" in out) is (how == "none")


def test_clean_refuses_a_bad_rules_directory(
    tmp_path: Path, promo: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, page = promo
    missing = tmp_path / "no-such-dir"
    assert main(["-s", f"ARCHIVER_CLEAN_RULES_DIRS={missing}", "clean", str(page)]) == 2
    assert "not a directory" in capsys.readouterr().err


def _promo_warc(path: Path) -> None:
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for i in range(3):
            headers = StatusAndHeaders(
                "200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1"
            )
            record = writer.create_warc_record(
                f"{PROMO_URL}-{i}",
                "response",
                payload=io.BytesIO(PROMO_PAGE.encode()),
                http_headers=headers,
            )
            writer.write_record(record)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_extract_honours_the_rules_dirs_setting_in_every_worker(
    tmp_path: Path, promo: tuple[Path, Path], jobs: str
) -> None:
    rules, _ = promo
    warc = tmp_path / "promo.warc.gz"
    _promo_warc(warc)
    out = tmp_path / "items.jsonl"
    args = ["-s", f"ARCHIVER_CLEAN_RULES_DIRS={rules}", "extract", str(warc), "-o", str(out)]
    assert main([*args, "-j", jobs]) == 0
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 3
    for line in lines:
        assert "Paragraph 5 of the harbour story" in line["body"]
        assert "calendar" not in line["body"]


def test_extract_caps_a_stored_gzip_bomb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gzip as gz
    from datetime import UTC, datetime

    from archiver.access import extract
    from archiver.warc import HttpExchange, RotatingWarcWriter, build_exchange_records

    monkeypatch.setattr(extract, "MAX_PAYLOAD_BYTES", 1024 * 1024)
    bomb = gz.compress(b"<html><body><p>" + b"a" * (8 * 1024 * 1024) + b"</p></body></html>")
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n"
        + f"Content-Length: {len(bomb)}\r\n\r\n".encode()
    )
    exchange = HttpExchange(
        target_uri="http://127.0.0.1/bomb.html",
        request_head=b"GET /bomb.html HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        request_body=b"",
        response_head=head,
        response_body=bomb,
        ip_address="127.0.0.1",
        date=datetime(2026, 11, 25, tzinfo=UTC),
    )
    with RotatingWarcWriter(
        tmp_path, prefix="t", max_size=10**9, warcinfo_fields={"software": "t"}
    ) as writer:
        writer.write(build_exchange_records(exchange))
    (path,) = tmp_path.glob("*.warc.gz")
    with open(path, "rb") as fh:
        (capture,) = list(extract.iter_html_captures(fh, path.name))
    assert len(capture.payload) == 1024 * 1024
