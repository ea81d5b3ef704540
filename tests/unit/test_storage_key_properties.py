"""Storage keys made of crawl ids and file names never leave the prefix nor collide (hypothesis)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from archiver.storage import object_key

_names = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=400
)
_dangerous = st.sampled_from(
    [
        "..",
        ".",
        "../../etc/passwd",
        "..\\..\\boot.ini",
        "/absolute",
        "a/../../b",
        "\u2025",  # two-dot leader
        "\uff0e\uff0e",  # fullwidth dots, NFKC "..": must still stay one component
        "\u2215evil",  # division slash
        "\uff0fevil",  # fullwidth solidus, NFKC "/"
        "\u202eexe.warc.gz",  # right-to-left override
        "nul\x00byte",
        "line\nbreak",
        "x" * 5000,
        "é" * 300,
    ]
)


def _check_key(prefix: str, crawl_id: str, filename: str) -> str | None:
    try:
        key = object_key(prefix, "2026-11-25", crawl_id, filename)
    except ValueError:
        return None
    assert key.startswith(prefix + "/2026-11-25/")
    parts = key.split("/")
    assert len(parts) == len(prefix.split("/")) + 3, key
    assert all(p and p not in {".", ".."} and not p.startswith(".") for p in parts)
    assert len(key.encode("utf-8")) <= 1024
    for ch in key:
        assert ch == "/" or unicodedata.category(ch)[0] in "LMN" or ch in "-_.~+=@,", repr(ch)
    return key


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(crawl_id=st.one_of(_names, _dangerous), filename=st.one_of(_names, _dangerous))
@example(crawl_id="news-20261125T170259Z-abcdef", filename="../../../etc/passwd")
@example(crawl_id="..", filename="news.warc.gz")
def test_keys_never_leave_the_prefix(crawl_id: str, filename: str) -> None:
    _check_key("archive/news", crawl_id, filename)


@settings(max_examples=300, deadline=None)
@given(a=st.one_of(_names, _dangerous), b=st.one_of(_names, _dangerous))
def test_different_names_never_share_a_key(a: str, b: str) -> None:
    key_a = _check_key("p", "crawl-1", a)
    key_b = _check_key("p", "crawl-1", b)
    if key_a is not None and key_b is not None and a != b:
        assert key_a != key_b, (a, b)


@pytest.mark.parametrize("prefix", ["../up", "a/../b", ".hidden", "a//../b", "x/\u2025/y", "a b"])
def test_an_unsafe_prefix_is_a_configuration_error(prefix: str) -> None:
    with pytest.raises(ValueError):
        object_key(prefix, "2026-11-25", "crawl", "f.warc.gz")
