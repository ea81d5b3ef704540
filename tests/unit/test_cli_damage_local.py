"""Damaged input on the local side: `extract` finds truncated and corrupt WARCs (exit 1, named
on stderr, never raw binary), `clean` refuses what is not HTML (exit 1, one line).
"""

from __future__ import annotations

import gzip
import io
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.cli import main
from archiver.commands._errors import one_line
from tests.support.index_warcs import write_warc
from tests.support.stored_crawl import flip


def _warcs(tmp_path: Path) -> tuple[bytes, bytes]:
    """A whole WARC of 10 pages, gzipped and plain."""
    path = write_warc(tmp_path, 10)
    data = path.read_bytes()
    path.unlink()
    return data, gzip.decompress(data)


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _shows_no_binary(text: str) -> bool:
    return all(line.isprintable() and line.isascii() for line in text.splitlines())


@pytest.mark.parametrize("suffix", [".warc.gz", ".warc"])
def test_extract_reads_a_whole_warc_with_exit_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], suffix: str
) -> None:
    packed, plain = _warcs(tmp_path)
    path = tmp_path / ("whole" + suffix)
    path.write_bytes(packed if suffix == ".warc.gz" else plain)
    code, _out, err = _run(capsys, "extract", "-j", "1", str(path))
    assert code == 0, err
    assert err.strip() == "10 HTML responses, 0 articles"


def _record_spans(data: bytes) -> list[tuple[int, int]]:
    """(offset, length) of each record of a WARC."""
    iterator = ArchiveIterator(io.BytesIO(data))
    spans = []
    for record in iterator:
        iterator.read_to_end(record)
        spans.append((iterator.get_record_offset(), iterator.get_record_length()))
    return spans


@pytest.mark.parametrize("suffix", [".warc.gz", ".warc"])
@pytest.mark.parametrize("where", ["headers", "middle", "last-bytes"])
@pytest.mark.parametrize("which", [0.3, 1.0])
def test_extract_finds_a_truncated_warc_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], suffix: str, where: str, which: float
) -> None:
    packed, plain = _warcs(tmp_path)
    data = packed if suffix == ".warc.gz" else plain
    spans = _record_spans(data)
    offset, length = spans[min(int(len(spans) * which), len(spans) - 1)]
    cut = {
        "headers": offset + 20,
        "middle": offset + length // 2,
        "last-bytes": offset + length - 5,
    }
    path = tmp_path / ("cut" + suffix)
    path.write_bytes(data[: cut[where]])
    code, _out, err = _run(capsys, "extract", "-j", "1", str(path))
    assert code == 1, err
    assert len(err.splitlines()) == 2, err
    first, summary = err.splitlines()
    assert first.startswith(f"archiver extract: {path}: truncated"), first
    assert _shows_no_binary(first)
    assert summary.endswith("1 unreadable, truncated or damaged WARC(s)")


CORRUPT: dict[str, Callable[[bytes], bytes]] = {
    "random-bytes": lambda data: random.Random(7).randbytes(4000),
    "elf-binary": lambda data: b"\x7fELF\x02\x01\x01\x00" + random.Random(8).randbytes(4000),
    "flipped-middle": lambda data: flip(data, len(data) // 2),
}


@pytest.mark.parametrize("kind", sorted(CORRUPT))
def test_extract_of_a_corrupt_file_exits_1_and_prints_no_raw_bytes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    packed, _plain = _warcs(tmp_path)
    path = tmp_path / f"{kind}.warc.gz"
    path.write_bytes(CORRUPT[kind](packed))
    good = tmp_path / "good.warc.gz"
    good.write_bytes(packed)
    code, _out, err = _run(capsys, "extract", "-j", "1", str(path), str(good))
    assert code == 1, err
    assert f"archiver extract: {path}: " in err and "damaged" in err
    assert _shows_no_binary(err), err
    # The good WARC after it was still read.
    assert err.splitlines()[-1].startswith(("10 HTML responses", "1")), err


NOT_HTML: dict[str, tuple[bytes, str]] = {
    "elf": (b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 8, "an ELF executable"),
    "random": (random.Random(3).randbytes(5000), "binary data"),
    "controls": (bytes(range(1, 32)) * 40 + b"<p>x</p>", "binary data"),
}


@pytest.mark.parametrize("kind", sorted(NOT_HTML))
def test_clean_refuses_binary_input_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    data, says = NOT_HTML[kind]
    path = tmp_path / "page.html"
    path.write_bytes(data)
    code, out, err = _run(capsys, "clean", str(path))
    assert code == 1 and out == ""
    (line,) = err.splitlines()
    assert line == f"archiver clean: {path}: not an HTML page: " + line.split(": ", 3)[3]
    assert says in line and _shows_no_binary(line)


@pytest.mark.parametrize("data", [b"", b"  \n\t\r\n  "])
def test_clean_refuses_empty_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data: bytes
) -> None:
    path = tmp_path / "page.html"
    path.write_bytes(data)
    code, out, err = _run(capsys, "clean", str(path))
    assert code == 1 and out == ""
    (line,) = err.splitlines()
    assert "no article: empty document" in line


def test_clean_still_takes_utf16_html(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "page.html"
    body = "<p>" + "Ein langer Absatz über die Stadt und ihre Leute. " * 30 + "</p>"
    path.write_bytes(
        f"<html><head><title>T</title></head><body>{body}</body></html>".encode("utf-16")
    )
    _code, _out, err = _run(capsys, "clean", str(path))
    assert "not an HTML page" not in err


def test_one_line_escapes_binary_and_joins_lines() -> None:
    assert one_line("bad\x00\x1f\x8b bytes\nnext  line") == "bad\\x00\\x1f\\x8b bytes next line"
    assert one_line(b"\x7fELF\xff") == "\\x7fELF\\xff"
    assert one_line("Zażółć gęślą jaźń") == "Zażółć gęślą jaźń"
    assert len(one_line("x" * 1000)) == 600
