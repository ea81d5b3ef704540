"""Index keys and lines: SURT keys, CDX timestamps, CDXJ lines and the Capture they parse into.

docs/index-format.md describes the line format.  Scrapy-free.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import surt

# Records a reader can replay or cite as a capture; metadata records are indexed too (as
# cdxj-indexer does) so that their title and text can be joined to the capture they describe.
CAPTURE_TYPES = ("response", "revisit", "resource")
INDEXED_TYPES = (*CAPTURE_TYPES, "metadata")
_DIGITS = re.compile(r"\d")


def surt_key(url: str) -> str:
    """The SURT sort key of a URL (scheme and www. dropped, host reversed, query sorted)."""
    try:
        key = str(surt.surt(url))
    except Exception:
        # surt gives up on a few malformed URLs; the URL itself still sorts and matches exactly.
        return url.strip().lower()
    return key


def timestamp14(warc_date: str) -> str:
    """The 14-digit CDX timestamp (YYYYMMDDhhmmss, UTC) of a WARC-Date value."""
    digits = "".join(_DIGITS.findall(warc_date))
    if len(digits) < 14:
        raise ValueError(f"not a WARC date with seconds: {warc_date!r}")
    return digits[:14]


def timestamp_bound(value: str, *, upper: bool) -> str:
    """A 14-digit bound from a date or timestamp prefix: 2024-05 -> 20240501000000 or ...99."""
    digits = "".join(_DIGITS.findall(value))
    if not digits or len(digits) > 14 or len(digits) < 4:
        raise ValueError(f"expected a date or timestamp (YYYY[-MM[-DD[Thh:mm:ss]]]), got {value!r}")
    if upper:
        return digits + "9" * (14 - len(digits))
    # A lower bound of "2024" means its first month and day, not month 00.
    pad = "00000101000000"[len(digits) :] if len(digits) < 8 else "0" * (14 - len(digits))
    return digits + pad


def timestamp_datetime(ts: str) -> datetime:
    """The aware UTC datetime of a 14-digit timestamp."""
    return datetime.strptime(ts[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def cdxj_line(key: str, timestamp: str, fields: Mapping[str, Any]) -> str:
    """One CDXJ line, "{surt} {timestamp} {json}\\n"; JSON as cdxj-indexer writes it (ASCII)."""
    if " " in key or "\n" in key:
        raise ValueError(f"an index key cannot hold spaces or newlines: {key!r}")
    return f"{key} {timestamp} {json.dumps(dict(fields))}\n"


@dataclass(frozen=True)
class Capture:
    """One index line: sort key, timestamp and the JSON fields."""

    key: str
    timestamp: str
    fields: dict[str, Any]

    @classmethod
    def parse(cls, line: str) -> Capture:
        """Parse "{surt} {timestamp} {json}"; ValueError when the line is not CDXJ."""
        key, sep1, rest = line.rstrip("\n").partition(" ")
        timestamp, sep2, doc = rest.partition(" ")
        if not (sep1 and sep2 and doc.startswith("{")):
            raise ValueError(f"not a CDXJ line: {line[:200]!r}")
        fields = json.loads(doc)
        if not isinstance(fields, dict):
            raise ValueError(f"not a CDXJ line: {line[:200]!r}")
        return cls(key, timestamp, fields)

    @property
    def line(self) -> str:
        """The CDXJ line, newline included."""
        return cdxj_line(self.key, self.timestamp, self.fields)

    def get(self, name: str) -> str | None:
        """A field as text, None when absent."""
        value = self.fields.get(name)
        return None if value is None else str(value)

    def number(self, name: str) -> int | None:
        """A numeric field (stored as text, as cdxj-indexer does), None when absent."""
        value = self.fields.get(name)
        return None if value in (None, "", "-") else int(value)

    @property
    def url(self) -> str:
        """The captured URL."""
        return str(self.fields.get("url", ""))

    @property
    def filename(self) -> str:
        """The WARC holding the record (a name, or a path relative to the storage prefix)."""
        return str(self.fields.get("filename", ""))

    @property
    def offset(self) -> int:
        """Offset of the record's gzip member in its WARC."""
        return self.number("offset") or 0

    @property
    def length(self) -> int:
        """Length of the record's gzip member."""
        return self.number("length") or 0

    @property
    def is_capture(self) -> bool:
        """True for a response, revisit or resource record (not a metadata record)."""
        return self.fields.get("type", "response") in CAPTURE_TYPES

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready view with the timestamp and key."""
        return {"urlkey": self.key, "timestamp": self.timestamp, **self.fields}
