"""Parse ``--since``, ``--from``, ``--until`` and ``--now`` into a :class:`Window`."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from .entries import parse_timestamp
from .errors import UsageError
from .model import Window

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hr|d|w)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str, option: str | None = None) -> timedelta:
    """``90s``, ``30m``, ``1h``, ``2d``, ``1w`` → a timedelta of at least 1 µs; ``option`` prefixes errors."""
    problem = f"{option}: " if option else ""
    match = _DURATION.match(text)
    if not match:
        raise UsageError(f"{problem}invalid duration {text!r}: use a number and a unit, e.g. 90s, 30m, 1h, 2d")
    if match.group(2) == "M":
        raise UsageError(f"{problem}invalid duration {text!r}: M could mean minutes or months; use m (minutes) or d")
    try:
        span = timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()])
    except OverflowError:
        raise UsageError(f"{problem}invalid duration {text!r}: too long") from None
    if not span:
        raise UsageError(f"{problem}invalid duration {text!r}: must be longer than 0 (at least 1µs)")
    return span


def parse_keep(text: str, option: str | None = None) -> timedelta:
    """How long scan history is kept: a :func:`parse_duration` that reaches back no further than year 1."""
    span = parse_duration(text, option)
    try:
        datetime.now(timezone.utc) - span
    except OverflowError:
        problem = f"{option}: " if option else ""
        raise UsageError(f"{problem}invalid duration {text!r}: reaches back before year 1") from None
    return span


def time_before(ts: datetime, span: timedelta) -> datetime:
    """``ts - span``; :class:`UsageError` when that is before the first representable time."""
    try:
        return ts - span
    except OverflowError:
        raise UsageError(f"the window reaches back before year 1 ({format_time(ts)} minus {span})") from None


def parse_time(text: str, option: str) -> datetime:
    """ISO-8601 with any offset (``Z``, ``+02:00``; naive means UTC) → aware UTC datetime."""
    ts = parse_timestamp(text)
    if ts is None:
        raise UsageError(f"{option}: invalid time {text!r}: use ISO-8601 (years 2 to 9998), e.g. 2026-11-28T03:00:00Z")
    return ts


def build_window(
    since: str | None = None, start: str | None = None, end: str | None = None, now: str | None = None
) -> Window:
    """The half-open scan window ``[from, until)``; with no option it is open on both sides (a file is read whole)."""
    if since is not None and start is not None:
        raise UsageError("--since and --from both set the window start: use one")
    anchor = parse_time(now, "--now") if now is not None else datetime.now(timezone.utc)
    until = parse_time(end, "--until") if end is not None else None
    if since is not None:
        lower = time_before(until or anchor, parse_duration(since, "--since"))
        until = until or anchor
    else:
        lower = parse_time(start, "--from") if start is not None else None
        if lower is not None and until is None and now is not None:
            until = anchor
    if lower and until and lower >= until:
        raise UsageError(f"the window must end after it starts ({format_time(lower)} → {format_time(until)})")
    return Window(lower, until)


def iso_z(ts: datetime | None) -> str | None:
    """UTC ISO-8601 at full precision with ``Z`` (the JSON form), or None."""
    return None if ts is None else ts.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def format_time(ts: datetime | None) -> str:
    """UTC ISO-8601 with ``Z`` (seconds precision), or ``-``."""
    if ts is None:
        return "-"
    return ts.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
