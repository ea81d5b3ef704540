"""What a researcher cites for one capture: the fields, a BibTeX entry and CSL-JSON.

The capture is named by where it lives (WARC file key, offset, length, WARC-Record-ID and
payload digest), so a citation leads back to the exact bytes archived.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from archiver.search import Hit


def pywb_timestamp(captured: str) -> str:
    """A capture time (ISO 8601) as the 14 digits pywb and CDXJ use: 20260105093000."""
    digits = re.sub(r"\D", "", captured)[:14]
    return digits.ljust(14, "0")


def _date_parts(value: str | None) -> list[int] | None:
    """[year, month, day] (as many as the text gives) of an ISO 8601 date, None if none."""
    if not value:
        return None
    match = re.match(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?", value)
    if match is None:
        return None
    return [int(part) for part in match.groups() if part]


def citation_fields(hit: Hit) -> list[tuple[str, str]]:
    """The citation block's rows, in the order the article page shows them."""
    return [
        ("Archived URL", hit.url),
        ("Capture time", hit.captured),
        ("WARC file", hit.warc_key),
        ("Offset", str(hit.warc_offset)),
        ("Length", str(hit.warc_length)),
        ("WARC-Record-ID", hit.record_id),
        ("Payload digest", hit.payload_digest or ""),
    ]


def citation_key(hit: Hit) -> str:
    """A BibTeX key: site and capture time, letters and digits only."""
    site = re.sub(r"[^A-Za-z0-9]", "", hit.site) or "archived"
    return f"{site}{pywb_timestamp(hit.captured)}"


_BIBTEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def bibtex_escape(text: str) -> str:
    """Text safe inside a BibTeX field's braces (LaTeX specials escaped, one line)."""
    text = " ".join(text.split())
    return "".join(_BIBTEX_SPECIAL.get(ch, ch) for ch in text)


def bibtex(hit: Hit) -> str:
    """A @misc BibTeX entry for the capture (the URL in \\url{}, the WARC location in note)."""
    fields: list[tuple[str, str]] = [("title", bibtex_escape(hit.title or hit.url))]
    if hit.authors:
        fields.append(("author", " and ".join(bibtex_escape(a) for a in hit.authors)))
    parts = _date_parts(hit.published) or _date_parts(hit.captured) or []
    if parts:
        fields.append(("year", str(parts[0])))
    if len(parts) > 1:
        fields.append(("month", str(parts[1])))
    fields.append(("howpublished", "\\url{" + hit.url.replace("}", "%7D") + "}"))
    fields.append(("urldate", hit.captured[:10]))
    fields.append(("organization", bibtex_escape(hit.site)))
    note = (
        f"Archived capture of {hit.captured}; WARC-Record-ID {hit.record_id}; "
        f"{hit.warc_key} at offset {hit.warc_offset}, length {hit.warc_length}"
    )
    if hit.payload_digest:
        note += f"; payload digest {hit.payload_digest}"
    fields.append(("note", bibtex_escape(note)))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@misc{{{citation_key(hit)},\n{body}\n}}\n"


def csl_json(hit: Hit) -> list[dict[str, Any]]:
    """The capture as CSL-JSON (a list of one item), for Zotero, Pandoc and citeproc."""
    item: dict[str, Any] = {
        "id": citation_key(hit),
        "type": "article-newspaper",
        "title": hit.title or hit.url,
        "container-title": hit.site,
        "URL": hit.url,
        "archive": "news-archiver",
        "archive_location": f"{hit.warc_key}@{hit.warc_offset}+{hit.warc_length}",
        "note": f"WARC-Record-ID: {hit.record_id}"
        + (f"; payload digest: {hit.payload_digest}" if hit.payload_digest else ""),
    }
    if hit.authors:
        item["author"] = [{"literal": name} for name in hit.authors]
    issued = _date_parts(hit.published)
    if issued:
        item["issued"] = {"date-parts": [issued]}
    accessed = _date_parts(hit.captured)
    if accessed:
        item["accessed"] = {"date-parts": [accessed]}
    if hit.language:
        item["language"] = hit.language
    return [item]


def captured_label(captured: str) -> str:
    """A capture time for people: 2026-01-05 09:30 UTC."""
    try:
        moment = datetime.fromisoformat(captured.replace("Z", "+00:00"))
    except ValueError:
        return captured
    return moment.strftime("%Y-%m-%d %H:%M UTC")
