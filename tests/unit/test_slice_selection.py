"""Choosing a site slice from the index: the captures in the window, and each revisit's original."""

from __future__ import annotations

from typing import cast

import pytest

from archiver.access import Slice, select_slice, slices
from archiver.access.slices import add_captures, add_page_needs
from archiver.index import ArchiveIndex, Capture, KeyRange, cdxj_line, key_range, surt_key


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


class _RunsIndex(_LinesIndex):
    """The fake index with the run listing add_page_needs asks for once."""

    def runs(self) -> list[object]:
        return []

    def query(self, rng: KeyRange, runs: object = None) -> list[Capture]:
        return super().query(rng)


def test_an_unchanged_page_brings_what_its_original_references(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A page unchanged since the first crawl is a revisit: what it references is read from
    # its original, and each referenced capture (the stylesheet's own font too) comes along.
    site = "https://www.news.example"
    css, font, photo = f"{site}/site.css", f"{site}/font.woff2", "https://cdn.example/p.jpg"
    lines = [
        _line(f"{site}/a", "20260101100000", "sha1:A", 1, mime="text/html", status="200"),
        _line(f"{site}/a", "20260102100000", "sha1:A", 2, type="revisit", mime="warc/revisit"),
        _line(css, "20260101100001", "sha1:C", 10, mime="text/css", status="200"),
        _line(font, "20260101100002", "sha1:F", 11, mime="font/woff2", status="200"),
        _line(photo, "20260101100003", "sha1:P", 12, mime="image/jpeg", status="200"),
    ]
    index = cast(ArchiveIndex, _RunsIndex(lines))
    references = {1: [css, photo, "https://cdn.example/never-archived.png"], 10: [font]}
    read: list[int] = []

    def referenced(_index: ArchiveIndex, capture: Capture) -> list[str]:
        read.append(capture.offset)
        return references.get(capture.offset, [])

    monkeypatch.setattr(slices, "_referenced", referenced)
    revisit = next(c for c in index.query(key_range(f"{site}/a")) if c.offset == 2)
    chosen = Slice(site, "2026-01-02", "2026-01-02")
    add_captures(index, chosen, [revisit])
    assert [c.offset for c in chosen.originals] == [1]
    add_page_needs(index, chosen)
    assert sorted(c.offset for c in chosen.captures) == [2, 10, 11, 12]
    assert chosen.needs == {f"{site}/a": {css, font, photo}}
    assert read == [1, 10], "the original and the stylesheet, each read once"
