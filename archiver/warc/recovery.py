"""Recovery of a crashed writer's ``*.warc.gz.open`` file: cut after its last complete record.

Which files to recover (whose writer is gone) is archiver.spool's question; this module only
repairs one file.  docs/reliability.md explains the guarantees.
"""

from __future__ import annotations

import logging
import os
import zlib
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from archiver.warc.writer import OPEN_SUFFIX, WARC_SUFFIX, fsync_directory

logger = logging.getLogger(__name__)

CORRUPT_SUFFIX = ".corrupt"


def _complete_gzip_member(data: bytes) -> bool:
    decompressor = zlib.decompressobj(zlib.MAX_WBITS | 16)
    try:
        out = decompressor.decompress(data)
    except zlib.error:
        return False
    return decompressor.eof and not decompressor.unused_data and out.endswith(b"\r\n\r\n")


def _complete_records(path: Path) -> list[tuple[int, int, str]]:
    """(offset, length, WARC-Type) of the leading run of complete records of a gzip WARC."""
    found: list[tuple[int, int, str]] = []
    with open(path, "rb") as fh:
        iterator = ArchiveIterator(fh, no_record_parse=True)
        try:
            for record in iterator:
                declared = record.rec_headers.get_header("Content-Length")
                got = 0
                while chunk := record.raw_stream.read(65536):
                    got += len(chunk)
                if declared is None or got != int(declared):
                    break
                offset, length = iterator.get_record_offset(), iterator.get_record_length()
                found.append((offset, length, str(record.rec_headers.get_header("WARC-Type"))))
        except Exception as exc:
            # Whatever fails to parse past this point is the damaged tail.
            logger.debug("%s: reading stopped at a damaged record: %r", path, exc)
        if found:
            # A member is followed by another only once it ended; the last one may be cut
            # inside its gzip trailer, which the record reader does not notice.
            offset, length, _ = found[-1]
            fh.seek(offset)
            if not _complete_gzip_member(fh.read(length)):
                found.pop()
    return found


def recover_open_file(path: Path) -> Path | None:
    """Cut a crashed writer's *.warc.gz.open after its last complete record and rename it.

    Returns the recovered path, or None when no record besides warcinfo survived; the file is
    then renamed to *.warc.gz.corrupt.
    """
    path = Path(path)
    if not path.name.endswith(WARC_SUFFIX + OPEN_SUFFIX):
        raise ValueError(f"{path} is not a *{WARC_SUFFIX}{OPEN_SUFFIX} file")
    final_path = path.with_name(path.name[: -len(OPEN_SUFFIX)])
    if final_path.exists():
        raise FileExistsError(f"{final_path} exists; not overwriting it with {path.name}")
    records = _complete_records(path)
    if not any(rec_type != "warcinfo" for _, _, rec_type in records):
        corrupt = final_path.with_name(final_path.name + CORRUPT_SUFFIX)
        os.rename(path, corrupt)
        logger.warning("%s holds no complete record; moved aside to %s", path, corrupt.name)
        return None
    offset, length, _ = records[-1]
    end = offset + length
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.truncate(end)
        fh.flush()
        os.fsync(fh.fileno())
    os.rename(path, final_path)
    fsync_directory(final_path.parent)
    logger.warning(
        "recovered %s: kept %d records (%d bytes), cut %d bytes",
        final_path.name,
        len(records),
        end,
        size - end,
    )
    return final_path
