"""Lenient decoding of ``Transfer-Encoding: chunked`` bodies, as captured off the wire.

Why responses are stored de-chunked is explained in docs/warc.md.
"""

from __future__ import annotations

import re
from enum import Enum

_HEX_RE = re.compile(rb"[0-9A-Fa-f]{1,16}")
# A chunk-size line longer than this is not a chunk-size line (real ones are a few bytes,
# extensions included); it bounds the search for a line end in garbage.
_MAX_CHUNK_LINE = 4096


class Chunked(Enum):
    """How a chunked body ended."""

    COMPLETE = "complete"
    TRUNCATED = "truncated"  # the bytes end before the last chunk
    INVALID = "invalid"  # bytes are there but are not chunk framing


def _line_end(data: bytes, start: int) -> tuple[int, int] | None:
    """(end of line content, start of next line) for a CRLF- or LF-terminated line."""
    newline = data.find(b"\n", start, start + _MAX_CHUNK_LINE)
    if newline < 0:
        return None
    end = newline - 1 if newline > start and data[newline - 1 : newline] == b"\r" else newline
    return end, newline + 1


def decode_chunked(body: bytes) -> tuple[bytes, Chunked]:
    """Decode a chunked body: (the chunks' bytes, how the framing ended); never raises."""
    parts: list[bytes] = []
    pos = 0
    size = len(body)
    while True:
        line = _line_end(body, pos)
        if line is None:
            rest = body[pos:]
            # A size line cut by the end of the data is truncation; anything longer is garbage.
            if len(rest) < _MAX_CHUNK_LINE and _HEX_RE.fullmatch(
                rest.split(b";", 1)[0].strip() or b"0"
            ):
                return b"".join(parts), Chunked.TRUNCATED
            return b"".join(parts), Chunked.INVALID
        line_start = pos
        end, pos = line
        token = body[line_start:end].split(b";", 1)[0].strip(b" \t")
        if not _HEX_RE.fullmatch(token):
            return b"".join(parts), Chunked.INVALID
        chunk_size = int(token, 16)
        if chunk_size == 0:
            # Trailer fields after the last chunk are dropped: the head cannot hold them.
            return b"".join(parts), Chunked.COMPLETE
        chunk = body[pos : pos + chunk_size]
        parts.append(chunk)
        pos += len(chunk)
        if len(chunk) < chunk_size or pos >= size:
            return b"".join(parts), Chunked.TRUNCATED
        if body.startswith(b"\r\n", pos):
            pos += 2
        elif body.startswith(b"\n", pos):
            pos += 1
        elif body[pos:] == b"\r":
            return b"".join(parts), Chunked.TRUNCATED
        else:
            return b"".join(parts), Chunked.INVALID


def dechunk(body: bytes) -> tuple[bytes, bool]:
    """Decode a chunked body leniently: (entity body, complete?); never raises."""
    decoded, state = decode_chunked(body)
    return decoded, state is Chunked.COMPLETE
