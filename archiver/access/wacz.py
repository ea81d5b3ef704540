"""WACZ 1.1.1 packages of stored crawls, or of a site's captures between two dates.

A crawl goes in whole (its WARCs as stored); a slice is cut from the stored WARCs with
Range reads, record by record (export_slice). Either way the package has a CDXJ index and
pages.jsonl with titles and text.

Layout (https://specs.webrecorder.net/wacz/1.1.1/): archive/*.warc.gz and
indexes/index.cdx.gz stored uncompressed in the zip (both are read with range requests),
indexes/index.idx (the secondary index of index.cdx.gz), pages/pages.jsonl,
datapackage.json with the SHA-256 of every file, and datapackage-digest.json.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from warcio.archiveiterator import ArchiveIterator
from warcio.warcwriter import WARCWriter

from archiver import SOFTWARE
from archiver.access.crawls import StoredCrawl
from archiver.access.extract import HTML_TYPES
from archiver.access.slices import Slice, copy_spans
from archiver.access.transfer import download
from archiver.index import (
    BLOCK_LINES,
    ArchiveIndex,
    Capture,
    crawl_lines,
    gzip_block,
    index_file,
    sidecar_name,
    timestamp_datetime,
)
from archiver.storage import READ_BLOCK
from archiver.warc import build_warcinfo_record

logger = logging.getLogger(__name__)

WACZ_VERSION = "1.1.1"
PAGES_HEADER = {"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}
_NAME_UNSAFE = re.compile(r"[^a-z0-9._/-]")


@dataclass
class WaczReport:
    """What went into a WACZ file."""

    path: Path
    warcs: list[str] = field(default_factory=list)
    captures: int = 0
    pages: int = 0
    size: int = 0
    sha256: str = ""
    originals: int = 0
    missing_originals: list[str] = field(default_factory=list)
    requests: int = 0

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary for `archiver export-wacz --json`."""
        return {
            "path": str(self.path),
            "warcs": self.warcs,
            "captures": self.captures,
            "pages": self.pages,
            "bytes": self.size,
            "sha256": self.sha256,
            "revisit_originals": self.originals,
            "missing_originals": self.missing_originals,
            "requests": self.requests,
        }


def iso_timestamp(ts: str) -> str:
    """ISO 8601 UTC of a 14-digit timestamp, as pages.jsonl wants it."""
    return timestamp_datetime(ts).strftime("%Y-%m-%dT%H:%M:%SZ")


def page_entry(
    capture: Capture, article: dict[str, Any] | None, requisites: Sequence[str] = ()
) -> dict[str, Any]:
    """One pages.jsonl line for a capture (with the title and text of its article, if any).

    `requisites` are the URLs of the requisites archived for the page (docs/warc.md).
    """
    entry: dict[str, Any] = {
        "id": hashlib.sha1(
            f"{capture.filename}:{capture.offset}".encode(), usedforsecurity=False
        ).hexdigest()[:24],
        "url": capture.url,
        "ts": iso_timestamp(capture.timestamp),
    }
    title = (article or {}).get("title") or capture.get("title")
    if title:
        entry["title"] = str(title)
    if article and article.get("body"):
        entry["text"] = str(article["body"])
    if requisites:
        entry["requisites"] = sorted(set(requisites))
    return entry


def is_page(capture: Capture) -> bool:
    """A 2xx HTML capture that is no page's requisite: what a reader would open as a page."""
    status = capture.get("status") or ""
    return (
        capture.is_capture
        and status.startswith("2")
        and capture.get("mime") in HTML_TYPES
        and not capture.get("page")
    )


def _articles(path: Path) -> dict[int, dict[str, Any]]:
    """Metadata documents of a local WARC by their offset."""
    found: dict[int, dict[str, Any]] = {}
    with open(path, "rb") as fh:
        iterator = ArchiveIterator(fh)
        for record in iterator:
            if record.rec_type != "metadata":
                continue
            payload = record.content_stream().read()
            offset = iterator.get_record_offset()
            try:
                doc = json.loads(payload)
            except ValueError:
                continue
            if isinstance(doc, dict):
                found[offset] = doc
    return found


def write_compressed_index(
    lines: Sequence[str], zf: zipfile.ZipFile, block_lines: int = BLOCK_LINES
) -> tuple[bytes, bytes]:
    """indexes/index.cdx.gz (gzip blocks) and its index.idx, the cdxj-gzip-1.0 layout."""
    data = io.BytesIO()
    idx = ["!meta 0 " + json.dumps({"format": "cdxj-gzip-1.0", "filename": "index.cdx.gz"}) + "\n"]
    for start in range(0, len(lines), block_lines):
        block = lines[start : start + block_lines]
        compressed = gzip_block(block)
        key, ts, _ = block[0].split(" ", 2)
        idx.append(
            f"{key} {ts} " + json.dumps({"offset": data.tell(), "length": len(compressed)}) + "\n"
        )
        data.write(compressed)
    return data.getvalue(), "".join(idx).encode("utf-8")


def _removing_part(out: Path, build: Callable[[Path], WaczReport]) -> WaczReport:
    """Build into `out`.part, renamed by _seal; a failed build leaves no .part behind."""
    tmp_out = out.with_name(out.name + ".part")
    try:
        return build(tmp_out)
    except BaseException:
        tmp_out.unlink(missing_ok=True)
        raise


def export_wacz(
    index: ArchiveIndex,
    crawls: Sequence[StoredCrawl],
    out: Path,
    *,
    title: str = "",
    advance: Callable[[int], None] | None = None,
) -> WaczReport:
    """Package the WARCs of stored crawls, their index and pages into one WACZ file."""
    return _removing_part(
        out, lambda tmp_out: _export_wacz(index, crawls, out, tmp_out, title, advance)
    )


def _export_wacz(
    index: ArchiveIndex,
    crawls: Sequence[StoredCrawl],
    out: Path,
    tmp_out: Path,
    title: str,
    advance: Callable[[int], None] | None,
) -> WaczReport:
    report = WaczReport(out)
    resources: list[dict[str, Any]] = []
    sidecars: list[tuple[str, Iterable[str]]] = []
    articles: dict[tuple[str, int], dict[str, Any]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="archiver-wacz-") as tmp,
        zipfile.ZipFile(tmp_out, "w", zipfile.ZIP_STORED, allowZip64=True) as zf,
    ):
        for crawl in crawls:
            for entry in crawl.files:
                name = str(entry["name"])
                local = Path(tmp) / name
                with open(local, "wb") as fh:
                    size, sha256 = download(
                        index, index.crawl_key(crawl.date, crawl.crawl_id, name), fh, advance
                    )
                if entry.get("sha256") and entry["sha256"] != sha256:
                    raise ValueError(f"{name}: stored file differs from its manifest (sha256)")
                raw = index.get_optional(
                    index.crawl_key(crawl.date, crawl.crawl_id, sidecar_name(name))
                )
                if raw is None:
                    lines = [c.line for c in index_file(local)]
                else:
                    lines = raw.decode("utf-8").splitlines(keepends=True)
                sidecars.append((name, lines))
                for offset, doc in _articles(local).items():
                    articles[(name, offset)] = doc
                zf.write(local, f"archive/{name}", compress_type=zipfile.ZIP_STORED)
                resources.append(_resource(f"archive/{name}", size, sha256))
                report.warcs.append(name)
                local.unlink()
        _finish(
            zf,
            report,
            resources,
            sidecars,
            articles,
            title=title or ", ".join(c.crawl_id for c in crawls),
            description="Exported by news-archiver from: " + ", ".join(c.crawl_id for c in crawls),
        )
    return _seal(tmp_out, report)


def export_slice(
    index: ArchiveIndex,
    chosen: Slice,
    out: Path,
    *,
    title: str = "",
    advance: Callable[[int], None] | None = None,
) -> WaczReport:
    """Package the records of a slice, cut from the stored WARCs with Range reads, as WACZ.

    One WARC per stored WARC the slice touches, named like it: a warcinfo record saying
    what it was cut from, then the slice's records in their stored order, each gzip member
    copied byte for byte (record ids and digests stay citable). The index is built from the
    WARCs written, and checked to hold every record the archive index pointed at.
    """
    return _removing_part(
        out, lambda tmp_out: _export_slice(index, chosen, out, tmp_out, title, advance)
    )


def _export_slice(
    index: ArchiveIndex,
    chosen: Slice,
    out: Path,
    tmp_out: Path,
    title: str,
    advance: Callable[[int], None] | None,
) -> WaczReport:
    report = WaczReport(out)
    report.originals = len(chosen.originals)
    report.missing_originals = [c.url for c in chosen.missing]
    resources: list[dict[str, Any]] = []
    sidecars: list[tuple[str, Iterable[str]]] = []
    articles: dict[tuple[str, int], dict[str, Any]] = {}
    wanted = {str(c.get("record_id")) for c in [*chosen.captures, *chosen.originals]}
    in_window = {str(c.get("record_id")) for c in chosen.captures}
    names = _output_names(chosen.files())
    spans = chosen.spans()
    written: set[str] = set()
    requests_before = index.requests
    with (
        tempfile.TemporaryDirectory(prefix="archiver-wacz-") as tmp,
        zipfile.ZipFile(tmp_out, "w", zipfile.ZIP_STORED, allowZip64=True) as zf,
    ):
        for source, name in names.items():
            local = Path(tmp) / name
            with open(local, "wb") as fh:
                _write_warcinfo(fh, name, source, chosen)
                copy_spans(index, [s for s in spans if s.filename == source], fh, advance=advance)
            lines = [c.line for c in index_file(local)]
            written.update(str(Capture.parse(line).get("record_id")) for line in lines)
            sidecars.append((name, lines))
            for offset, doc in _articles(local).items():
                articles[(name, offset)] = doc
            size, sha256 = _file_digest(local)
            zf.write(local, f"archive/{name}", compress_type=zipfile.ZIP_STORED)
            resources.append(_resource(f"archive/{name}", size, sha256))
            report.warcs.append(name)
            local.unlink()
        lost = wanted - written
        if lost:
            raise ValueError(
                f"{len(lost)} record(s) the archive index names were not at their offsets "
                f"(e.g. {sorted(lost)[0]}): run `archiver verify` and `archiver reindex`"
            )
        crawls = sorted({c.filename.split("/")[1] for c in chosen.captures if "/" in c.filename})
        _finish(
            zf,
            report,
            resources,
            sidecars,
            articles,
            title=title or f"{chosen.site} {chosen.since} to {chosen.until}",
            description=(
                f"Captures of {chosen.site} from {chosen.since} to {chosen.until}, cut by "
                f"news-archiver from the WARCs of: {', '.join(crawls)}"
            ),
            pages_of=lambda c: str(c.get("record_id")) in in_window,
            needs=chosen.needs,
        )
    report.requests = index.requests - requests_before
    return _seal(tmp_out, report)


def _output_names(files: Sequence[str]) -> dict[str, str]:
    """A WARC name in the WACZ for each stored WARC: its own, the crawl id added on a clash."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for path in files:
        parts = path.split("/")
        name = parts[-1]
        if name in taken and len(parts) >= 2:
            name = f"{parts[-2]}-{name}"
        taken.add(name)
        names[path] = name
    return names


def _write_warcinfo(fh: IO[bytes], name: str, source: str, chosen: Slice) -> None:
    record = build_warcinfo_record(
        name,
        {
            "software": SOFTWARE,
            "format": "WARC File Format 1.1",
            "description": (
                f"Records of {chosen.site} from {chosen.since} to {chosen.until}, copied "
                f"unchanged from {source} (path under the archive's storage prefix)"
            ),
            "isPartOf": source.split("/")[1] if source.count("/") >= 2 else source,
        },
        date=datetime.now(UTC),
    )
    WARCWriter(fh, gzip=True).write_record(record)


def _file_digest(path: Path) -> tuple[int, str]:
    sha = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(READ_BLOCK):
            sha.update(chunk)
            size += len(chunk)
    return size, sha.hexdigest()


def _finish(
    zf: zipfile.ZipFile,
    report: WaczReport,
    resources: list[dict[str, Any]],
    sidecars: Sequence[tuple[str, Iterable[str]]],
    articles: dict[tuple[str, int], dict[str, Any]],
    *,
    title: str,
    description: str,
    pages_of: Callable[[Capture], bool] | None = None,
    needs: dict[str, set[str]] | None = None,
) -> list[Capture]:
    """Write the index, pages.jsonl and datapackage files once the WARCs are in the zip."""
    captures = crawl_lines(sidecars)
    report.captures = len(captures)
    lines = [c.line for c in captures]
    cdx, idx = write_compressed_index(lines, zf)
    resources.append(_write(zf, "indexes/index.cdx.gz", cdx, zipfile.ZIP_STORED))
    resources.append(_write(zf, "indexes/index.idx", idx, zipfile.ZIP_DEFLATED))
    pages = [json.dumps(PAGES_HEADER)]
    requisites: dict[str, list[str]] = {}
    for capture in captures:
        page = capture.get("page")
        if page and capture.is_capture:
            requisites.setdefault(page, []).append(capture.url)
    for page, urls in (needs or {}).items():
        requisites.setdefault(page, []).extend(urls)
    for capture in captures:
        if not is_page(capture) or (pages_of is not None and not pages_of(capture)):
            continue
        meta_offset = capture.number("meta_offset")
        meta_file = capture.get("meta_filename") or capture.filename
        article = articles.get((meta_file, meta_offset)) if meta_offset is not None else None
        entry = page_entry(capture, article, requisites.get(capture.url, ()))
        pages.append(json.dumps(entry, ensure_ascii=False))
        report.pages += 1
    pages_bytes = ("\n".join(pages) + "\n").encode("utf-8")
    resources.append(_write(zf, "pages/pages.jsonl", pages_bytes, zipfile.ZIP_DEFLATED))
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    package = {
        "profile": "data-package",
        "wacz_version": WACZ_VERSION,
        "title": title,
        "description": description,
        "created": now,
        "modified": now,
        "software": SOFTWARE,
        "resources": resources,
    }
    package_bytes = json.dumps(package, indent=2).encode("utf-8")
    _write(zf, "datapackage.json", package_bytes, zipfile.ZIP_DEFLATED)
    digest = {
        "path": "datapackage.json",
        "hash": "sha256:" + hashlib.sha256(package_bytes).hexdigest(),
    }
    _write(zf, "datapackage-digest.json", json.dumps(digest).encode(), zipfile.ZIP_DEFLATED)
    return captures


def _seal(tmp_out: Path, report: WaczReport) -> WaczReport:
    """Move the finished zip into place; its size and SHA-256 go into the report."""
    out = report.path
    tmp_out.replace(out)
    whole = hashlib.sha256()
    with open(out, "rb") as fh:
        while chunk := fh.read(READ_BLOCK):
            whole.update(chunk)
    report.size = out.stat().st_size
    report.sha256 = whole.hexdigest()
    logger.info(
        "event=wacz_written path=%s warcs=%d captures=%d pages=%d bytes=%d",
        out,
        len(report.warcs),
        report.captures,
        report.pages,
        report.size,
    )
    return report


def _resource(path: str, size: int, sha256: str) -> dict[str, Any]:
    # frictionless wants lower-case resource names of [a-z0-9._/-].
    name = _NAME_UNSAFE.sub("-", Path(path).name.lower())
    return {"name": name, "path": path, "hash": f"sha256:{sha256}", "bytes": size}


def _write(zf: zipfile.ZipFile, path: str, data: bytes, compress_type: int) -> dict[str, Any]:
    info = zipfile.ZipInfo(path, date_time=datetime.now(UTC).timetuple()[:6])
    info.compress_type = compress_type
    zf.writestr(info, data)
    return _resource(path, len(data), hashlib.sha256(data).hexdigest())
