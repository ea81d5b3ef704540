"""The cleaner fuzzed: random and mutated HTML never raises, and each page takes bounded time.

Hypothesis generates tag soup, random bytes, odd charsets and mutations of the real
fixture pages; atheris (where it installs) runs a coverage-guided fuzzer over the
cleaner in a subprocess: ``python tests/unit/test_cleaning_fuzz.py -runs=N`` runs it by hand.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archiver.cleaning import Article, clean_html

# Not tests.support.paths: atheris runs this file as a script, outside the tests package.
FIXTURES = sorted((Path(__file__).resolve().parents[1] / "fixtures" / "html").glob("*.html"))
# Generous for a loaded 2-core CI machine: the benchmark cleans 127 pages/s (~8 ms each),
# and the largest fixtures take well under 0.3 s.
MAX_SECONDS = 3.0
URLS = ["http://news.example/a/123456-slug-of-an-article", None, "not a url", "http://[::1"]

_TAGS = [
    "html", "head", "body", "title", "meta", "script", "style", "article", "main", "div",
    "p", "span", "a", "h1", "h2", "ul", "li", "table", "tr", "td", "figure", "figcaption",
    "time", "br", "img", "svg", "math", "template", "noscript", "iframe", "form", "select",
]  # fmt: skip
_ATTRS = ["class", "id", "href", "src", "content", "property", "datetime", "itemprop", "lang"]
_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80)


@st.composite
def tag_soup(draw: st.DrawFn) -> str:
    """Markup with random nesting, unclosed and stray tags, attributes, entities, comments."""
    parts: list[str] = []
    for _ in range(draw(st.integers(0, 60))):
        kind = draw(st.integers(0, 7))
        tag = draw(st.sampled_from(_TAGS))
        if kind <= 2:
            attrs = "".join(
                f' {draw(st.sampled_from(_ATTRS))}="{draw(_TEXT)}"'
                for _ in range(draw(st.integers(0, 3)))
            )
            parts.append(f"<{tag}{attrs}>")
        elif kind == 3:
            parts.append(f"</{tag}>")
        elif kind == 4:
            parts.append(
                draw(st.sampled_from(["&amp;", "&#0;", "&#x110000;", "&bogus", "&#55296;"]))
            )
        elif kind == 5:
            parts.append(
                draw(st.sampled_from(["<!--", "-->", "<![CDATA[", "]]>", "<!DOCTYPE", "<?xml"]))
            )
        else:
            parts.append(draw(_TEXT))
    return "".join(parts)


@st.composite
def mutated_fixture(draw: st.DrawFn) -> bytes:
    """A real fixture page with slices deleted, duplicated or overwritten with random bytes."""
    data = bytearray(draw(st.sampled_from(FIXTURES)).read_bytes())
    for _ in range(draw(st.integers(1, 8))):
        if not data:
            break
        start = draw(st.integers(0, len(data) - 1))
        end = min(len(data), start + draw(st.integers(1, 4096)))
        action = draw(st.integers(0, 2))
        if action == 0:
            del data[start:end]
        elif action == 1:
            data[start:start] = data[start:end]
        else:
            data[start:end] = draw(st.binary(min_size=end - start, max_size=end - start))
    return bytes(data)


def _clean_in_time(
    html: bytes | str, url: str | None, content_type: str | None, limit: float = MAX_SECONDS
) -> Article:
    started = time.perf_counter()
    article = clean_html(html, url, content_type=content_type)
    elapsed = time.perf_counter() - started
    assert elapsed < limit, f"cleaning took {elapsed:.2f}s"
    assert isinstance(article.body, str) and isinstance(article.title, str | None)
    return article


_FUZZ = settings(
    max_examples=int(os.environ.get("NEWS_ARCHIVER_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
_CONTENT_TYPES = st.sampled_from(
    [None, "text/html", "text/html; charset=utf-8", "text/html; charset=x-unknown",
     "text/html; charset=utf-16", "text/html; charset=windows-1250", "text/html; charset="]
)  # fmt: skip


@_FUZZ
@given(html=tag_soup(), url=st.sampled_from(URLS), content_type=_CONTENT_TYPES)
def test_tag_soup_never_raises(html: str, url: str | None, content_type: str | None) -> None:
    _clean_in_time(html, url, content_type)
    _clean_in_time(html.encode("utf-8", "surrogatepass"), url, content_type)


@_FUZZ
@given(data=st.binary(max_size=20_000), content_type=_CONTENT_TYPES)
def test_random_bytes_never_raise(data: bytes, content_type: str | None) -> None:
    _clean_in_time(data, URLS[0], content_type)


@_FUZZ
@given(data=mutated_fixture(), content_type=_CONTENT_TYPES)
def test_mutated_real_pages_never_raise(data: bytes, content_type: str | None) -> None:
    _clean_in_time(data, URLS[0], content_type)


@pytest.mark.parametrize(
    "html",
    [
        b"<div>" * 100_000 + b"<p>deep</p>",
        b"<p>" + b"word " * 2_000_000 + b"</p>",  # a 10 MB paragraph: cut at 8 M characters
        b"<a href=x>" * 50_000,
        b"<table>" + b"<tr><td>cell</td></tr>" * 20_000 + b"</table>",
        b"\x00" * 1_000_000,
    ],
    ids=["deep-nesting", "huge-paragraph", "many-links", "huge-table", "nul-bytes"],
)
def test_pathological_pages_are_bounded(html: bytes) -> None:
    # Pages of megabytes: about 1.5 s here; the cleaner cuts text at 8 M characters.
    _clean_in_time(html, URLS[0], "text/html", limit=4 * MAX_SECONDS)


def test_atheris_finds_no_crash_in_the_cleaner(tmp_path: Path) -> None:
    pytest.importorskip("atheris", reason="atheris has no wheel for this platform")
    # libFuzzer adds what it finds to its corpus directory: a copy, never the fixtures.
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for page in FIXTURES:
        (corpus / page.name).write_bytes(page.read_bytes())
    runs = os.environ.get("NEWS_ARCHIVER_ATHERIS_RUNS", "2000")
    proc = subprocess.run(
        [
            sys.executable,
            __file__,
            f"-runs={runs}",
            "-max_total_time=25",
            "-rss_limit_mb=4096",
            str(corpus),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "Done" in proc.stderr, proc.stderr[-2000:]


def _fuzz_one(data: bytes) -> None:
    """atheris target: half the input as the page, the rest picks a content type and URL."""
    if not data:
        return
    selector, page = data[0], data[1:]
    content_type = [None, "text/html; charset=utf-8", "text/html; charset=windows-1250"][
        selector % 3
    ]
    article = clean_html(page, URLS[selector % 2], content_type=content_type)
    if not isinstance(article, Article):
        raise TypeError("clean_html returned something else than an Article")


if __name__ == "__main__":
    import atheris

    with atheris.instrument_imports():
        import archiver.cleaning.cleaner  # noqa: F401

    atheris.Setup(sys.argv, _fuzz_one)
    atheris.Fuzz()
