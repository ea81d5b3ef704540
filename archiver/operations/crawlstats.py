"""Per-crawl statistics (stats.json beside the manifest) and the judgement of a run.

The document is built from the crawl's manifest, whose "stats" hold Scrapy's stats
collector at the end of the crawl.  `assess` turns it into the problems that make
`archiver crawl` exit non-zero, so cron mail and systemd OnFailure alert on real trouble.
docs/operations.md describes every field.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

STATS_NAME = "stats.json"
STATS_VERSION = 1
# Share of failed requests (network errors and 5xx answers) above which a run is a problem,
# when neither the site nor ARCHIVER_CRAWL_MAX_ERROR_RATE says otherwise.
DEFAULT_MAX_ERROR_RATE = 0.2
# How many earlier runs "usually yields articles" looks at.
USUAL_RUNS = 5

_EXCEPTION_PREFIX = "downloader/exception_type_count/"
_STATUS_PREFIX = "archiver/warc/status/"
# Requests dropped on purpose (robots.txt, the address guard), not failures.
_NOT_ERRORS = frozenset({"IgnoreRequest", "BlockedAddressError"})


def _int(stats: Mapping[str, Any], key: str) -> int:
    value = stats.get(key, 0)
    return int(value) if isinstance(value, int | float) else 0


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _errors(stats: Mapping[str, Any]) -> dict[str, int]:
    errors: dict[str, int] = {}
    for key, value in stats.items():
        if key.startswith(_EXCEPTION_PREFIX) and isinstance(value, int):
            name = key[len(_EXCEPTION_PREFIX) :].rsplit(".", 1)[-1]
            if name in _NOT_ERRORS:
                continue
            errors[f"download/{name}"] = errors.get(f"download/{name}", 0) + value
        elif key.startswith(_STATUS_PREFIX) and isinstance(value, int):
            code = key[len(_STATUS_PREFIX) :]
            if code.isdigit() and int(code) >= 400:
                kind = f"http/{code[0]}xx"
                errors[kind] = errors.get(kind, 0) + value
    for kind, key in (
        ("warc_write", "archiver/warc/write_errors"),
        ("truncated", "archiver/warc/truncated"),
        ("clean", "archiver/clean/errors"),
        ("upload", "archiver/upload/failed"),
        ("spider", "spider_exceptions/count"),
        ("history", "archiver/history/errors"),
    ):
        if _int(stats, key):
            errors[kind] = _int(stats, key)
    return dict(sorted(errors.items()))


def requisite_stats(stats: Mapping[str, Any]) -> dict[str, Any]:
    """What the crawl fetched of its pages' requisites (ARCHIVER_REQUISITES), and the revisit share."""
    prefix = "archiver/requisites/"
    fetched = _int(stats, prefix + "fetched")
    revisits = _int(stats, prefix + "revisits")
    return {
        "pages": _int(stats, prefix + "pages"),
        "requested": _int(stats, prefix + "requested"),
        "fetched": fetched,
        "bytes": _int(stats, prefix + "bytes"),
        # Same payload archived before, in this crawl or an earlier one: a revisit record.
        "revisits": revisits,
        "revisit_share": round(revisits / fetched, 4) if fetched else 0.0,
        "truncated": _int(stats, prefix + "truncated"),
        "robots_refused": _int(stats, prefix + "robots_refused"),
        "failed": _int(stats, prefix + "failed"),
        "status_errors": _int(stats, prefix + "status_error"),
        "not_fetched": {
            key: _int(stats, prefix + key)
            for key in ("over_page_count", "over_page_bytes", "over_host_cap", "over_css_depth")
            if _int(stats, prefix + key)
        },
    }


def crawl_stats(
    manifest: Mapping[str, Any], *, run_started: datetime, closing_seconds: float
) -> dict[str, Any]:
    """The stats.json document of a crawl, from its manifest."""
    stats: Mapping[str, Any] = manifest.get("stats") or {}
    files = list(manifest.get("files") or [])
    started = _time(manifest.get("started"))
    finished = _time(manifest.get("finished")) or datetime.now(UTC)
    requests = _int(stats, "downloader/request_count")
    errors = _errors(stats)
    failed = sum(v for k, v in errors.items() if k.startswith("download/") or k == "http/5xx")
    # The error rate is the pages' (and feeds', sitemaps'): a requisite that failed is
    # counted under "requisites" and never fails its page, nor the crawl.  Requisites are
    # tried once, so their downloads and failures are counted exactly.
    req = "archiver/requisites/"
    page_requests = requests - _int(stats, req + "fetched") - _int(stats, req + "failed")
    failed -= sum(
        _int(stats, req + k) for k in ("failed", "truncated/download_error", "status_5xx")
    )
    page_requests, failed = max(0, page_requests), max(0, failed)
    articles_new = _int(stats, "archiver/spider/articles") - _int(
        stats, "archiver/spider/articles_unchanged"
    )
    articles = {
        # Article pages archived in full (new or changed) and found to be articles.
        "captured": max(0, articles_new),
        "cleaned": _int(stats, "archiver/clean/articles"),
        # Seen again unchanged: a revisit record or a 304 answer.
        "unchanged": _int(stats, "archiver/spider/articles_unchanged")
        + _int(stats, "archiver/warc/not_modified"),
        # Not fetched: captured recently, and the recrawl policy says not yet.
        "skipped_recent": _int(stats, "archiver/recrawl/skipped"),
    }
    articles["seen"] = articles["captured"] + articles["unchanged"] + articles["skipped_recent"]
    waiting = list(manifest.get("uploads_waiting") or [])
    return {
        "stats_version": STATS_VERSION,
        "crawl_id": manifest.get("crawl_id"),
        "site": manifest.get("site"),
        "started": manifest.get("started"),
        "finished": manifest.get("finished"),
        "finish_reason": stats.get("finish_reason"),
        "resumed": _int(stats, "archiver/resume/runs") > 0,
        "pages": {
            "archived": _int(stats, "archiver/warc/responses"),
            "revisits": _int(stats, "archiver/warc/revisits"),
            "not_modified": _int(stats, "archiver/warc/not_modified"),
            "replayed": _int(stats, "archiver/resume/replayed"),
            "requests": requests,
        },
        "articles": articles,
        "requisites": requisite_stats(stats),
        "bytes": {
            "warc": sum(int(f.get("size") or 0) for f in files),
            "payload": _int(stats, "archiver/warc/payload_bytes"),
            "payload_deduplicated": _int(stats, "archiver/warc/payload_bytes_deduplicated"),
        },
        "errors": errors,
        "error_rate": round(failed / page_requests, 4) if page_requests else 0.0,
        "uploads": {
            # False when upload was off (no bucket): no file got a storage key.
            "enabled": any(f.get("key") for f in files) if files else None,
            "files": _int(stats, "archiver/upload/files"),
            "bytes": _int(stats, "archiver/upload/bytes"),
            "waiting": waiting,
        },
        "durations": {
            "crawl_seconds": round((finished - started).total_seconds(), 3) if started else None,
            "run_seconds": round((finished - run_started).total_seconds(), 3),
            "closing_seconds": round(closing_seconds, 3),
        },
    }


def assess(
    doc: Mapping[str, Any],
    *,
    previous_runs: Sequence[Mapping[str, Any]] = (),
    min_articles: int | None = None,
    max_error_rate: float = DEFAULT_MAX_ERROR_RATE,
) -> list[str]:
    """What is wrong with a finished run ([] when nothing), as short stable problem names."""
    problems = []
    reason = doc.get("finish_reason")
    if reason not in (None, "finished"):
        problems.append(f"finish_reason:{reason}")
    if (doc.get("uploads") or {}).get("waiting"):
        problems.append("uploads_waiting")
    seen = int((doc.get("articles") or {}).get("seen") or 0)
    if min_articles is not None:
        if seen < min_articles:
            problems.append(f"articles_below_minimum:{seen}<{min_articles}")
    elif seen == 0 and usually_yields_articles(previous_runs):
        problems.append("no_articles")
    rate = float(doc.get("error_rate") or 0.0)
    if rate > max_error_rate:
        problems.append(f"error_rate:{rate:.2f}>{max_error_rate:.2f}")
    return problems


def usually_yields_articles(runs: Sequence[Mapping[str, Any]]) -> bool:
    """Whether most of the last few finished runs saw articles (needs at least two)."""
    recent = [r for r in runs if r.get("finish_reason") == "finished"][-USUAL_RUNS:]
    if len(recent) < 2:
        return False
    counts = [int((r.get("articles") or {}).get("seen") or 0) for r in recent]
    return statistics.median(counts) > 0
