"""The recrawl policy: durations, and when a known page is fetched again, in full or not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from archiver.operations import (
    KnownPage,
    RecrawlPolicy,
    decide,
    format_duration,
    parse_duration,
)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
PUBLISHED = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def article(last_fetch: datetime, **kwargs: object) -> KnownPage:
    defaults: dict[str, object] = {
        "url": "https://ledger.example/a.html",
        "is_article": True,
        "published": PUBLISHED,
        "etag": '"abc"',
        "last_modified": "Tue, 24 Nov 2026 12:00:00 GMT",
    }
    defaults.update(kwargs)
    return KnownPage(last_fetch=last_fetch, **defaults)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("30m", 1800), ("6h", 21600), ("1d", 86400), ("2w", 1209600), ("1d12h", 129600)],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)
    assert parse_duration(format_duration(timedelta(seconds=seconds))) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "6", "six hours", "1y", "-1h", "1h-"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_new_urls_and_navigation_pages_are_always_fetched_in_full() -> None:
    policy = RecrawlPolicy()
    assert decide(policy, None, NOW) == decide(policy, None, NOW, listed_date=PUBLISHED)
    assert decide(policy, None, NOW).fetch
    section = article(NOW - timedelta(minutes=1), is_article=False)
    decision = decide(policy, section, NOW)
    assert decision.fetch and decision.reason == "navigation" and decision.headers == {}


@pytest.mark.parametrize(
    ("last_fetch_after_publication", "now_after_publication", "fetch", "reason"),
    [
        # Captured 10 minutes after publication: the 1 h look is due at 1 h 5 min.
        (timedelta(minutes=10), timedelta(minutes=30), False, "recent"),
        (timedelta(minutes=10), timedelta(hours=1, minutes=5), True, "after-publication:1h"),
        # Looked at 1 h 5 min; the next look is at 6 h.
        (timedelta(hours=1, minutes=5), timedelta(hours=5), False, "recent"),
        (timedelta(hours=1, minutes=5), timedelta(hours=6), True, "after-publication:6h"),
        # Several looks missed (the machine was off): one fetch catches up.
        (timedelta(minutes=10), timedelta(days=3), True, "after-publication:1h"),
        # After the last look (7 days) the article rests for good.
        (timedelta(days=7, hours=1), timedelta(days=60), False, "recent"),
    ],
)
def test_articles_are_looked_at_again_after_publication(
    last_fetch_after_publication: timedelta,
    now_after_publication: timedelta,
    fetch: bool,
    reason: str,
) -> None:
    known = article(PUBLISHED + last_fetch_after_publication)
    decision = decide(RecrawlPolicy(), known, PUBLISHED + now_after_publication)
    assert (decision.fetch, decision.reason) == (fetch, reason)
    if fetch:
        assert decision.headers == {
            "If-None-Match": '"abc"',
            "If-Modified-Since": "Tue, 24 Nov 2026 12:00:00 GMT",
        }


def test_every_undated_and_listed_updates() -> None:
    recent = article(NOW - timedelta(hours=2), published=PUBLISHED - timedelta(days=30))
    assert not decide(RecrawlPolicy(), recent, NOW).fetch
    assert decide(RecrawlPolicy(every=timedelta(hours=1)), recent, NOW).reason == "every:1h"
    assert decide(RecrawlPolicy(), recent, NOW, listed_date=NOW - timedelta(hours=1)).fetch
    undated = article(NOW - timedelta(hours=2), published=None)
    assert not decide(RecrawlPolicy(), undated, NOW).fetch
    assert decide(RecrawlPolicy(), undated, NOW + timedelta(days=1)).reason == "undated:1d"
    assert not decide(RecrawlPolicy(undated_every=None), undated, NOW + timedelta(days=99)).fetch
    # A listing date serves as publication date when the history has none.
    dated_by_feed = decide(RecrawlPolicy(), undated, NOW, listed_date=NOW - timedelta(hours=7))
    assert dated_by_feed.reason == "after-publication:6h"


def test_conditional_get_can_be_turned_off() -> None:
    due = article(PUBLISHED + timedelta(minutes=1))
    decision = decide(RecrawlPolicy(conditional_get=False), due, PUBLISHED + timedelta(hours=2))
    assert decision.fetch and decision.headers == {}
    no_validators = article(PUBLISHED + timedelta(minutes=1), etag=None, last_modified=None)
    assert decide(RecrawlPolicy(), no_validators, PUBLISHED + timedelta(hours=2)).headers == {}
