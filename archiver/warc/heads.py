"""HTTP heads as a WARC record stores them: a chunked message is stored de-chunked, its
Transfer-Encoding header renamed so that the head still describes the stored body.

The policy is explained in docs/warc.md.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from archiver.warc.chunked import Chunked, decode_chunked

logger = logging.getLogger(__name__)

# Prefix given to the Transfer-Encoding header line of a response stored de-chunked.
ORIG_HEADER_PREFIX = b"X-Archive-Orig-"


@dataclass(frozen=True)
class _HeaderLine:
    name_start: int
    value: bytes


def _transfer_encoding_lines(head: bytes) -> list[_HeaderLine]:
    """The Transfer-Encoding header lines of an HTTP head, folded continuations joined."""
    found: list[_HeaderLine] = []
    current: _HeaderLine | None = None
    pos = head.find(b"\n") + 1  # past the start line
    if pos == 0:
        return found
    while pos < len(head):
        newline = head.find(b"\n", pos)
        end = len(head) if newline < 0 else newline
        line = head[pos:end].rstrip(b"\r")
        if not line:
            break
        if line[:1] in (b" ", b"\t"):
            if current is not None:
                current = _HeaderLine(current.name_start, current.value + b" " + line)
                found[-1] = current
        else:
            name, colon, value = line.partition(b":")
            current = None
            if colon and name.lower() == b"transfer-encoding":
                current = _HeaderLine(pos, value)
                found.append(current)
        pos = end + 1
    return found


def _codings(lines: Sequence[_HeaderLine]) -> list[str]:
    text = b",".join(line.value for line in lines).decode("latin-1")
    return [c.strip().lower() for c in text.split(",") if c.strip()]


def _check_head(head: bytes, what: str) -> None:
    if not (head.endswith(b"\r\n\r\n") or head.endswith(b"\n\n")):
        raise ValueError(f"{what}: the head must be a start line and headers, then an empty line")


def store_message(head: bytes, body: bytes, what: str) -> tuple[bytes, bytes, bool]:
    """The (head, body) to store for a message, and whether the de-chunked body is cut short."""
    _check_head(head, what)
    lines = _transfer_encoding_lines(head)
    if not lines or not body:
        return head, body, False
    if _codings(lines) != ["chunked"]:
        logger.debug(
            "%s: transfer codings %s other than chunked; stored as received", what, _codings(lines)
        )
        return head, body, False
    decoded, state = decode_chunked(body)
    if state is Chunked.INVALID:
        logger.warning(
            "%s: says chunked but the body is not chunk framed; stored as received", what
        )
        return head, body, False
    renamed = bytearray(head)
    for line in reversed(lines):
        renamed[line.name_start : line.name_start] = ORIG_HEADER_PREFIX
    return bytes(renamed), decoded, state is Chunked.TRUNCATED
