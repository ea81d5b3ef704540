"""The pixel difference the replay test asserts: what counts as a different pixel."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from tests.support.screens import pixel_difference, side_by_side


def picture(
    path: Path, size: tuple[int, int], box: tuple[int, int, int, int] | None = None
) -> Path:
    image = Image.new("RGB", size, (255, 255, 255))
    if box is not None:
        ImageDraw.Draw(image).rectangle(box, fill=(139, 26, 26))
    image.save(path)
    return path


def test_identical_screenshots_differ_by_nothing(tmp_path: Path) -> None:
    a = picture(tmp_path / "a.png", (100, 50), (10, 10, 19, 19))
    b = picture(tmp_path / "b.png", (100, 50), (10, 10, 19, 19))
    assert pixel_difference(a, b) == 0.0


def test_a_moved_block_counts_both_places(tmp_path: Path) -> None:
    a = picture(tmp_path / "a.png", (100, 100), (0, 0, 9, 9))
    b = picture(tmp_path / "b.png", (100, 100), (50, 50, 59, 59))
    assert pixel_difference(a, b) == 200 / 10_000


def test_anti_aliasing_noise_is_not_a_difference(tmp_path: Path) -> None:
    a = picture(tmp_path / "a.png", (40, 40))
    noisy = Image.new("RGB", (40, 40), (240, 245, 250))
    noisy.save(tmp_path / "b.png")
    assert pixel_difference(a, tmp_path / "b.png") == 0.0


def test_a_taller_replay_counts_its_extra_rows(tmp_path: Path) -> None:
    a = picture(tmp_path / "a.png", (10, 90))
    b = picture(tmp_path / "b.png", (10, 100))
    assert pixel_difference(a, b) == 10 * 10 / (10 * 100)


def test_side_by_side_is_scaled_to_the_width(tmp_path: Path) -> None:
    a = picture(tmp_path / "a.png", (400, 300))
    b = picture(tmp_path / "b.png", (400, 200))
    side_by_side(a, b, tmp_path / "out" / "both.png", width=408)
    with Image.open(tmp_path / "out" / "both.png") as out:
        assert out.size == (408, 150)
