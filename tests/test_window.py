"""Window options: durations, ISO times with offsets, anchoring, and clear errors."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from triage.errors import UsageError
from triage.model import Window
from triage.window import build_window, format_time, parse_duration, parse_keep

UTC = timezone.utc


@pytest.mark.parametrize(
    "text, seconds", [("90s", 90), ("30m", 1800), ("1h", 3600), ("2d", 172800), ("1.5h", 5400), ("1w", 604800)]
)
def test_durations(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "1", "h", "1y", "-1h", "1 hour", "0m", "0s", "0.0000001s", "1M"])
def test_bad_durations(text):
    with pytest.raises(UsageError, match="invalid duration"):
        parse_duration(text)


def test_since_is_relative_to_now():
    window = build_window(since="1h", now="2026-11-28T03:00:00+01:00")
    assert window == Window(datetime(2026, 11, 28, 1, tzinfo=UTC), datetime(2026, 11, 28, 2, tzinfo=UTC))


def test_since_before_until():
    window = build_window(since="30m", end="2026-11-28T02:00:00Z")
    assert window.start == datetime(2026, 11, 28, 1, 30, tzinfo=UTC)


def test_from_until_with_offsets():
    window = build_window(start="2026-11-28T01:00:00-05:00", end="2026-11-28T07:00:00+00:00")
    assert window == Window(datetime(2026, 11, 28, 6, tzinfo=UTC), datetime(2026, 11, 28, 7, tzinfo=UTC))


def test_no_options_reads_everything():
    assert build_window() == Window(None, None)


def test_errors():
    with pytest.raises(UsageError, match="--since and --from"):
        build_window(since="1h", start="2026-11-28T00:00:00Z")
    with pytest.raises(UsageError, match="--from: invalid time 'yesterday'"):
        build_window(start="yesterday")
    with pytest.raises(UsageError, match=r"--from: invalid time '0001-01-01T00:00:00Z': use ISO-8601 \(years 2 to 9998\)"):
        build_window(start="0001-01-01T00:00:00Z")
    with pytest.raises(UsageError, match=r"must end after it starts \(2026-11-28T02:00:00Z → 2026-11-28T01:00:00Z\)"):
        build_window(start="2026-11-28T02:00:00Z", end="2026-11-28T01:00:00Z")


def test_window_contains_and_format():
    window = Window(datetime(2026, 11, 28, 1, tzinfo=UTC), datetime(2026, 11, 28, 2, tzinfo=UTC))
    assert window.contains(datetime(2026, 11, 28, 1, tzinfo=UTC))
    assert not window.contains(datetime(2026, 11, 28, 2, 0, 1, tzinfo=UTC))
    assert not window.contains(datetime(2026, 11, 28, 2, tzinfo=UTC)), "the end is exclusive"
    assert window.contains(datetime(2026, 11, 28, 1, 59, 59, 999999, tzinfo=UTC))
    assert not window.contains(None)
    assert Window(None, None).contains(None)
    assert format_time(datetime(2026, 11, 28, 3, 4, 5, 999, tzinfo=timezone(timedelta(hours=2)))) == "2026-11-28T01:04:05Z"


def test_years_below_1000_format_with_four_digits():
    assert format_time(datetime(1, 1, 1, tzinfo=UTC)) == "0001-01-01T00:00:00Z"
    assert format_time(datetime(999, 12, 31, 23, 59, 59, 5, tzinfo=UTC)) == "0999-12-31T23:59:59Z"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"since": "99999999999w"},
        {"since": "999999d", "now": "0001-01-02T00:00:00Z"},
        {"end": "0001-01-01T00:00:00+01:00"},
    ],
)
def test_out_of_range_windows_are_usage_errors(kwargs):
    with pytest.raises(UsageError):
        build_window(**kwargs)


def test_keep_must_reach_back_no_further_than_year_one():
    assert parse_keep("3650d") == timedelta(days=3650)
    with pytest.raises(UsageError, match=r"^--keep: invalid duration '800000d': reaches back before year 1$"):
        parse_keep("800000d", "--keep")


@pytest.mark.parametrize("kwargs", [{"since": ""}, {"start": ""}, {"end": ""}, {"now": "", "since": "1h"}])
def test_empty_window_options_are_errors(kwargs):
    with pytest.raises(UsageError, match="invalid"):
        build_window(**kwargs)


def test_an_upper_case_m_is_refused_as_ambiguous():
    with pytest.raises(UsageError, match=r"^--since: invalid duration '1M': M could mean minutes or months"):
        parse_duration("1M", "--since")
    assert parse_duration("1MIN") == timedelta(minutes=1)
