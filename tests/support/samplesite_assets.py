"""Build the sample site's binary requisites (photos, icons, the web font) from nothing.

`python -m tests.support.samplesite_assets` writes them under archiver/devserver/samplesite/site/.
The outputs are committed; this module records how they were made so they can be remade. It needs
Pillow and fontTools (dev dependencies) and, for the font, Debian's fonts-dejavu-core: the web font
is a subset of DejaVu Serif Bold renamed "Herald Serif" (licence in site/_licences/).
"""

from __future__ import annotations

import hashlib
import io
import sys
from pathlib import Path

from archiver.devserver.samplesite import SITE_ROOT

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf")
FONT_FAMILY = "Herald Serif"
# Basic Latin, Latin-1 and Latin Extended-A: every headline of the site (English and Polish).
FONT_UNICODES = [*range(0x20, 0x7F), *range(0xA0, 0x180), 0x2013, 0x2014, 0x2018, 0x2019, 0x201C, 0x201D, 0x2026]  # fmt: skip

LEDGER_SLUGS = [
    "chile-desert-telescope-opens-to-foreign-astronomers",
    "chocolate-makers-shrink-bars-as-cocoa-shortage-bites",
    "danube-flood-barrier-talks-collapse",
    "family-bakery-chain-to-close-40-shops",
    "faroese-fishing-crews-brace-for-mackerel-quota-cut",
    "marine-insurers-count-cost-of-record-storm-season",
    "mortgage-lenders-trim-rates-as-inflation-cools",
    "rotterdam-port-strike-leaves-containers-stranded",
    "wildfire-smoke-closes-schools-in-northern-portugal",
    "yorkshire-bus-maker-wins-hydrogen-fleet-order",
]
KURIER_IDS = ["24105", "24220", "24302", "24430", "24511", "24655", "24690", "24780", "24817"]
SEED_ID = "7184521"
TEASER_IDS = ["7290334", "7251876", "7199043"]


def _palette(name: str) -> list[tuple[int, int, int]]:
    digest = hashlib.sha256(name.encode()).digest()
    return [(digest[i], digest[i + 1], digest[i + 2]) for i in range(0, 15, 3)]


def photo(name: str, width: int, height: int, fmt: str) -> bytes:
    """A made-up "photo": a sky gradient and a few shapes whose colours come from the name."""
    from PIL import Image, ImageDraw

    colours = _palette(name)
    base = 480
    image = Image.new("RGB", (base, base * height // width))
    draw = ImageDraw.Draw(image)
    w, h = image.size
    top, bottom = colours[0], colours[1]
    for y in range(h):
        t = y / max(h - 1, 1)
        draw.line(
            [(0, y), (w, y)],
            fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)),
        )
    draw.rectangle([0, h * 2 // 3, w, h], fill=colours[2])
    draw.ellipse([w // 8, h // 6, w // 8 + h // 3, h // 6 + h // 3], fill=colours[3])
    for i in range(5):
        x = w // 3 + i * w // 9
        draw.rectangle([x, h // 2 - (i % 3) * h // 10, x + w // 14, h * 2 // 3], fill=colours[4])
    image = image.resize((width, height), Image.Resampling.BICUBIC)
    out = io.BytesIO()
    if fmt == "JPEG":
        image.save(out, "JPEG", quality=72, optimize=True)
    elif fmt == "WEBP":
        image.save(out, "WEBP", quality=70, method=6)
    else:
        image.save(out, "PNG", optimize=True)
    return out.getvalue()


def tile(colour_a: tuple[int, int, int], colour_b: tuple[int, int, int], size: int) -> bytes:
    """A small diagonal-stripe PNG for CSS backgrounds."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (size, size), colour_a)
    draw = ImageDraw.Draw(image)
    for offset in range(-size, size, 8):
        draw.line([(offset, size), (offset + size, 0)], fill=colour_b, width=2)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def rule(width: int) -> bytes:
    """A thin two-colour rule PNG (a section divider background)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, 4), (139, 26, 26))
    ImageDraw.Draw(image).rectangle([0, 2, width, 4], fill=(20, 40, 80))
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def logo() -> bytes:
    """The Herald's logo: a red block with a white "H" drawn from rectangles."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (96, 96), (139, 26, 26))
    draw = ImageDraw.Draw(image)
    draw.rectangle([24, 18, 36, 78], fill=(255, 255, 255))
    draw.rectangle([60, 18, 72, 78], fill=(255, 255, 255))
    draw.rectangle([24, 42, 72, 54], fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def icon() -> bytes:
    from PIL import Image

    image = Image.open(io.BytesIO(logo())).resize((32, 32))
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def web_font() -> bytes:
    """DejaVu Serif Bold cut down to the site's characters, renamed, as WOFF2."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(str(DEJAVU))
    options = subset.Options()
    options.flavor = "woff2"
    options.name_IDs = [0, 1, 2, 3, 4, 5, 6]
    options.layout_features = ["kern", "liga"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=FONT_UNICODES)
    subsetter.subset(font)
    for record in font["name"].names:
        if record.nameID in (1, 4, 16):
            record.string = FONT_FAMILY if record.nameID != 4 else f"{FONT_FAMILY} Bold"
        elif record.nameID == 6:
            record.string = "HeraldSerif-Bold"
        elif record.nameID == 3:
            record.string = "HeraldSerif-Bold; subset of DejaVu Serif Bold"
    font.flavor = "woff2"
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def build() -> dict[str, bytes]:
    """Every generated file, by its path under the site root (CDN files under _cdn/)."""
    files: dict[str, bytes] = {}
    for slug in LEDGER_SLUGS:
        files[f"media/ledger/{slug}.jpg"] = photo(slug, 640, 384, "JPEG")
    for article_id in KURIER_IDS:
        files[f"media/kp/{article_id}.jpg"] = photo(article_id, 640, 400, "JPEG")
    for width in (320, 640, 1280):
        files[f"_cdn/img/herald/{SEED_ID}-{width}.jpg"] = photo(
            SEED_ID, width, width * 9 // 16, "JPEG"
        )
    for width in (640, 1280):
        files[f"_cdn/img/herald/{SEED_ID}-{width}.webp"] = photo(
            SEED_ID, width, width * 9 // 16, "WEBP"
        )
    for teaser in TEASER_IDS:
        for width in (320, 640):
            files[f"_cdn/img/herald/teaser-{teaser}-{width}.jpg"] = photo(
                teaser, width, width * 9 // 16, "JPEG"
            )
    files["static/img/logo.png"] = logo()
    files["static/img/favicon.png"] = icon()
    files["static/img/masthead.png"] = tile((245, 241, 232), (232, 224, 208), 32)
    files["static/img/rule.png"] = rule(64)
    files["static/fonts/herald-serif-bold.woff2"] = web_font()
    return files


def main() -> int:
    for rel, data in build().items():
        target = SITE_ROOT / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        print(f"{len(data):>8}  {rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
