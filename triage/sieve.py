"""Tell, from a raw LogEntry mapping and without building its :class:`Entry`, that the scan can only count it.

Most traffic is healthy: request logs and chatter below the severity floor. Such a record is *quiet* when
it is surely below the floor, no rule on requests can want it, and it can be no part of a split traceback;
the scan then counts it and drops it, which costs little more than its parse. Every test here is
conservative: a record it cannot clear takes the full way (``to_entry``, stitching, the floor), which
decides exactly. So a quiet record is one the full way would have dropped.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from .entries import declared_level, exception_line, message_text, parse_latency, payload_traceback, request_summary, to_int
from .model import Severity
from .rules import RuleSet

# Words by which a text announces a level (see entries.infer_severity), by the level they announce.
_LEVEL_WORDS = {
    Severity.DEBUG: ("debug", "trace"),
    Severity.INFO: ("info", "success"),
    Severity.NOTICE: ("notice",),
    Severity.WARNING: ("warn",),
    Severity.ERROR: ("error",),
    Severity.CRITICAL: ("crit", "fatal"),  # critical, nginx's [crit]
    Severity.ALERT: ("alert",),
    Severity.EMERGENCY: ("emerg",),
}
# Words of a Python traceback (header, chained-exception joiners, exception names) or its inferred ERROR.
_TRACEBACK_WORDS = ("traceback", "exception", "error", "exit", "interrupt")

# A superset of what makes a line a stitching candidate (see stitch._kind): at its start, an indent, a frame
# (also loguru's "> File"), an exception line ``[module.]Name[: message]``; anywhere, a header or a joiner;
# and what cleaning would change (ANSI codes, loguru markup) or a second line.
_CANDIDATE_START = re.compile(r"[\s>]|File |(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?::(?:\s.*)?)?$")
_CANDIDATE_ANYWHERE = ("\n", "\x1b", "<", "Traceback", "exception")
_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"))
# Severity.DEFAULT looked up once: a class attribute of an enum is read through its metaclass's __getattr__ hook,
# as slow as a function call, and this is read for every record.
_DEFAULT = Severity.DEFAULT


class Sieve:
    """Decides :meth:`quiet` for a scan's severity floor and rule set."""

    def __init__(self, floor: Severity, rules: RuleSet):
        self._floor = floor
        self._candidate_from = min(floor, Severity.ERROR)  # ERROR+ entries are stitching candidates
        self._rules = rules
        loud = {word for level, words in _LEVEL_WORDS.items() if level >= self._candidate_from for word in words}
        self._loud = tuple(sorted(loud.union(_TRACEBACK_WORDS)))

    def quiet(self, data: Mapping[str, Any]) -> bool:
        """True when the full way would surely drop ``data``: below the floor, wanted by no rule, no part of a
        traceback."""
        if self._floor is _DEFAULT or "protoPayload" in data:
            return False
        if "textPayload" not in data and "jsonPayload" not in data and "logName" not in data:
            return False  # a snake_case dump: to_entry renames its keys first
        payload = data.get("jsonPayload")
        if not isinstance(payload, dict):
            payload = None
        text = message_text(data, payload)
        if payload is not None:
            error = payload.get("error")
            if isinstance(error, dict) and (text is None or exception_line(error)):
                return False  # the message may be or end in "Type: value" (an exception line)
            if payload_traceback(payload) is not None:
                return False  # a traceback beside the message (its error's or a field of its own) ends the message
        http = data.get("httpRequest")
        if not isinstance(http, dict) or not http:
            http = None
        if text is None and http is None:
            return False  # the message is a rendering of the payload (or nothing): left to the full way
        declared = declared_level(data, payload)
        if text is None:  # the message is the request's summary
            if declared is None or declared is _DEFAULT or declared >= self._candidate_from:
                return False
            if _summary_joinable(http):
                return False
        elif declared is None or declared is _DEFAULT:
            # the level is inferred from the message: no level word at or above the floor, no traceback
            if self._loud_text(text) or _joinable(text):
                return False
        elif declared >= self._candidate_from or _joinable(text):
            return False
        if http is None:
            return True
        return not self._rules.may_want_request(to_int(http.get("status")), parse_latency(http.get("latency")))

    def _loud_text(self, text: str) -> bool:
        lowered = text.lower()
        for word in self._loud:
            if word in lowered:
                return True
        return False


def _summary_joinable(http: Mapping[str, Any]) -> bool:
    """Whether the summary ``to_entry`` makes of a request without text may be a stitching candidate. With a
    standard method it starts ``GET /…`` (no candidate start), so only its free text (URL, latency) can
    hold what :func:`_joinable` looks for anywhere; the status and its phrase never do."""
    method = http.get("requestMethod")
    if not isinstance(method, str) or method not in _METHODS:
        return _joinable(request_summary(http))
    for value in (http.get("requestUrl"), http.get("latency")):
        if value is not None:
            text = str(value)
            for part in _CANDIDATE_ANYWHERE:
                if part in text:
                    return True
    return False


def _joinable(text: str) -> bool:
    """Whether ``text`` may be a stitching candidate."""
    text = text.rstrip("\r\n")
    if _CANDIDATE_START.match(text):
        return True
    for part in _CANDIDATE_ANYWHERE:
        if part in text:
            return True
    return False
