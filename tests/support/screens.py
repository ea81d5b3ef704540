"""Screenshots of a live page and its replay: how much they differ, and both side by side.

Also runs tests/replayweb/look.mjs, which opens pages in headless Chromium and reports how they
rendered (headline style, web fonts, images, stylesheets, every request made).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from PIL import Image, ImageChops

from tests.support.paths import ROOT

REPLAYWEB = ROOT / "tests" / "replayweb"
# A pixel counts as different when one of its channels differs by more than this (of 255):
# leaves out sub-pixel anti-aliasing noise, counts any real change of colour or position.
CHANNEL_TOLERANCE = 24


def pixel_difference(first: Path, second: Path) -> float:
    """Share of pixels that differ between two screenshots (sizes may differ: the excess counts)."""
    with Image.open(first) as a_img, Image.open(second) as b_img:
        a, b = a_img.convert("RGB"), b_img.convert("RGB")
    width, height = max(a.width, b.width), max(a.height, b.height)
    canvas_a = Image.new("RGB", (width, height), (255, 0, 255))
    canvas_b = Image.new("RGB", (width, height), (0, 255, 0))
    canvas_a.paste(a, (0, 0))
    canvas_b.paste(b, (0, 0))
    diff = ImageChops.difference(canvas_a, canvas_b)
    mask = Image.eval(diff, lambda v: 255 if v > CHANNEL_TOLERANCE else 0).convert("L")
    changed = Image.eval(mask, lambda v: 255 if v else 0).histogram()[255]
    return changed / (width * height)


def side_by_side(first: Path, second: Path, out: Path, width: int = 900) -> None:
    """Both screenshots next to each other, scaled to `width` in all, as a PNG for the docs."""
    with Image.open(first) as a_img, Image.open(second) as b_img:
        a, b = a_img.convert("RGB"), b_img.convert("RGB")
    gap = 16
    joined = Image.new("RGB", (a.width + gap + b.width, max(a.height, b.height)), (200, 200, 200))
    joined.paste(a, (0, 0))
    joined.paste(b, (a.width + gap, 0))
    scale = width / joined.width
    small = joined.resize((width, round(joined.height * scale)), Image.Resampling.LANCZOS)
    out.parent.mkdir(parents=True, exist_ok=True)
    small.convert("P", palette=Image.Palette.ADAPTIVE, colors=128).save(out, optimize=True)


def look(
    node: str,
    chromium: Path,
    profile: Path,
    targets: list[dict[str, Any]],
    width: int = 1000,
    height: int = 800,
    timeout_ms: int = 60_000,
) -> dict[str, Any]:
    """Run look.mjs over `targets` ({name, url, frameUrl, screenshot}); its JSON report."""
    options = {
        "chromium": str(chromium),
        "profile": str(profile),
        "timeoutMs": timeout_ms,
        "width": width,
        "height": height,
        "targets": targets,
    }
    proc = subprocess.run(
        [node, str(REPLAYWEB / "look.mjs"), json.dumps(options)],
        cwd=REPLAYWEB,
        capture_output=True,
        text=True,
        timeout=timeout_ms / 1000 * (len(targets) + 1) + 30,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report: dict[str, Any] = json.loads(proc.stdout.splitlines()[-1])
    return report
