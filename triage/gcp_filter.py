"""Build the Cloud Logging filter that pushes a scan's scope to the server, so only candidates cross the wire.

The filter always carries both window bounds, ``timestamp>=`` the start and ``timestamp<`` the end (the window
is half-open): without a ``timestamp`` term the client library silently adds its own 24-hour one. The severity floor keeps, besides ``severity>=FLOOR``:

* ``severity=DEFAULT``: Cloud Run gives plain stdout/stderr lines no severity. Their level lives in the
  text (loguru ``| ERROR |``, gunicorn ``[ERROR]``), and a traceback printed line by line arrives as
  DEFAULT entries (frames, code, ``During handling …``) that are stitched back together locally.
* entries declared below the floor whose text (``textPayload``, or a JSON payload's ``message``, ``msg``,
  ``textPayload`` or ``event``: where the local pipeline finds the message) shows an error: a traceback header, frame, code or chain line,
  an exception line of a usual name (``…Error``, ``…Exception``, ``…Exit`` …), or a level marker at or above the
  floor. Runtimes that tag stdout lines INFO send tracebacks that way, and the stitcher joins traceback lines
  whatever severity they declare. (An exception of another name, ``AuthFailed: …``, tagged below the floor is not
  fetched: such a traceback shows without its exception line.)
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Sequence

from .errors import UsageError
from .model import DEFAULT_RESOURCE_TYPE, Severity, Window
from .rules_load import MatchSpec
from .window import format_time, iso_z, time_before

DEFAULT_WINDOW = timedelta(hours=1)
MAX_FILTER_CHARS = 20_000  # the API's limit
_SERVICE_LABELS = {"cloud_run_revision": ("service_name",), "cloud_run_job": ("job_name",)}
# Where an entry's message can be (see triage.entries.message_text): a structured log's message is its JSON
# payload's ``message``, ``msg``, ``textPayload`` or ``event``. The text terms below are tested on each.
MESSAGE_FIELDS = (
    "textPayload", "jsonPayload.message", "jsonPayload.msg", "jsonPayload.textPayload", "jsonPayload.event"
)

_TRACEBACK_TEXT = (
    "Traceback (most recent call last)",
    'File "',
    "During handling of the above exception",
    "The above exception was the direct cause",
)
# Traceback lines its header and frames do not announce (RE2): code lines (indented) and the exception line, of the
# usual exception names only, so that ordinary "Name: text" lines (uvicorn's "INFO: …") stay off the wire.
_TRACEBACK_REGEXES = (
    r"^\s",
    r"^([A-Za-z_]\w*\.)*[A-Za-z_]\w*(Error|Exception|Exit|Interrupt|Warning|Failure|Timeout)(:|$)",
)
# The level markers that infer a severity from text (see triage.entries), per level.
_LEVEL_MARKERS = {
    Severity.WARNING: ("| WARNING |", " - WARNING - ", "[WARNING]"),
    Severity.ERROR: ("| ERROR |", " - ERROR - ", "[ERROR]"),
    Severity.CRITICAL: ("| CRITICAL |", " - CRITICAL - ", "[CRITICAL]"),
}


def closed_window(window: Window, default: timedelta, now: datetime, present: datetime | None = None) -> Window:
    """The window with both bounds set: an open end becomes ``now`` (``--now`` or the clock), an open start
    ``end - default``. :class:`UsageError` when it starts at the ``present`` time (the clock's; ``now`` when not
    given) or later: Cloud Logging holds nothing there (a local time taken for UTC, a typo in the year)."""
    end = window.end or now
    start = window.start or time_before(end, default)
    present = present or now
    if start >= present:
        raise UsageError(
            f"the window starts at {format_time(start)}, not before now ({format_time(present)}): Cloud Logging holds "
            "nothing there yet (a time without an offset is UTC)"
        )
    return Window(start, end)


def build_filter(
    window: Window,
    services: Sequence[str] = (),
    min_severity: Severity = Severity.WARNING,
    resource_type: str | None = DEFAULT_RESOURCE_TYPE,
    extra: str | None = None,
    requests: Sequence[MatchSpec] = (),
) -> str:
    """The filter for ``entries.list``; ``window`` must be closed (see :func:`closed_window`).

    ``requests`` are the rule conditions on http status and latency: request logs that meet one are
    fetched whatever their severity (a slow request is logged at INFO).
    """
    if window.start is None or window.end is None:
        raise ValueError("a Cloud Logging filter needs both window bounds")
    terms = [f'timestamp>="{iso_z(window.start)}"', f'timestamp<"{iso_z(window.end)}"']
    if resource_type:
        terms.append(f"resource.type={quote(resource_type)}")
    if services:
        terms.append(service_term(services, resource_type))
    if min_severity > Severity.DEFAULT:
        terms.append(_severity_term(min_severity, requests))
    if extra and extra.strip():
        terms.append(_wrapped(extra.strip()))
    text = " AND ".join(terms)
    if len(text) > MAX_FILTER_CHARS:
        raise UsageError(f"the Cloud Logging filter has {len(text)} characters; the limit is {MAX_FILTER_CHARS}")
    return text


def _wrapped(extra: str) -> str:
    """``--filter`` in parentheses, to be ANDed in. One that would close them early (``a) OR (b``) would OR the rest
    of the query away (the window, the services): its parentheses and quotes must balance, read with ``--`` as
    the start of a comment and read without (the check then holds whichever way the API reads it). After a
    comment, the closing parenthesis goes on a line of its own."""
    if not (_balanced(extra, comments=True) and _balanced(extra, comments=False)):
        raise UsageError("--filter must balance its parentheses and quotes (also read with and without -- comments)")
    return f"({extra}\n)" if _has_comment(extra) else f"({extra})"


def _balanced(extra: str, *, comments: bool) -> bool:
    depth, quoted, escaped, comment = 0, False, False, False
    for at, char in enumerate(extra):
        if comment:
            comment = char != "\n"
        elif quoted:
            escaped, quoted = (False, True) if escaped else (char == "\\", char != '"')
        elif char == '"':
            quoted = True
        elif comments and extra.startswith("--", at):
            comment = True
        elif char in "()":
            depth += 1 if char == "(" else -1
            if depth < 0:
                return False
    return depth == 0 and not quoted


def _has_comment(extra: str) -> bool:
    """Whether ``--`` occurs outside a quoted string."""
    return any(part.count("--") for part in re.split(r'"(?:[^"\\]|\\.)*"', extra))


def _severity_term(floor: Severity, requests: Sequence[MatchSpec]) -> str:
    markers = [m for level, found in _LEVEL_MARKERS.items() if level >= floor for m in found]
    texts = [f"{field}:{quote(t)}" for field in MESSAGE_FIELDS for t in (*_TRACEBACK_TEXT, *markers)]
    texts += [f"{field}=~{quote(pattern)}" for field in MESSAGE_FIELDS for pattern in _TRACEBACK_REGEXES]
    return _any_of([f"severity>={floor.name}", "severity=DEFAULT", *texts, *_request_terms(requests)])


def _request_terms(specs: Sequence[MatchSpec]) -> list[str]:
    """One term per distinct rule condition on request fields, e.g. ``httpRequest.latency>="5s"``."""
    terms: list[str] = []
    for spec in specs:
        term = request_term(spec.http_status, spec.latency)
        if term and term not in terms:
            terms.append(term)
    return terms


def request_term(statuses: Sequence[tuple[int, int]], latency: tuple[str, float] | None) -> str | None:
    """The filter term for a condition on a request's status ranges and latency (None when there is none)."""
    parts = [_any_of([_status_range(lo, hi) for lo, hi in statuses])] if statuses else []
    if latency is not None:
        op, seconds = latency
        parts.append(f'httpRequest.latency{">=" if op in (">", ">=") else "<="}"{seconds:g}s"')
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"


def _status_range(lo: int, hi: int) -> str:
    return f"httpRequest.status={lo}" if lo == hi else f"(httpRequest.status>={lo} AND httpRequest.status<={hi})"


def service_term(services: Sequence[str], resource_type: str | None) -> str:
    """The condition that an entry comes from one of ``services``: a Cloud Run service's ``service_name`` label, a
    Cloud Run job's ``job_name`` (either, for another resource type or any)."""
    labels = _SERVICE_LABELS.get(resource_type or "", ("service_name", "job_name"))
    names = sorted(set(services))
    value = quote(names[0]) if len(names) == 1 else "(" + " OR ".join(map(quote, names)) + ")"
    return _any_of([f"resource.labels.{label}={value}" for label in labels])


def _any_of(terms: list[str]) -> str:
    return terms[0] if len(terms) == 1 else "(" + " OR ".join(terms) + ")"


def quote(value: str) -> str:
    """A filter string literal: double quotes, backslash and quote escaped, line breaks folded to spaces."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'
