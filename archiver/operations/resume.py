"""Resuming a site's crawl: what its earlier processes archived, and replaying it.

A crawl stopped cleanly keeps Scrapy's queue in its JOBDIR; a crawl that was killed
does not (Scrapy writes it only when it closes).  Either way, the crawl's own journal
(archiver.operations.sitedir.CrawlJournal) and its WARC files say exactly what was archived.  A
resumed crawl walks the site again from its start URLs, and every URL it had already
archived is answered from its own records instead of the network: the spider sees the
same pages and finds the same links, nothing is archived twice, and what the killed
process had queued but not fetched is found again and fetched.  Scrapy-free.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

from warcio.archiveiterator import ArchiveIterator

from archiver.operations.history import PayloadRef
from archiver.operations.sitedir import CrawlJournal, read_json_lines, truncate_torn_line
from archiver.spool import CrawlDir, Writer, writer_state
from archiver.storage import S3Config, object_key
from archiver.warc import OPEN_SUFFIX, WARC_SUFFIX, ClosedWarc, parse_warc_date, recover_open_file

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)

# Answers that are worth asking for again rather than replaying: the server was in trouble.
_NOT_REPLAYED = frozenset({429})


@dataclass
class ResumeState:
    """What the earlier processes of a crawl archived, read back when it resumes."""

    # URL -> its last capture event, for the URLs answered from the archive.
    captures: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Response record id -> id of the metadata record written for it.
    metadata: dict[str, str] = field(default_factory=dict)
    # Response record ids whose item line is in items.jsonl already.
    items_done: set[str] = field(default_factory=set)
    # Capture and article events, to replay into the capture history.
    events: list[dict[str, Any]] = field(default_factory=list)
    files: list[ClosedWarc] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    recovered: list[Path] = field(default_factory=list)
    corrupt: int = 0
    items_cut: int = 0

    def replayable(self, url: str) -> dict[str, Any] | None:
        """The capture to answer a request for `url` with, if there is one."""
        return self.captures.get(url)

    def own_payloads(self, crawl_id: str, crawl_date: str) -> Iterator[PayloadRef]:
        """Payloads this crawl archived in full, with where their records are."""
        for event in self.events:
            if (
                event.get("event") == "capture"
                and event.get("kind") == "response"
                and event.get("status") == 200
                and event.get("payload_digest")
                and event.get("filename")
            ):
                yield PayloadRef(
                    event["payload_digest"],
                    event["url"],
                    event["date"],
                    event["record_id"],
                    crawl_id,
                    crawl_date,
                    event["filename"],
                    event["offset"],
                    event["length"],
                )


def _header(headers: Any, name: str) -> str | None:
    value = headers.get_header(name) if headers is not None else None
    return str(value) if value is not None else None


def scan_warc(path: Path) -> tuple[ClosedWarc, list[dict[str, Any]]]:
    """Describe a WARC file and list its capture and metadata records as journal events."""
    records: dict[str, int] = {}
    first = last = None
    events: list[dict[str, Any]] = []
    with open(path, "rb") as fh:
        iterator = ArchiveIterator(fh)
        for record in iterator:
            rec_type = record.rec_type
            headers = record.rec_headers
            # The payload has to be read before the iterator can say where the record ends.
            record.raw_stream.read()
            iterator.read_to_end()
            records[rec_type] = records.get(rec_type, 0) + 1
            date_text = headers.get_header("WARC-Date")
            if date_text:
                when = parse_warc_date(date_text)
                first = when if first is None or when < first else first
                last = when if last is None or when > last else last
            location = {
                "filename": path.name,
                "offset": iterator.get_record_offset(),
                "length": iterator.get_record_length(),
            }
            record_id = headers.get_header("WARC-Record-ID")
            url = headers.get_header("WARC-Target-URI")
            if rec_type in ("response", "revisit"):
                http = record.http_headers
                status = int(http.get_statuscode()) if http is not None else None
                event: dict[str, Any] = {
                    "event": "capture",
                    "url": url,
                    "date": date_text,
                    "status": status,
                    "kind": rec_type,
                    "record_id": record_id,
                    "payload_digest": headers.get_header("WARC-Payload-Digest"),
                    "etag": _header(http, "ETag"),
                    "last_modified": _header(http, "Last-Modified"),
                    **location,
                }
                if rec_type == "revisit":
                    event.update(
                        refers_to=headers.get_header("WARC-Refers-To"),
                        refers_to_uri=headers.get_header("WARC-Refers-To-Target-URI"),
                        refers_to_date=headers.get_header("WARC-Refers-To-Date"),
                    )
                events.append(event)
            elif rec_type == "metadata":
                events.append(
                    {
                        "event": "metadata",
                        "url": url,
                        "record_id": record_id,
                        "refers_to": headers.get_header("WARC-Refers-To"),
                        **location,
                    }
                )
    sha256 = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            sha256.update(block)
    closed = ClosedWarc(
        path=path,
        name=path.name,
        size=path.stat().st_size,
        sha256=sha256.hexdigest(),
        records=records,
        first_date=first,
        last_date=last,
    )
    return closed, events


def _closed_from_event(root: Path, event: dict[str, Any]) -> ClosedWarc:
    def when(value: Any) -> Any:
        return parse_warc_date(value) if isinstance(value, str) else None

    return ClosedWarc(
        path=root / event["name"],
        name=event["name"],
        size=int(event["size"]),
        sha256=str(event["sha256"]),
        records=dict(event.get("records") or {}),
        first_date=when(event.get("first_date")),
        last_date=when(event.get("last_date")),
    )


def _closed_from_records(
    root: Path, name: str, events: list[dict[str, Any]], remote: RemoteFile | None
) -> ClosedWarc:
    """What the journal says of a file another process recovered and uploaded."""
    mine = [e for e in events if e.get("filename") == name]
    records = {"warcinfo": 1}
    for event in mine:
        if event.get("event") == "capture":
            records["request"] = records.get("request", 0) + 1
            records[event["kind"]] = records.get(event["kind"], 0) + 1
        elif event.get("event") == "metadata":
            records["metadata"] = records.get("metadata", 0) + 1
    dates = sorted(parse_warc_date(e["date"]) for e in mine if isinstance(e.get("date"), str))
    return ClosedWarc(
        path=root / name,
        name=name,
        size=remote[0] if remote else 0,
        sha256=remote[1] if remote else "",
        records=records,
        first_date=dates[0] if dates else None,
        last_date=dates[-1] if dates else None,
    )


# (size, sha256 hex) of a crawl file in storage, or None when it cannot be told.
RemoteFile = tuple[int, str]


def recover_crawl(
    crawl_dir: CrawlDir,
    journal: CrawlJournal,
    items_path: Path,
    remote: Callable[[str], RemoteFile | None] | None = None,
) -> ResumeState:
    """Bring a crawl directory back to a consistent state and read what it already holds.

    Every ``*.warc.gz.open`` left by a killed writer is cut after its last complete record
    and renamed (archiver.warc.recovery.recover_open_file); records the journal had not noted yet
    are read from those files; a torn last line of the items file is cut off.  Another
    process (an upload pass) may have recovered and uploaded a file first: its records
    are known from the journal, and `remote` tells its size and digest in storage.
    """
    state = ResumeState()
    for path in crawl_dir.open_files():
        if not path.name.endswith(WARC_SUFFIX + OPEN_SUFFIX):
            continue
        if writer_state(path) is not Writer.DEAD:
            # This process's own file (requests Scrapy resumed can start before this runs).
            continue
        try:
            recovered = recover_open_file(path)
        except (FileNotFoundError, FileExistsError):
            continue  # recovered by an upload pass meanwhile
        if recovered is None:
            state.corrupt += 1
        else:
            state.recovered.append(recovered)
    events = journal.read()
    journaled = {e.get("record_id") for e in events if e.get("record_id")}
    closed_events = {e["name"]: e for e in events if e.get("event") == "closed" and e.get("name")}
    local: set[str] = set()
    for path in sorted(crawl_dir.root.glob("*" + WARC_SUFFIX)):
        if path.name in closed_events and path not in state.recovered:
            state.files.append(_closed_from_event(crawl_dir.root, closed_events[path.name]))
            local.add(path.name)
            continue
        # Recovered, or closed just before the process died: read it for what it holds.
        try:
            closed, found = scan_warc(path)
        except FileNotFoundError:
            continue  # uploaded and released by an upload pass meanwhile
        state.files.append(closed)
        local.add(path.name)
        events.extend(e for e in found if e.get("record_id") not in journaled)
    for name, event in closed_events.items():
        if name not in local:
            # Uploaded, verified and released by an earlier process.
            state.files.append(_closed_from_event(crawl_dir.root, event))
            state.released.append(name)
    named = {str(e["filename"]) for e in events if e.get("filename")}
    for name in sorted(named - local - set(closed_events)):
        # Left open by the killed process, then recovered and uploaded by an upload pass.
        state.files.append(
            _closed_from_records(crawl_dir.root, name, events, remote(name) if remote else None)
        )
        state.released.append(name)
    for event in events:
        kind = event.get("event")
        if kind == "capture":
            state.events.append(event)
            status = event.get("status")
            if isinstance(status, int) and status < 500 and status not in _NOT_REPLAYED:
                state.captures[event["url"]] = event
            else:
                state.captures.pop(event.get("url", ""), None)
        elif kind == "metadata" and event.get("refers_to"):
            state.metadata[event["refers_to"]] = event["record_id"]
        elif kind == "article":
            state.events.append(event)
    state.items_cut = truncate_torn_line(items_path)
    for item in read_json_lines(items_path):
        if item.get("warc_record_id"):
            state.items_done.add(str(item["warc_record_id"]))
    return state


@dataclass(frozen=True)
class StoredResponse:
    """An archived HTTP response, as a replay hands it to the crawler."""

    url: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def _parse_record(data: bytes) -> tuple[Any, bytes]:
    iterator = iter(ArchiveIterator(BytesIO(data)))
    record = next(iterator)
    body = record.raw_stream.read()
    return record, body


class RecordReader:
    """Reads single records of this crawl and earlier ones: from the spool, else from storage."""

    def __init__(
        self, spool_root: Path, cfg: S3Config | None = None, client: S3Client | None = None
    ) -> None:
        self.spool_root = Path(spool_root)
        self.cfg = cfg
        self.client = client

    def read(
        self, crawl_id: str, crawl_date: str, filename: str, offset: int, length: int
    ) -> bytes:
        """The gzip member of one record."""
        local = self.spool_root / crawl_id / filename
        try:
            with open(local, "rb") as fh:
                fh.seek(offset)
                data = fh.read(length)
            if len(data) == length:
                return data
        except FileNotFoundError:
            pass
        if self.cfg is None or self.client is None or not self.cfg.enabled:
            raise FileNotFoundError(f"{filename} is neither in the spool nor in reach in storage")
        key = object_key(self.cfg.prefix, crawl_date, crawl_id, filename)
        answer = self.client.get_object(
            Bucket=self.cfg.bucket, Key=key, Range=f"bytes={offset}-{offset + length - 1}"
        )
        data = answer["Body"].read()
        if len(data) != length:
            raise OSError(f"{key}: got {len(data)} bytes of a {length}-byte record")
        return data

    def response(
        self, capture: dict[str, Any], crawl_id: str, crawl_date: str, payload: PayloadRef | None
    ) -> StoredResponse:
        """The response an earlier process archived for a URL (a revisit gets its payload)."""
        record, body = _parse_record(
            self.read(
                crawl_id, crawl_date, capture["filename"], capture["offset"], capture["length"]
            )
        )
        http = record.http_headers
        if http is None:
            raise ValueError(f"record {capture['record_id']} has no HTTP response head")
        if record.rec_type == "revisit":
            if payload is None or payload.filename is None:
                raise LookupError(f"the payload of revisit {capture['record_id']} is not located")
            assert payload.offset is not None and payload.length is not None
            _, body = _parse_record(
                self.read(
                    payload.crawl_id,
                    payload.crawl_date,
                    payload.filename,
                    payload.offset,
                    payload.length,
                )
            )
        return StoredResponse(
            url=capture["url"],
            status=int(http.get_statuscode()),
            headers=[(str(k), str(v)) for k, v in http.headers],
            body=body,
        )
