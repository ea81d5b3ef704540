"""Slices of a site between two dates: the captures chosen through the archive-wide index (with
the originals their revisits need), and their records copied out of the stored WARCs with
coalesced Range reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from archiver.access.records import (
    COALESCE_GAP,
    capture_location,
    parse_response,
    read_capture,
    warc_key,
)
from archiver.discovery import MAX_CSS_DEPTH, css_requisites, html_requisites
from archiver.index import (
    ArchiveIndex,
    Capture,
    iter_crawl_lines,
    key_range,
    relative_path,
    sidecar_name,
    timestamp_bound,
)
from archiver.storage import READ_BLOCK

HTML_TYPES = ("text/html", "application/xhtml+xml")
CSS_TYPES = ("text/css",)


@dataclass(frozen=True)
class Span:
    """Bytes [offset, offset+length) of one stored WARC (a path relative to the prefix)."""

    filename: str
    offset: int
    length: int

    @property
    def end(self) -> int:
        """The offset just past the span."""
        return self.offset + self.length


@dataclass
class Slice:
    """A site's captures between two dates, from the archive-wide index, and what replay needs.

    captures are the response, revisit and resource records in the window; originals are the
    responses outside it that revisits in it refer to (a revisit replays from its original);
    missing are revisits whose original the index does not hold.
    """

    site: str
    since: str
    until: str
    captures: list[Capture] = field(default_factory=list)
    originals: list[Capture] = field(default_factory=list)
    missing: list[Capture] = field(default_factory=list)
    # Page URL -> URLs of the slice's captures its HTML references (add_page_needs).
    needs: dict[str, set[str]] = field(default_factory=dict)

    def spans(self) -> list[Span]:
        """Every record to copy: each capture with its request (when beside it) and metadata."""
        spans: set[Span] = set()
        for capture in [*self.captures, *self.originals]:
            start = capture.offset
            req = capture.number("req_offset")
            if req is not None and req < start:
                start = req
            spans.add(Span(capture.filename, start, capture.offset + capture.length - start))
        for capture in self.captures:
            offset, length = capture.number("meta_offset"), capture.number("meta_length")
            if offset is not None and length is not None:
                filename = capture.get("meta_filename") or capture.filename
                spans.add(Span(filename, offset, length))
        return sorted(spans, key=lambda s: (s.filename, s.offset, s.length))

    def files(self) -> list[str]:
        """The stored WARCs holding a record of the slice, in path order."""
        return sorted({s.filename for s in self.spans()})


def select_slice(
    index: ArchiveIndex, site: str, since: str, until: str, *, with_requisites: bool = True
) -> Slice:
    """Captures of a host or domain (subdomains too) between two dates, via the archive index.

    With `with_requisites`, also the captures of other hosts (CDNs) its pages needed
    (:func:`add_requisites`).
    """
    low = timestamp_bound(since, upper=False)
    high = timestamp_bound(until, upper=True)
    if low > high:
        raise ValueError(f"--from {since} is after --to {until}")
    found = Slice(site, since, until)
    originals: dict[tuple[str, int], Capture] = {}
    key: str | None = None
    # Per URL (lines come sorted by key, then time): its latest non-revisit per payload digest.
    latest: dict[str, Capture] = {}
    for capture in index.query(key_range(site, "domain")):
        if not capture.is_capture:
            continue
        if capture.key != key:
            key, latest = capture.key, {}
        digest = capture.get("digest") or ""
        revisit = capture.fields.get("type") == "revisit"
        if low <= capture.timestamp <= high:
            found.captures.append(capture)
            if revisit:
                original = latest.get(digest)
                if original is None:
                    found.missing.append(capture)
                elif original.timestamp < low:
                    originals[(original.filename, original.offset)] = original
        if not revisit and digest:
            latest[digest] = capture
    found.originals = sorted(originals.values(), key=lambda c: c.line)
    if with_requisites:
        add_requisites(index, found)
        add_page_needs(index, found)
    return found


def _crawls_of(captures: Sequence[Capture]) -> list[tuple[str, str]]:
    """(crawl date, crawl id) of each crawl holding one of the captures."""
    crawls = set()
    for capture in captures:
        parts = capture.filename.split("/")
        if len(parts) >= 3:
            crawls.add((parts[0], parts[1]))
    return sorted(crawls)


def _sidecars(index: ArchiveIndex, crawl_date: str, crawl_id: str) -> list[tuple[str, Any]]:
    """(relative WARC path, stored index lines) of each WARC of a crawl that has its sidecar."""
    manifest = index.read_manifest(crawl_date, crawl_id) or {}
    found = []
    for entry in manifest.get("files", []):
        name = str(entry.get("name") or "")
        if not name.endswith(".warc.gz"):
            continue
        lines = index.stream_lines(index.crawl_key(crawl_date, crawl_id, sidecar_name(name)))
        if lines is not None:
            found.append((relative_path(crawl_date, crawl_id, name), lines))
    return found


def add_requisites(index: ArchiveIndex, found: Slice) -> None:
    """Add the captures of other hosts (CDNs) that the slice's pages needed.

    A requisite's index line names the page it was fetched for ("page", from the
    WARC-Requisite-Of of its request record); the pages' crawls' index sidecars are read
    (one GET each) for the lines naming a page of the slice.  A revisit among them brings
    its original, looked up by URL, or is listed as missing.
    """
    pages = {c.url for c in found.captures}
    have = {(c.filename, c.offset) for c in found.captures}
    added: list[Capture] = []
    for crawl_date, crawl_id in _crawls_of(found.captures):
        for line in iter_crawl_lines(_sidecars(index, crawl_date, crawl_id)):
            if '"page"' not in line:
                continue
            capture = Capture.parse(line)
            if not capture.is_capture or capture.get("page") not in pages:
                continue
            if (capture.filename, capture.offset) not in have:
                have.add((capture.filename, capture.offset))
                added.append(capture)
    add_captures(index, found, added)


def add_captures(index: ArchiveIndex, found: Slice, added: list[Capture]) -> None:
    """Add captures to the slice; a revisit among them brings its original (the latest
    earlier response with its payload digest), or is listed as missing."""
    have = {(c.filename, c.offset) for c in found.captures}
    originals = {(c.filename, c.offset): c for c in found.originals}
    for capture in added:
        found.captures.append(capture)
        if capture.fields.get("type") != "revisit":
            continue
        digest = capture.get("digest")
        earlier = [
            c
            for c in index.query(key_range(capture.url))
            if c.is_capture
            and c.fields.get("type") != "revisit"
            and c.get("digest") == digest
            and c.timestamp <= capture.timestamp
        ]
        if not earlier:
            found.missing.append(capture)
        elif (earlier[-1].filename, earlier[-1].offset) not in have:
            originals[(earlier[-1].filename, earlier[-1].offset)] = earlier[-1]
    found.originals = sorted(originals.values(), key=lambda c: c.line)


def _is_ok(capture: Capture, *types: str) -> bool:
    """A 2xx response (not a revisit) whose media type is one of `types`."""
    mime = (capture.get("mime") or "").split(";")[0].strip().lower()
    return (
        capture.fields.get("type", "response") == "response"
        and str(capture.get("status") or "").startswith("2")
        and mime in types
    )


def _referenced(index: ArchiveIndex, capture: Capture) -> list[str]:
    """The URLs an HTML page or a stylesheet references (stylesheets, images, fonts,
    scripts; url() and @import); none when its record cannot be read."""
    try:
        body = parse_response(read_capture(index, capture), capture_location(capture)).body
    except ValueError:
        return []
    if _is_ok(capture, *CSS_TYPES):
        return [r.url for r in css_requisites(body, capture.url).requisites]
    return [r.url for r in html_requisites(body, capture.url).requisites]


def _nearest(captures: list[Capture], timestamp: str) -> Capture | None:
    """The capture at or before `timestamp`, else the first after it."""
    before = [c for c in captures if c.timestamp <= timestamp]
    return before[-1] if before else (captures[0] if captures else None)


def _html_pages(found: Slice) -> Iterator[tuple[Capture, Capture]]:
    """Each HTML page of the slice and the response holding its payload: itself, or for a
    revisit (a page unchanged since an earlier crawl) the original it replays from."""
    responses = {
        (c.url, c.get("digest")): c
        for c in [*found.originals, *found.captures]
        if _is_ok(c, *HTML_TYPES)
    }
    for capture in found.captures:
        if _is_ok(capture, *HTML_TYPES):
            yield capture, capture
        elif capture.fields.get("type") == "revisit":
            original = responses.get((capture.url, capture.get("digest")))
            if original is not None:
                yield capture, original


def add_page_needs(index: ArchiveIndex, found: Slice) -> None:
    """Add what the slice's pages reference and the archive holds, wherever it was fetched.

    A crawl asks for each URL once, for the first page that links it, so a site's
    stylesheet or logo is that page's requisite alone (its index line names that page);
    the other pages need it as much, and a slice may leave that first page out. Each 2xx
    HTML page of the slice (a revisit's original) is read (one Range request each) and
    what it references is looked up in the index, then what the stylesheets found so
    reference (MAX_CSS_DEPTH deep); the capture nearest the page's time joins the slice, with its original when it
    is a revisit. `found.needs` records, per page, the URLs it references that the slice
    now holds (pages.jsonl lists them).
    """
    held = {c.url for c in found.captures}
    runs = index.runs()
    looked: dict[str, Capture | None] = {}
    read: dict[tuple[str, int], list[str]] = {}  # each record is read once
    added: list[Capture] = []
    for page, source in _html_pages(found):
        needs = found.needs.setdefault(page.url, set())
        queue, seen, depth = [source], set(), 0
        while queue and depth <= MAX_CSS_DEPTH:
            stylesheets = []
            for source in queue:
                where = (source.filename, source.offset)
                if where not in read:
                    read[where] = _referenced(index, source)
                for url in read[where]:
                    if url not in looked:
                        listed = [c for c in index.query(key_range(url), runs) if c.is_capture]
                        looked[url] = _nearest(listed, page.timestamp)
                    capture = looked[url]
                    if capture is None:
                        continue
                    needs.add(url)
                    if capture.url not in held:
                        held.add(capture.url)
                        added.append(capture)
                    at = (capture.filename, capture.offset)
                    if _is_ok(capture, *CSS_TYPES) and at not in seen:
                        seen.add(at)
                        stylesheets.append(capture)
            queue, depth = stylesheets, depth + 1
    add_captures(index, found, added)


def _groups(spans: Sequence[Span], gap: int) -> Iterator[list[Span]]:
    """Spans of one file, in order, cut into groups that one Range request covers."""
    group: list[Span] = []
    for span in spans:
        if group and (span.filename != group[-1].filename or span.offset > group[-1].end + gap):
            yield group
            group = []
        group.append(span)
    if group:
        yield group


def copy_spans(
    index: ArchiveIndex,
    spans: Sequence[Span],
    out: IO[bytes],
    *,
    gap: int = COALESCE_GAP,
    advance: Callable[[int], None] | None = None,
) -> list[tuple[Span, int]]:
    """Copy the spans of one stored WARC into out, streaming; returns (span, offset in out).

    Spans closer than `gap` are read with one Range request and the bytes between dropped;
    overlapping spans are copied once. Each span must be whole gzip members.
    """
    placed: list[tuple[Span, int]] = []
    ordered = sorted(spans, key=lambda s: (s.filename, s.offset, -s.length))
    merged: list[Span] = []
    for span in ordered:
        if merged and span.filename == merged[-1].filename and span.offset < merged[-1].end:
            last = merged[-1]
            merged[-1] = Span(last.filename, last.offset, max(last.end, span.end) - last.offset)
        else:
            merged.append(span)
    for group in _groups(merged, gap):
        start, end = group[0].offset, group[-1].end
        response = index.client.get_object(
            Bucket=index.bucket,
            Key=warc_key(index, group[0].filename),
            Range=f"bytes={start}-{end - 1}",
        )
        index.requests += 1
        index.bytes_read += end - start
        body = response["Body"]
        position = start
        for span in group:
            _skip(body, span.offset - position)
            placed.append((span, out.tell()))
            remaining = span.length
            first = True
            while remaining:
                chunk = body.read(min(READ_BLOCK, remaining))
                if not chunk:
                    raise ValueError(f"{span.filename}: the object ends before {span.end}")
                if first and chunk[:2] != b"\x1f\x8b":
                    raise ValueError(
                        f"{span.filename}@{span.offset}: not a gzip member (is the index stale?)"
                    )
                first = False
                out.write(chunk)
                remaining -= len(chunk)
            position = span.end
            if advance is not None:
                advance(span.length)
        body.close()
    return placed


def _skip(body: Any, count: int) -> None:
    while count > 0:
        chunk = body.read(min(READ_BLOCK, count))
        if not chunk:
            raise ValueError("the object ended inside a range")
        count -= len(chunk)
