"""Reading the stored article datasets of the whole archive, by range, with pruning.

Each articles.parquet is opened through :class:`RangeFile`, a seekable file over ranged
GETs: pyarrow reads the footer, then only the column chunks asked for, of the row groups
whose statistics (site, captured) can hold a match. The text column is fetched only when
it is asked for.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from archiver.dataset.schema import ARTICLE_SCHEMA, ARTICLES_FILE, COLUMNS, site_of
from archiver.index import storage_key

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# The tail fetched first: the footer of a dataset of a few row groups fits in it.
TAIL_READ = 32 * 1024
_MAGIC = b"PAR1"
# Datasets read at the same time (each read is a few ranged GETs, mostly waiting).
READ_THREADS = 8
# Columns the filter reads, whatever the caller asked for.
_FILTER_COLUMNS = ("site", "captured", "published", "language")
# Columns `archiver articles` reads by default: all but the text.
DEFAULT_COLUMNS = tuple(c for c in COLUMNS if c != "text")


@dataclass(frozen=True)
class ArticleFilter:
    """Which articles: of a site (www. ignored), between two dates (inclusive).

    `by` "captured": the UTC day of the capture. "published": the day of publication as the
    page states it (its own local day, the date part of `published`), else the capture's day
    for an article without one, as the search index does.
    """

    site: str | None = None
    since: date | None = None
    until: date | None = None
    language: str | None = None
    by: Literal["captured", "published"] = "captured"

    @property
    def site_value(self) -> str | None:
        """The site as the site column holds it."""
        return site_of(self.site) if self.site else None

    @property
    def low(self) -> datetime | None:
        """First instant of `since`, UTC."""
        return datetime.combine(self.since, time(), UTC) if self.since else None

    @property
    def high(self) -> datetime | None:
        """First instant after `until`, UTC (the bound is exclusive)."""
        return datetime.combine(self.until + timedelta(days=1), time(), UTC) if self.until else None


@dataclass(frozen=True)
class DatasetObject:
    """One stored articles.parquet."""

    key: str
    etag: str
    size: int
    crawl_id: str


class RangeFile(io.RawIOBase):
    """A read-only, seekable file over one S3 object; every read is one ranged GET.

    `bytes_read` and `requests` count what was fetched.
    """

    def __init__(self, client: S3Client, bucket: str, key: str, size: int) -> None:
        super().__init__()
        self._client = client
        self._bucket = bucket
        self._key = key
        self._size = size
        self._pos = 0
        self.bytes_read = 0
        self.requests = 0
        # (offset, length) of every ranged GET, in order.
        self.ranges: list[tuple[int, int]] = []

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def size(self) -> int:
        """The object's size (pyarrow asks for it)."""
        return self._size

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            self._pos = offset
        elif whence == io.SEEK_CUR:
            self._pos += offset
        elif whence == io.SEEK_END:
            self._pos = self._size + offset
        else:
            raise ValueError(f"bad whence {whence}")
        if self._pos < 0:
            raise ValueError("negative seek position")
        return self._pos

    def read(self, n: int | None = -1) -> bytes:
        end = self._size if n is None or n < 0 else min(self._size, self._pos + n)
        if end <= self._pos:
            return b""
        answer = self._client.get_object(
            Bucket=self._bucket, Key=self._key, Range=f"bytes={self._pos}-{end - 1}"
        )
        data = answer["Body"].read()
        self.requests += 1
        self.bytes_read += len(data)
        self.ranges.append((self._pos, len(data)))
        self._pos += len(data)
        return data

    def read_at(self, offset: int, length: int) -> bytes:
        """`length` bytes from `offset` (one ranged GET)."""
        self.seek(offset)
        return self.read(length)

    def metadata(self) -> Any:
        """The Parquet footer, in one ranged GET of the tail (two when the footer is longer).

        pyarrow would read a 64 KiB tail to find it; a small file's column chunks lie there.
        """
        tail = self.read_at(max(0, self._size - TAIL_READ), min(self._size, TAIL_READ))
        if len(tail) < 12 or tail[-4:] != _MAGIC:
            raise ValueError(f"{self._key} is not a Parquet file")
        length = int.from_bytes(tail[-8:-4], "little")
        if length + 8 > len(tail):
            head = self.read_at(self._size - 8 - length, length + 8 - len(tail))
            tail = head + tail
        footer = tail[-8 - length :]
        return pq.read_metadata(pa.BufferReader(_MAGIC + footer))

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def iter_dataset_keys(client: S3Client, bucket: str, prefix: str) -> Iterator[DatasetObject]:
    """Every {prefix}/{date}/{crawl id}/articles.parquet in the bucket, in key order."""
    base = storage_key(prefix, "")
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=base):
        for obj in page.get("Contents", []):
            key = obj["Key"]
            parts = key[len(base) :].split("/")
            if len(parts) != 3 or parts[2] != ARTICLES_FILE:
                continue
            yield DatasetObject(
                key, str(obj.get("ETag", "")).strip('"'), int(obj["Size"]), parts[1]
            )


def _may_match(stats: dict[str, Any], flt: ArticleFilter) -> bool:
    """False when a row group's statistics rule out every row the filter wants."""
    site = flt.site_value
    span = stats.get("site")
    if site is not None and span is not None and not span[0] <= site <= span[1]:
        return False
    if flt.by == "published":
        return _may_publish(stats, flt)
    captured = stats.get("captured")
    if captured is None:
        return True
    low, high = flt.low, flt.high
    return not (
        (low is not None and captured[1] < low) or (high is not None and captured[0] >= high)
    )


def _may_publish(stats: dict[str, Any], flt: ArticleFilter) -> bool:
    """The published-day test on a row group: its published days, and its captured days for
    the rows without a publication date (unknown when there are such rows but no statistics)."""
    days: list[tuple[str, str]] = []
    published = stats.get("published")
    if published is None:
        return True
    if published[0] is not None:
        days.append((published[0][:10], published[1][:10]))
    if stats.get("published_nulls", 1):
        captured = stats.get("captured")
        if captured is None:
            return True
        days.append((captured[0].date().isoformat(), captured[1].date().isoformat()))
    low = flt.since.isoformat() if flt.since else None
    high = flt.until.isoformat() if flt.until else None
    return any(
        not ((low is not None and last < low) or (high is not None and first > high))
        for first, last in days
    )


def _row_group_stats(meta: Any, index: int) -> dict[str, Any]:
    group = meta.row_group(index)
    found: dict[str, Any] = {}
    for i in range(group.num_columns):
        column = group.column(i)
        name = column.path_in_schema
        stats = column.statistics
        if name in ("site", "captured") and stats is not None and stats.has_min_max:
            low, high = stats.min, stats.max
            if isinstance(low, datetime) and low.tzinfo is None:
                low, high = low.replace(tzinfo=UTC), high.replace(tzinfo=UTC)
            found[name] = (low, high)
        elif name == "published" and stats is not None and stats.has_null_count:
            # (None, None) when every row is null; the nulls are judged by their capture day.
            found[name] = (stats.min, stats.max) if stats.has_min_max else (None, None)
            found["published_nulls"] = stats.null_count
    return found


def _day_mask(table: pa.Table, flt: ArticleFilter) -> Any:
    """Rows whose publication day (else capture day) is within the filter's days."""
    day = pc.coalesce(
        pc.utf8_slice_codeunits(table["published"], 0, 10),
        pc.strftime(table["captured"], format="%Y-%m-%d"),
    )
    mask = pc.is_valid(day)
    if flt.since is not None:
        mask = pc.and_(mask, pc.greater_equal(day, flt.since.isoformat()))
    if flt.until is not None:
        mask = pc.and_(mask, pc.less_equal(day, flt.until.isoformat()))
    return mask


def _mask(table: pa.Table, flt: ArticleFilter) -> Any:
    mask = pc.is_valid(table["site"])
    if flt.site_value is not None:
        mask = pc.and_(mask, pc.equal(table["site"], flt.site_value))
    if flt.by == "published":
        mask = pc.and_(mask, _day_mask(table, flt))
    elif flt.low is not None:
        mask = pc.and_(
            mask,
            pc.greater_equal(
                table["captured"], pa.scalar(flt.low, ARTICLE_SCHEMA.field("captured").type)
            ),
        )
    if flt.high is not None and flt.by == "captured":
        mask = pc.and_(
            mask,
            pc.less(table["captured"], pa.scalar(flt.high, ARTICLE_SCHEMA.field("captured").type)),
        )
    if flt.language is not None:
        lang = flt.language.lower()
        mask = pc.and_(
            mask,
            pc.fill_null(
                pc.or_(
                    pc.equal(pc.utf8_lower(table["language"]), lang),
                    pc.starts_with(pc.utf8_lower(table["language"]), lang + "-"),
                ),
                False,
            ),
        )
    return mask


def read_dataset(source: Any, flt: ArticleFilter, columns: Sequence[str]) -> pa.Table:
    """The filtered rows of one articles.parquet (a path or a file-like), these columns only."""
    meta_given = source.metadata() if isinstance(source, RangeFile) else None
    parquet = pq.ParquetFile(source, metadata=meta_given)
    meta = parquet.metadata
    groups = [i for i in range(meta.num_row_groups) if _may_match(_row_group_stats(meta, i), flt)]
    wanted = list(dict.fromkeys([*columns, *_FILTER_COLUMNS]))
    if not groups:
        return ARTICLE_SCHEMA.empty_table().select(list(columns))
    table = parquet.read_row_groups(groups, columns=wanted)
    table = table.filter(_mask(table, flt))
    return table.select(list(columns))


def _check_columns(columns: Sequence[str]) -> list[str]:
    unknown = [c for c in columns if c not in COLUMNS]
    if unknown:
        raise ValueError(
            f"unknown column(s) {', '.join(unknown)}; columns are {', '.join(COLUMNS)}"
        )
    return list(columns)


def read_articles(
    client: S3Client,
    bucket: str,
    prefix: str,
    flt: ArticleFilter,
    columns: Sequence[str] = DEFAULT_COLUMNS,
    keys: Sequence[DatasetObject] | None = None,
    *,
    counter: list[RangeFile] | None = None,
) -> pa.Table:
    """The articles of every stored dataset that match `flt`, sorted by site then capture time.

    `keys` limits the read to these datasets (default: all under the prefix). Each file is
    read by range; when `counter` is given, the RangeFile of each file is appended to it.
    """
    wanted = _check_columns(columns)
    datasets = list(iter_dataset_keys(client, bucket, prefix)) if keys is None else list(keys)
    sources = [RangeFile(client, bucket, obj.key, obj.size) for obj in datasets]
    if counter is not None:
        counter.extend(sources)
    with ThreadPoolExecutor(min(READ_THREADS, max(1, len(sources)))) as pool:
        tables = list(pool.map(lambda source: read_dataset(source, flt, wanted), sources))
    if not tables:
        return ARTICLE_SCHEMA.empty_table().select(wanted)
    table = pa.concat_tables(tables)
    order = [(c, "ascending") for c in ("site", "captured") if c in wanted]
    return table.sort_by(order) if order else table
