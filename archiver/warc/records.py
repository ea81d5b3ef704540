"""WARC/1.1 records built with warcio: request, response, revisit, metadata and warcinfo.

Each record stores the bytes as transferred, digests filled in; docs/warc.md explains the
choices.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from datetime import datetime
from io import BytesIO

from warcio.recordbuilder import RecordBuilder
from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders, StatusAndHeadersParser

from archiver.warc.exchange import (
    WARC_VERSION,
    DigestAlgorithm,
    HttpExchange,
    digest,
    new_record_id,
    parse_digest_algorithm,
    parse_warc_date,
    warc_date,
)
from archiver.warc.heads import store_message

RESPONSE_CONTENT_TYPE = "application/http; msgtype=response"
REQUEST_CONTENT_TYPE = "application/http; msgtype=request"
# WARC 1.1 section 6.7.2: the payload is the one of the record WARC-Refers-To names.
REVISIT_PROFILE = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"

_BUILDER = RecordBuilder(warc_version=WARC_VERSION)
_TOKEN_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def _check_value(name: str, value: str) -> str:
    if not value or "\r" in value or "\n" in value:
        raise ValueError(f"{name} must be a non-empty single line, not {value!r}")
    return value


def _raw_record(
    rec_type: str, headers: list[tuple[str, str]], block: bytes, content_type: str
) -> ArcWarcRecord:
    """A warcio record whose block is stored byte for byte, digests already in headers."""
    warc_headers = StatusAndHeaders("", headers, protocol=WARC_VERSION)
    # An empty uri: given an http(s) URI, warcio parses the HTTP head out of the payload and
    # writes it back re-serialised, which would change header bytes. WARC-Target-URI is
    # already in warc_headers.
    return _BUILDER.create_warc_record(
        "",
        rec_type,
        payload=BytesIO(block),
        length=len(block),
        warc_content_type=content_type,
        warc_headers=warc_headers,
    )


def build_exchange_records(
    exchange: HttpExchange,
    *,
    digest_algorithm: DigestAlgorithm = "sha1",
    request_id: str | None = None,
    response_id: str | None = None,
    warcinfo_id: str | None = None,
) -> tuple[ArcWarcRecord, ArcWarcRecord]:
    """The (request, response) WARC records of one exchange."""
    algorithm = parse_digest_algorithm(digest_algorithm)
    uri = _check_value("target_uri", exchange.target_uri)
    date = warc_date(exchange.date)
    response_id = _check_value("response_id", response_id or new_record_id())
    request_id = _check_value("request_id", request_id or new_record_id())
    ip_address = str(ipaddress.ip_address(exchange.ip_address)) if exchange.ip_address else None
    truncated = exchange.truncated
    if truncated is not None and not _TOKEN_RE.fullmatch(truncated):
        raise ValueError(f"WARC-Truncated reason must be a token, not {truncated!r}")

    resp_head, resp_body, cut = store_message(
        exchange.response_head, exchange.response_body, f"response of {uri}"
    )
    if cut and truncated is None:
        # The chunk framing ended early though the capture did not say why.
        truncated = "unspecified"
    resp_headers = [
        ("WARC-Type", "response"),
        ("WARC-Record-ID", response_id),
        ("WARC-Date", date),
        ("WARC-Target-URI", uri),
    ]
    if ip_address:
        resp_headers.append(("WARC-IP-Address", ip_address))
    if warcinfo_id:
        resp_headers.append(("WARC-Warcinfo-ID", _check_value("warcinfo_id", warcinfo_id)))
    if truncated:
        resp_headers.append(("WARC-Truncated", truncated))
    resp_block = resp_head + resp_body
    resp_headers.append(("WARC-Payload-Digest", digest(resp_body, algorithm)))
    resp_headers.append(("WARC-Block-Digest", digest(resp_block, algorithm)))
    response = _raw_record("response", resp_headers, resp_block, RESPONSE_CONTENT_TYPE)

    request = build_request_record(
        exchange,
        concurrent_to=response_id,
        digest_algorithm=algorithm,
        record_id=request_id,
        warcinfo_id=warcinfo_id,
    )
    return request, response


def build_request_record(
    exchange: HttpExchange,
    *,
    concurrent_to: str,
    digest_algorithm: DigestAlgorithm = "sha1",
    record_id: str | None = None,
    warcinfo_id: str | None = None,
) -> ArcWarcRecord:
    """The request record of an exchange, WARC-Concurrent-To its response or revisit record."""
    algorithm = parse_digest_algorithm(digest_algorithm)
    uri = _check_value("target_uri", exchange.target_uri)
    ip_address = str(ipaddress.ip_address(exchange.ip_address)) if exchange.ip_address else None
    req_head, req_body, _ = store_message(
        exchange.request_head, exchange.request_body, f"request of {uri}"
    )
    req_headers = [
        ("WARC-Type", "request"),
        ("WARC-Record-ID", _check_value("record_id", record_id or new_record_id())),
        ("WARC-Date", warc_date(exchange.date)),
        ("WARC-Target-URI", uri),
        ("WARC-Concurrent-To", _check_value("concurrent_to", concurrent_to)),
    ]
    if ip_address:
        req_headers.append(("WARC-IP-Address", ip_address))
    if warcinfo_id:
        req_headers.append(("WARC-Warcinfo-ID", _check_value("warcinfo_id", warcinfo_id)))
    if exchange.requisite_of:
        req_headers.append(
            ("WARC-Requisite-Of", _check_value("requisite_of", exchange.requisite_of))
        )
    if exchange.resource_type:
        req_headers.append(
            ("WARC-Resource-Type", _check_value("resource_type", exchange.resource_type))
        )
    req_block = req_head + req_body
    req_headers.append(("WARC-Payload-Digest", digest(req_body, algorithm)))
    req_headers.append(("WARC-Block-Digest", digest(req_block, algorithm)))
    return _raw_record("request", req_headers, req_block, REQUEST_CONTENT_TYPE)


def stored_response(exchange: HttpExchange) -> tuple[bytes, bytes, bool]:
    """(head, body, cut short) of the response as its record stores it (chunking removed)."""
    return store_message(
        exchange.response_head, exchange.response_body, f"response of {exchange.target_uri}"
    )


def build_revisit_record(
    exchange: HttpExchange,
    *,
    refers_to: str,
    refers_to_uri: str,
    refers_to_date: str,
    digest_algorithm: DigestAlgorithm = "sha1",
    record_id: str | None = None,
    warcinfo_id: str | None = None,
) -> ArcWarcRecord:
    """A revisit record (identical-payload-digest profile) for a response already archived.

    The block keeps the response's status line and headers, stored as a response record
    would store them; the body is left out, and WARC-Payload-Digest, WARC-Refers-To,
    WARC-Refers-To-Target-URI and WARC-Refers-To-Date name the record that holds it.
    """
    algorithm = parse_digest_algorithm(digest_algorithm)
    uri = _check_value("target_uri", exchange.target_uri)
    ip_address = str(ipaddress.ip_address(exchange.ip_address)) if exchange.ip_address else None
    if exchange.truncated:
        raise ValueError(f"a truncated response of {uri} cannot be a revisit of a whole one")
    head, body, cut = stored_response(exchange)
    if cut:
        raise ValueError(f"the response of {uri} is cut short; it cannot be a revisit")
    headers = [
        ("WARC-Type", "revisit"),
        ("WARC-Record-ID", _check_value("record_id", record_id or new_record_id())),
        ("WARC-Date", warc_date(exchange.date)),
        ("WARC-Target-URI", uri),
    ]
    if ip_address:
        headers.append(("WARC-IP-Address", ip_address))
    if warcinfo_id:
        headers.append(("WARC-Warcinfo-ID", _check_value("warcinfo_id", warcinfo_id)))
    headers += [
        ("WARC-Profile", REVISIT_PROFILE),
        ("WARC-Refers-To-Target-URI", _check_value("refers_to_uri", refers_to_uri)),
        ("WARC-Refers-To-Date", warc_date(parse_warc_date(refers_to_date))),
        ("WARC-Refers-To", _check_value("refers_to", refers_to)),
        ("WARC-Payload-Digest", digest(body, algorithm)),
        ("WARC-Block-Digest", digest(head, algorithm)),
    ]
    # warcio writes only the HTTP head of a revisit, from record.http_headers, never the
    # block stream; so the head goes there, with its bytes kept as stored.
    return _BUILDER.create_warc_record(
        "",
        "revisit",
        payload=BytesIO(b""),
        length=0,
        warc_content_type=RESPONSE_CONTENT_TYPE,
        warc_headers=StatusAndHeaders("", headers, protocol=WARC_VERSION),
        http_headers=_StoredHead.of(head),
    )


class _StoredHead(StatusAndHeaders):  # type: ignore[misc]
    """Parsed HTTP headers whose bytes warcio writes as stored, not re-serialised."""

    @classmethod
    def of(cls, head: bytes) -> _StoredHead:
        parsed = StatusAndHeadersParser([], verify=False).parse(BytesIO(head))
        kept = cls(parsed.statusline, parsed.headers, protocol=parsed.protocol)
        kept.headers_buff = head
        return kept

    def compute_headers_buffer(self, header_filter: object = None) -> None:
        """Keep the stored bytes (warcio would percent-encode and re-space them)."""
        return None


def build_metadata_record(
    target_uri: str,
    payload: bytes,
    *,
    refers_to: str,
    date: datetime,
    content_type: str = "application/json",
    record_id: str | None = None,
    warcinfo_id: str | None = None,
    digest_algorithm: DigestAlgorithm = "sha1",
) -> ArcWarcRecord:
    """A metadata record about a response record (WARC-Refers-To and WARC-Concurrent-To it)."""
    algorithm = parse_digest_algorithm(digest_algorithm)
    headers = [
        ("WARC-Type", "metadata"),
        ("WARC-Record-ID", _check_value("record_id", record_id or new_record_id())),
        ("WARC-Date", warc_date(date)),
        ("WARC-Target-URI", _check_value("target_uri", target_uri)),
        ("WARC-Refers-To", _check_value("refers_to", refers_to)),
        ("WARC-Concurrent-To", refers_to),
    ]
    if warcinfo_id:
        headers.append(("WARC-Warcinfo-ID", _check_value("warcinfo_id", warcinfo_id)))
    # No HTTP head: the whole block is the payload (warcio would add a sha1 one otherwise).
    block_digest = digest(payload, algorithm)
    headers.append(("WARC-Payload-Digest", block_digest))
    headers.append(("WARC-Block-Digest", block_digest))
    return _raw_record("metadata", headers, payload, _check_value("content_type", content_type))


def build_warcinfo_record(
    filename: str,
    fields: Mapping[str, str],
    *,
    date: datetime,
    record_id: str | None = None,
    digest_algorithm: DigestAlgorithm = "sha1",
) -> ArcWarcRecord:
    """The warcinfo record: application/warc-fields in the given order, empty values left out."""
    algorithm = parse_digest_algorithm(digest_algorithm)
    for name, value in fields.items():
        if not _TOKEN_RE.fullmatch(name) or "\r" in value or "\n" in value:
            raise ValueError(f"warcinfo field {name!r}: {value!r} is not a single-line field")
    record = _BUILDER.create_warcinfo_record(_check_value("filename", filename), dict(fields))
    record.rec_headers.replace_header(
        "WARC-Record-ID", _check_value("record_id", record_id or new_record_id())
    )
    record.rec_headers.replace_header("WARC-Date", warc_date(date))
    record.rec_headers.add_header(
        "WARC-Block-Digest", digest(record.raw_stream.getvalue(), algorithm)
    )
    return record
