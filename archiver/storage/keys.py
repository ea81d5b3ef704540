"""Object keys: "{prefix}/{crawl_date}/{crawl_id}/{filename}" with every part made safe, and the
Content-Type stored with each file. Pure functions."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import datetime

# S3's own limit: keys up to 1024 bytes of UTF-8.
MAX_KEY_BYTES = 1024
# One key component stays under the 255-byte name limit of common filesystems, so a bucket
# can be mirrored to disk (rclone, aws s3 sync) without renaming.
MAX_COMPONENT_BYTES = 200

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_EXTENSION = re.compile(r"(?:\.[A-Za-z0-9]{1,10}){1,3}$")
_SAFE_ASCII_PUNCT = frozenset("-_.~+=@,")
_CONTENT_TYPES = {
    ".warc.gz": "application/warc",
    ".warc": "application/warc",
    ".json": "application/json",
    ".cdxj": "text/plain; charset=utf-8",
    ".cdx": "text/plain; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}


def _is_safe_char(ch: str) -> bool:
    if ch.isascii():
        return ch.isalnum() or ch in _SAFE_ASCII_PUNCT
    # Letters, combining marks and digits of any script; never controls, format or space chars.
    return unicodedata.category(ch)[0] in "LMN"


def _truncate_utf8(text: str, limit: int) -> str:
    return text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")


def _safe_component(value: str, what: str) -> str:
    """One key component that cannot hold a path separator, control char or dot-only name."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, got {type(value).__name__}")
    norm = unicodedata.normalize("NFKC", value)
    clean = "".join(ch if _is_safe_char(ch) else "_" for ch in norm)
    if not any(ch.isalnum() for ch in clean):
        raise ValueError(f"{what} {value!r} has no letter or digit to build a key from")
    # A leading dot would make a hidden file when the bucket is mirrored to disk.
    stripped = clean.lstrip(".")
    clean = "_" * (len(clean) - len(stripped)) + stripped
    if clean == value and len(clean.encode("utf-8")) <= MAX_COMPONENT_BYTES:
        return clean
    # Changed or shortened: a digest of the original keeps two different names from ever
    # landing on the same key (one would overwrite the other in the bucket).
    tag = "-" + hashlib.sha256(value.encode("utf-8", errors="surrogatepass")).hexdigest()[:12]
    match = _EXTENSION.search(clean)
    ext = match.group(0) if match and match.start() > 0 else ""
    stem = clean[: len(clean) - len(ext)]
    room = MAX_COMPONENT_BYTES - len(tag.encode()) - len(ext.encode())
    return _truncate_utf8(stem, room) + tag + ext


def prefix_segments(prefix: str) -> list[str]:
    segments = [s for s in prefix.strip().strip("/").split("/") if s]
    for segment in segments:
        if segment in {".", ".."}:
            raise ValueError(f"prefix {prefix!r} must not contain '.' or '..' segments")
        try:
            ok = _safe_component(segment, "prefix segment") == segment
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(
                f"prefix segment {segment!r} may only use letters, digits and -_.~+=@, "
                "and must not start with a dot"
            )
    return segments


def object_key(prefix: str, crawl_date: str, crawl_id: str, filename: str) -> str:
    """The storage key "{prefix}/{crawl_date}/{crawl_id}/{filename}", every part made safe."""
    if not _DATE.fullmatch(crawl_date or ""):
        raise ValueError(f"crawl date must be YYYY-MM-DD, got {crawl_date!r}")
    try:
        datetime.strptime(crawl_date, "%Y-%m-%d")
    except ValueError:
        raise ValueError(f"crawl date {crawl_date!r} is not a calendar date") from None
    parts = [
        *prefix_segments(prefix),
        crawl_date,
        _safe_component(crawl_id, "crawl id"),
        _safe_component(filename, "file name"),
    ]
    key = "/".join(parts)
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise ValueError(f"key would be longer than {MAX_KEY_BYTES} bytes; shorten the prefix")
    return key


def content_type_for(filename: str) -> str:
    """The Content-Type stored with a spooled file (never a Content-Encoding: WARCs stay gzip)."""
    lower = filename.lower()
    for suffix, ctype in _CONTENT_TYPES.items():
        if lower.endswith(suffix):
            return ctype
    return "application/octet-stream"
