"""Choosing a site slice from the index: the captures in the window, and each revisit's original."""

from __future__ import annotations

from typing import cast

import pytest

from archiver.access import select_slice
from archiver.index import ArchiveIndex, Capture, KeyRange, cdxj_line, surt_key


class _LinesIndex:
    """Stands in for the archive index: query() returns the given lines in a key range."""

    def __init__(self, lines: list[str]) -> None:
        self.captures = sorted((Capture.parse(line) for line in lines), key=lambda c: c.line)

    def query(self, rng: KeyRange) -> list[Capture]:
        return [c for c in self.captures if rng.matches(c)]


def _line(url: str, ts: str, digest: str, offset: int, **extra: str) -> str:
    fields = {"url": url, "digest": digest, "length": "100", "offset": str(offset),
              "filename": f"{ts[:4]}-{ts[4:6]}-{ts[6:8]}/c/x.warc.gz",
              "record_id": f"<urn:uuid:{offset}>", **extra}  # fmt: skip
    return cdxj_line(surt_key(url), ts, fields)


def test_select_slice_takes_the_window_and_finds_each_revisits_original() -> None:
    site = "https://www.news.example"
    lines = [
        _line(f"{site}/a", "20260101100000", "sha1:A", 1),
        _line(f"{site}/a", "20260102100000", "sha1:A", 2, type="revisit", mime="warc/revisit"),
        _line(f"{site}/a", "20260103100000", "sha1:A2", 3),
        _line(f"{site}/b", "20260102120000", "sha1:B", 4, type="revisit", mime="warc/revisit"),
        _line(f"{site}/c", "20260102130000", "sha1:C", 5, type="metadata"),
        _line("https://sports.news.example/d", "20260102140000", "sha1:D", 6),
        _line("https://news.example.org/e", "20260102150000", "sha1:E", 7),
        _line("https://other.example/f", "20260102160000", "sha1:F", 8),
    ]
    index = cast(ArchiveIndex, _LinesIndex(lines))
    # The fake index has no stored crawls whose sidecars would name page requisites.
    chosen = select_slice(index, "news.example", "2026-01-02", "2026-01-02", with_requisites=False)
    assert [c.offset for c in chosen.captures] == [2, 4, 6], "in the window, of the domain"
    assert [c.offset for c in chosen.originals] == [1], "the revisit's original, from before"
    assert [c.offset for c in chosen.missing] == [4], "no original of /b in the index"
    assert chosen.files() == ["2026-01-01/c/x.warc.gz", "2026-01-02/c/x.warc.gz"]
    with pytest.raises(ValueError, match="after"):
        select_slice(index, "news.example", "2026-01-03", "2026-01-02", with_requisites=False)
