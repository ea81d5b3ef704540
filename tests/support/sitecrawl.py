"""One site in a sites file, crawled by name: the incremental, resume and `archiver crawl` tests."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator

PREFIX = "inc"
SITE = "sample"


def write_sites(path: Path, site_url: str, recrawl: str = "") -> Path:
    """A sites file with the one sample site, and recrawl keys as given."""
    path.write_text(
        f'[sites.{SITE}]\nstart_urls = ["{site_url}/"]\n[sites.{SITE}.recrawl]\n{recrawl}\n',
        encoding="utf-8",
    )
    return path


def read_records(data: bytes, name: str) -> list[dict[str, Any]]:
    """Every record of a WARC, with the headers the tests look at and its payload."""
    out = []
    for record in ArchiveIterator(BytesIO(data)):
        headers = record.rec_headers
        http = record.http_headers
        out.append(
            {
                "file": name,
                "type": record.rec_type,
                "id": headers.get_header("WARC-Record-ID"),
                "uri": headers.get_header("WARC-Target-URI"),
                "date": headers.get_header("WARC-Date"),
                "status": int(http.get_statuscode())
                if http and record.rec_type != "request"
                else None,
                "payload_digest": headers.get_header("WARC-Payload-Digest"),
                "profile": headers.get_header("WARC-Profile"),
                "refers_to": headers.get_header("WARC-Refers-To"),
                "refers_to_uri": headers.get_header("WARC-Refers-To-Target-URI"),
                "refers_to_date": headers.get_header("WARC-Refers-To-Date"),
                "payload": record.raw_stream.read(),
            }
        )
    return out
