"""Normalize a LogEntry mapping (camelCase or the client library's snake_case) into an :class:`Entry`.

Message: ``textPayload``, else ``jsonPayload.message``, else ``jsonPayload.textPayload``, the payload's
``error`` value, ``protoPayload.status.message``, a request summary, else a compact rendering of the
payload. Severity: the entry's own; for DEFAULT or absent it is inferred from the text (loguru
``| ERROR |``, stdlib ``- WARNING -``, gunicorn ``[ERROR]``, uvicorn ``ERROR:``, a Python traceback).
An ``error`` object on an INFO line does not make it an error: only severity decides.
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Hashable, Mapping
from http import HTTPStatus
from urllib.parse import unquote, urlsplit

import orjson

from .model import DEFAULT_RESOURCE_TYPE, Entry, Severity

EMPTY_MESSAGE = "(empty message)"

_SNAKE_KEYS = {
    "text_payload": "textPayload",
    "json_payload": "jsonPayload",
    "proto_payload": "protoPayload",
    "log_name": "logName",
    "insert_id": "insertId",
    "http_request": "httpRequest",
    "span_id": "spanId",
    "receive_timestamp": "receiveTimestamp",
}
_PAYLOAD_KEYS = frozenset(("textPayload", "jsonPayload", "protoPayload", "payload"))
# LogEntry fields other than the payload, camelCase and as the client library names those it does not rename.
_LOG_ENTRY_FIELDS = frozenset((
    "logName", "resource", "timestamp", "receiveTimestamp", "severity", "insertId", "httpRequest", "labels",
    "operation", "trace", "spanId", "traceSampled", "sourceLocation", "split", "errorGroups",
    "trace_sampled", "source_location", "received_timestamp",
))
# Every key a LogEntry may have, camelCase or snake_case (what tells an entry from an object wrapping entries).
LOG_ENTRY_KEYS = _LOG_ENTRY_FIELDS | _PAYLOAD_KEYS | frozenset(_SNAKE_KEYS)
# Special fields of a structured log line, as Cloud Logging's agent files them.
_AGENT_FIELDS = {
    f"logging.googleapis.com/{name}": field_name
    for name, field_name in (
        ("trace", "trace"), ("spanId", "spanId"), ("trace_sampled", "traceSampled"), ("insertId", "insertId"),
        ("labels", "labels"), ("operation", "operation"), ("sourceLocation", "sourceLocation"),
    )
}
_SNAKE_HTTP_KEYS = {"request_method": "requestMethod", "request_url": "requestUrl"}

# Terminal escapes: CSI (colours, cursor), OSC (titles, hyperlinks; ended by BEL or ST), charset and
# two-byte escapes (``tput sgr0`` writes ``ESC ( B``).
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[()*+][0-9A-Za-z]|[78=>DEHMNOZc])")
# Loguru colour markup: names and their abbreviations (upper case: background), ``fg``/``bg`` values, ``</>``.
_LOGURU_MARKUP = re.compile(
    r"</?(?:red|green|yellow|blue|magenta|cyan|white|black|level|bold|b|dim|d|normal|n|italic|i|"
    r"underline|u|strike|s|reverse|r|v|blink|l|hide|h|e|k|c|g|m|w|y|light-[a-z]+|l[kecgmrwy]|"
    r"RED|GREEN|YELLOW|BLUE|MAGENTA|CYAN|WHITE|BLACK|LIGHT-[A-Z]+|L[KECGMRWY]|fg [^>]+|bg [^>]+)>|</>"
)
_LEVEL_IN_TEXT = re.compile(
    r"\|\s*(?P<a>TRACE|DEBUG|INFO|SUCCESS|WARNING|ERROR|CRITICAL)\s*\|"  # loguru
    r"| - (?P<b>DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL) - "  # stdlib logging
    r"|\[(?P<c>DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL)\]"  # gunicorn
    r"|^(?P<d>DEBUG|INFO|WARNING|ERROR|CRITICAL):\s"  # uvicorn
    r"|^(?P<f>DEBUG|INFO|WARNING|ERROR|CRITICAL):[\w.-]*:"  # stdlib's default format (LEVEL:logger:message)
    r"|^(?P<g>DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL)[ \t]"  # a leading level word (ERROR something failed)
    r"|^(?P<j>Error)(?::[ \t]| -?\d+ )"  # a printed error: "Error: …", redis-py's "Error -3 connecting to …"
    r"|^(?:[A-Za-z]:)?(?:<[^>\n]+>|[^\s:]+):\d+: [A-Z]\w*(?P<w>Warning): "  # Python's warnings: "path:12: RuntimeWarning: …"
    # after a leading time: logging's "%(asctime)s %(levelname)s", nginx's "2026/01/01 00:00:01 [error]"
    r"|^\[?\d{4}[-/]\d\d[-/]\d\d[T ][\d:.,]+(?:[ \t]?(?:Z|[+-]\d\d:?\d\d))?\]?[ \t]+"  # logback's "… 10:00:05 -0800"
    r"(?:(?P<h>DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL)\b|\[(?P<i>debug|info|notice|warn|error|crit|alert|emerg)\])"
    r"|\blevel=(?P<e>debug|info|warn|warning|error|critical|fatal)\b"  # logfmt
)
# Level words a line merely starts with ("INFO request failed", "ERROR:root:…"): a traceback in the same entry
# outweighs a lower one. A framework's own level field (loguru's, gunicorn's …) is kept as it says.
_LEADING_WORDS = frozenset(("f", "g", "h"))
_TRACEBACK_HINT = re.compile(
    r"^Traceback \(most recent call last\)|^\s+File \"[^\"]+\", line \d+|^[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt):"
)
_INFER_SCAN_CHARS = 300
# Severity members looked up once: a class attribute of an enum is read through its metaclass's __getattr__ hook,
# as slow as a function call, and these are read for every record.
_DEFAULT, _INFO, _ERROR = Severity.DEFAULT, Severity.INFO, Severity.ERROR
_STATUS_PHRASES = {status.value: status.phrase for status in HTTPStatus}
_LOG_PREFIX = re.compile(
    r"^(?:\S+ \S+|<TS>) \|\s*[A-Z]+\s*\| [^|]*\| "  # loguru: time | LEVEL | where |
    r"|^(?:\S+ \S+|<TS>) - (?:[\w.-]+ - )+[A-Z]+ - "  # stdlib: time - name(s) - LEVEL -
    r"|^\[[^\]]+\] \[[^\]]+\] \[[A-Z]+\] "  # gunicorn: [time] [pid] [LEVEL]
    r"|^(?:<TS>|\d{4}[-/]\d\d[-/]\d\d[T ]\S+|\d{4}/\d\d/\d\d <TS>)(?:[ \t][+-]\d\d:?\d\d)?[ \t]+"  # a time, then: logging's level, nginx's
    r"(?:(?:DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL)|\[(?:debug|info|notice|warn|error|crit|alert|emerg)\])[ \t]+"
    r"|^(?:DEBUG|INFO|WARNING|ERROR|CRITICAL):(?:\s+|[\w.-]*:)"  # uvicorn; stdlib's default format
)


def to_entry(data: Mapping[str, Any], location: str = "", source: str = "", position: int | None = None) -> Entry:
    """Build an Entry from one LogEntry mapping read at ``location`` (line or number ``position``) of ``source``."""
    if "textPayload" not in data and "jsonPayload" not in data and "logName" not in data:
        data = _camel(data)
    payload = data.get("jsonPayload")
    if not isinstance(payload, dict):
        payload = None
    http = data.get("httpRequest") if isinstance(data.get("httpRequest"), dict) else None
    message = clean_text(_message(data, payload, http))
    severity, inferred = _severity(data, payload, message)
    resource_labels = _mapping(_mapping(data.get("resource")).get("labels"))
    labels = _mapping(data.get("labels"))
    return Entry(
        timestamp=parse_timestamp(data.get("timestamp")),
        severity=severity,
        message=message or EMPTY_MESSAGE,
        service=_service(resource_labels),
        revision=_text(resource_labels.get("revision_name")),
        region=_text(resource_labels.get("location")),
        project=_text(resource_labels.get("project_id")),
        instance=_text(labels.get("instanceId")),
        log_name=_short_log_name(_text(data.get("logName"))),
        trace=_text(data.get("trace")),
        http_status=to_int(http.get("status")) if http else None,
        latency_s=parse_latency(http.get("latency")) if http else None,
        severity_inferred=inferred,
        location=location,
        insert_id=_text(data.get("insertId")),
        source=source,
        position=position,
        raw=data,
    )


def service_of(data: Mapping[str, Any]) -> str | None:
    """The service of a camelCase ``data`` as :func:`to_entry` reads it (for records not built into entries)."""
    return _service(_mapping(_mapping(data.get("resource")).get("labels")))


def resource_type_of(data: Mapping[str, Any]) -> str | None:
    """The resource type of a camelCase ``data``: its ``resource.type``, else a Cloud Run job's or service's by the
    label it names (a gcloud table export has no type column); None when nothing says."""
    resource = _mapping(data.get("resource"))
    kind = resource.get("type")
    if isinstance(kind, str) and kind:
        return kind
    labels = _mapping(resource.get("labels"))
    if labels.get("job_name"):
        return "cloud_run_job"
    return DEFAULT_RESOURCE_TYPE if labels.get("service_name") or labels.get("revision_name") else None


def _service(resource_labels: Mapping[str, Any]) -> str | None:
    """A Cloud Run service's name, or a Cloud Run job's."""
    return (_text(resource_labels.get("service_name")) or _text(resource_labels.get("configuration_name"))
            or _text(resource_labels.get("job_name")))


def stream_key(instance: str | None, service: str | None, log_name: str | None) -> Hashable:
    """The stream an entry belongs to (what stitching keys on): its instance's log, else its service's."""
    if instance:
        return ("instance", instance, log_name)
    return ("service", service, log_name)


def stream_of(data: Mapping[str, Any]) -> Hashable:
    """The :func:`stream_key` of a camelCase ``data``, its fields read as :func:`to_entry` reads them."""
    labels = data.get("labels")
    instance = _text(labels.get("instanceId")) if isinstance(labels, dict) else None
    log_name = _short_log_name(_text(data.get("logName")))
    return stream_key(instance, None if instance else service_of(data), log_name)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    """A label value as text: strings as they are, numbers printed, anything else (lists, objects) None."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _camel(data: Mapping[str, Any]) -> dict:
    """Rename the client library's snake_case keys; a bare ``payload`` becomes the text, proto or JSON payload.
    A record with no payload at all (an application's own JSON line) keeps its LogEntry fields, takes the
    special fields Cloud Run's logging agent reads from structured stdout, and the rest becomes its JSON payload."""
    out = {_SNAKE_KEYS.get(k, k): v for k, v in data.items()}
    if "payload" in out and "textPayload" not in out and "jsonPayload" not in out:
        payload = out.pop("payload")
        if isinstance(payload, str):
            out["textPayload"] = payload
        elif isinstance(payload, dict) and "@type" in payload:
            out["protoPayload"] = payload
        elif payload is not None:
            out["jsonPayload"] = payload
    if not _PAYLOAD_KEYS.intersection(out):
        payload = {k: v for k, v in out.items() if k not in _LOG_ENTRY_FIELDS}
        if payload:
            out = {k: v for k, v in out.items() if k in _LOG_ENTRY_FIELDS}
            out["jsonPayload"] = payload
            _read_agent_fields(payload, out)
    http = out.get("httpRequest")
    if isinstance(http, dict):
        out["httpRequest"] = {_SNAKE_HTTP_KEYS.get(k, k): v for k, v in http.items()}
    return out


def _read_agent_fields(payload: dict, out: dict) -> None:
    """Move the fields Cloud Logging's agent reads from a structured line (``time``, ``timestampSeconds``/
    ``timestampNanos``, ``logging.googleapis.com/trace`` …) from ``payload`` to the entry ``out``."""
    for key, field_name in _AGENT_FIELDS.items():
        if key in payload:
            value = payload.pop(key)
            out.setdefault(field_name, value)
    if "timestamp" not in out:
        if "time" in payload:
            out["timestamp"] = payload.pop("time")
        elif "timestampSeconds" in payload:
            seconds, nanos = payload.pop("timestampSeconds"), payload.pop("timestampNanos", 0)
            stamp = _from_unix({"seconds": seconds, "nanos": nanos})
            if stamp is not None:
                out["timestamp"] = stamp


def message_text(data: Mapping[str, Any], payload: Mapping | None) -> str | None:
    """The record's message when it is one of its texts: ``textPayload``, else the JSON payload's
    ``message``, ``textPayload``, ``msg`` or ``event`` (structlog's); None when it has none (the message is then
    made of other fields)."""
    text = data.get("textPayload")
    if isinstance(text, str) and text and not text.isspace():
        return text
    if payload is not None:
        for key in ("message", "textPayload", "msg", "event"):
            value = payload.get(key)
            if isinstance(value, str) and value and not value.isspace():
                return value
    return None


def _message(data: Mapping[str, Any], payload: Mapping | None, http: Mapping | None) -> str:
    text = message_text(data, payload)
    if text is not None:
        return text if payload is None else _with_traceback(_with_exception(text, payload), payload)
    if payload is not None:
        error = payload.get("error")
        line = exception_line(error) if isinstance(error, dict) else ""
        tb = payload_traceback(payload)
        if tb is not None:  # the traceback tells it apart; its exception line goes first unless it ends in it
            return tb.rstrip() if not line or _ends_in(tb, line) else f"{line}\n{tb.rstrip()}"
        if line:
            return line
    proto = data.get("protoPayload")
    if isinstance(proto, dict):
        status = proto.get("status")
        if isinstance(status, dict) and status.get("message"):
            return str(status["message"])
        method = proto.get("methodName")
        if method:
            return f"{method} {proto.get('resourceName', '')}".strip()
    if http:
        return request_summary(http)
    for value in (data.get("jsonPayload"), data.get("textPayload")):  # an object, a list, a number…
        if isinstance(value, str):  # a text jsonPayload (a text textPayload is the message already)
            if value.strip():
                return value
        elif value is not None and value != {} and value != []:
            return _compact_json(value)
    return ""


def _compact_json(value: Any) -> str:
    """``value`` as compact JSON with sorted keys, cut to 2000 characters (for a message made of a payload)."""
    try:
        text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:  # orjson reads deeper nesting (1024 levels) than it writes (254)
        try:
            text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
        except (RecursionError, TypeError, ValueError):
            text = f"({type(value).__name__} payload too deeply nested to show)"
    return text[:2000]


def _with_exception(message: str, payload: Mapping) -> str:
    """Append the structured error's ``Type: value`` line when the message does not say it already (``"Unhandled
    exception in request handler"`` with ``error: {type: KeyError, value: 'thread_id'}``) and no traceback that
    ends in it comes with it: which exception it was tells failures apart."""
    error = payload.get("error")
    if not isinstance(error, dict):
        return message
    line = exception_line(error)
    value = _text(error.get("value"))
    if not line or line in message or (value and value in message) or _ends_in(payload_traceback(payload), line):
        return message
    return f"{message}\n{line}"


def _ends_in(traceback: str | None, line: str) -> bool:
    """Whether ``traceback`` ends in the exception line ``line`` (its last line, unindented, says it: a frame's
    indented code line ``raise TimeoutError()`` does not)."""
    if traceback is None:
        return False
    last = traceback.rstrip().rsplit("\n", 1)[-1]
    return not last[:1].isspace() and line in last


def exception_line(error: Mapping[str, Any]) -> str:
    """``Type: value`` of a structured error, from its ``type`` and ``value`` when they are text or numbers (an
    object there is no exception line); "" when neither is."""
    return ": ".join(part for part in (_text(error.get("type")), _text(error.get("value"))) if part)


# Where structured loggers put a traceback beside the message: Error Reporting's ``stack_trace``,
# python-json-logger's ``exc_info``, structlog's ``exception``.
TRACEBACK_FIELDS = ("stack_trace", "exc_info", "exception")


def payload_traceback(payload: Mapping) -> str | None:
    """The traceback a JSON payload carries beside its message (its structured error's, else one of
    :data:`TRACEBACK_FIELDS`); None when it carries none."""
    error = payload.get("error")
    if isinstance(error, dict):
        tb = error.get("traceback")
        if isinstance(tb, str) and tb.strip():
            return tb
    for field in TRACEBACK_FIELDS:
        tb = payload.get(field)
        if isinstance(tb, str) and tb.strip():
            return tb
    return None


def _with_traceback(message: str, payload: Mapping) -> str:
    """Append the payload's traceback so that clustering can use its frames (and its exception line)."""
    tb = payload_traceback(payload)
    if tb is not None and tb.strip().replace("\r\n", "\n") not in message.replace("\r\n", "\n"):
        return f"{message}\n{tb.rstrip()}"
    return message


def request_summary(http: Mapping[str, Any]) -> str:
    """``GET /api/threads → 404 Not Found (0.120s)``: the path without host or query, the status with its
    phrase (the message of a request log without text)."""
    path = _url_path(str(http.get("requestUrl", "")))
    status = to_int(http.get("status"))
    phrase = _STATUS_PHRASES.get(status, "") if status else ""
    summary = f"{http.get('requestMethod', '')} {path} → {status if status else '?'} {phrase}".strip()
    latency = http.get("latency")
    return f"{summary} ({latency})" if latency else summary


# Loguru's colour tags by name (not the one-letter ones, <b> <i> <s> …, nor </>: HTML, model tokens and JSX use those).
_COLOUR_TAG = re.compile(r"<(/?)((?:light-)?(?:red|green|yellow|blue|magenta|cyan|white|black)|level)>", re.IGNORECASE)


def markup_balance(text: str) -> tuple[str | None, str | None]:
    """The loguru colour ``text`` closes without opening it (the rest of a message Cloud Run split at a line break,
    ``" does not exist</red>"`` → ``red``), and the one it leaves open (its first part, ``<red>… "netra_dev`` →
    ``red``); None for either when there is none."""
    open_tags: list[str] = []
    closes = None
    for tag in _COLOUR_TAG.finditer(text):
        name = tag[2].lower()
        if not tag[1]:
            open_tags.append(name)
        elif open_tags and open_tags[-1] == name:
            open_tags.pop()
        elif not open_tags and closes is None:
            closes = name
    return closes, open_tags[-1] if open_tags else None


def clean_text(text: str) -> str:
    """Strip ANSI escape codes and leaked loguru colour markup."""
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    if "<" in text and ">" in text:
        text = _LOGURU_MARKUP.sub("", text)
    return text.strip("\r\n")


def _severity(data: Mapping[str, Any], payload: Mapping | None, message: str) -> tuple[Severity, bool]:
    declared = declared_level(data, payload)
    if declared is not None and declared is not _DEFAULT:
        return declared, False
    inferred = infer_severity(message)
    if inferred is None and payload is not None and payload_traceback(payload) is not None:
        inferred = _ERROR  # a stack trace of any language (Java's, Go's …) in a field of its own
    return (inferred, True) if inferred is not None else (_DEFAULT, False)


def declared_level(data: Mapping[str, Any], payload: Mapping | None) -> Severity | None:
    """The level a record declares: its own severity, else its JSON payload's ``severity``, ``level`` or
    ``levelname`` (python-json-logger's); None when none is there (DEFAULT when it says so)."""
    declared = declared_severity(data.get("severity"))
    if (declared is None or declared is _DEFAULT) and payload is not None:
        level = payload.get("severity") or payload.get("level") or payload.get("levelname")
        declared = declared_severity(level) or declared
    return declared


def declared_severity(value: Any) -> Severity | None:
    """A severity value (name or number) as a Severity; None when absent or unknown."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return _severity_named(value)
    if isinstance(value, int):
        try:
            return Severity(value)
        except ValueError:
            return None
    try:
        return Severity.parse(str(value))
    except ValueError:
        return None


@lru_cache(maxsize=64)
def _severity_named(name: str) -> Severity | None:
    """A level name, or a LogSeverity number written as text (``"500"``)."""
    if name.isascii() and name.isdigit() and len(name) <= 3:
        return declared_severity(int(name))
    try:
        return Severity.parse(name)
    except ValueError:
        return None


def infer_severity(message: str) -> Severity | None:
    """The level a DEFAULT entry's text announces, or None when it says nothing."""
    head = message[:_INFER_SCAN_CHARS]
    match = _LEVEL_IN_TEXT.search(head)
    traceback = _TRACEBACK_HINT.search(head) is not None or "Traceback (most recent call last)" in message
    if match:
        level = next(g for g in match.groups() if g).upper()
        found = _INFO if level == "SUCCESS" else Severity.parse(level)  # NOTICE, CRIT and EMERG are names too
        return max(found, _ERROR) if traceback and match.lastgroup in _LEADING_WORDS else found
    return _ERROR if traceback else None


def strip_log_prefix(text: str) -> str:
    """The message without a leading logging-framework prefix (time, level, logger): for titles."""
    return _LOG_PREFIX.sub("", text, count=1)


# A time within a year of datetime's limits (Go's zero time 0001-01-01, 9999-12-31 placeholders) is no usable
# time: it would overflow the arithmetic done on times (stitching gaps, windows, Logs Explorer links).
_EARLIEST = datetime(2, 1, 1, tzinfo=timezone.utc)
_LATEST = datetime(9998, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def parse_timestamp(value: Any) -> datetime | None:
    """ISO-8601 (any offset, up to nanoseconds) → aware UTC datetime; naive times are taken as UTC. A number is
    a Unix time in seconds, milliseconds, microseconds or nanoseconds (told apart by its size), an object
    ``{"seconds": …, "nanos": …}`` a protobuf Timestamp. None when unreadable or within a year of datetime's limits."""
    if value.__class__ is str:  # the common case first, as the general way below would read it
        try:
            ts = datetime.fromisoformat(value)
        except ValueError:
            ts = None
        if ts is not None and ts.tzinfo is timezone.utc:
            return ts if _EARLIEST <= ts <= _LATEST else None
    if not value:
        return None
    if isinstance(value, datetime):
        ts = value
    elif isinstance(value, (int, float, dict)) and not isinstance(value, bool):
        ts = _from_unix(value)
        if ts is None:
            return None
    else:
        text = str(value).strip()
        if "," in text:
            text = text.replace(",", ".")
        try:
            ts = datetime.fromisoformat(text)
        except ValueError:
            try:
                ts = datetime.fromisoformat(text.upper())  # RFC 3339 allows a lower-case "t" and "z"
            except ValueError:
                return None
    if ts.tzinfo is not timezone.utc:
        try:
            ts = ts.replace(tzinfo=timezone.utc) if ts.tzinfo is None else ts.astimezone(timezone.utc)
        except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before the first representable UTC time
            return None
    return ts if _EARLIEST <= ts <= _LATEST else None


def _from_unix(value: float | dict) -> datetime | None:
    """A Unix time after 2001-09-09 (1e9 seconds: a smaller number is a count, not a time, and 20260101 no date in
    seconds), or a protobuf Timestamp object. Exact to the microsecond, cut like an ISO time's nanoseconds (no
    binary float rounding): the same event reads the same in every shape of export."""
    try:
        if isinstance(value, dict):
            if "seconds" not in value:
                return None
            micros = int(_decimal(value["seconds"]) * 1_000_000 + _decimal(value.get("nanos", 0)) / 1000)
        else:
            number = _decimal(value)
            for _ in range(3):  # milliseconds, microseconds, nanoseconds since the epoch (now about 1.7e9 seconds)
                if number < 100_000_000_000:
                    break
                number /= 1000
            micros = int(number * 1_000_000)
        return _EPOCH + timedelta(microseconds=micros) if micros >= 1_000_000_000_000_000 else None
    except (TypeError, ValueError, ArithmeticError):  # (decimal's InvalidOperation is an ArithmeticError)
        return None


def _decimal(value: Any) -> Decimal:
    """A number, or a string of one, as the digits written, not the binary float nearest to them (a bool, or any
    other text, raises decimal's InvalidOperation)."""
    return Decimal(str(value))


def parse_latency(value: Any) -> float | None:
    """``"0.123s"`` or ``{"seconds": 1, "nanos": 5}`` → seconds; None when unreadable or not finite."""
    if value is None:
        return None
    try:
        if isinstance(value, dict):
            seconds = float(value.get("seconds", 0)) + float(value.get("nanos", 0)) / 1e9
        else:
            seconds = float(str(value).strip().rstrip("s"))
    except (TypeError, ValueError):
        return None
    return seconds if math.isfinite(seconds) else None


def to_int(value: Any) -> int | None:
    """``value`` as an int, or None."""
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return None


@lru_cache(maxsize=4096)
def _url_path(url: str) -> str:
    """The path of a request URL, ``/`` when it has none or cannot be read (request URLs repeat: cached)."""
    try:
        return urlsplit(url).path or "/"
    except ValueError:  # e.g. an unbalanced "[" in the host
        return "/"


@lru_cache(maxsize=256)
def _short_log_name(value: Any) -> str | None:
    """``projects/p/logs/run.googleapis.com%2Fstderr`` → ``run.googleapis.com/stderr``."""
    if not value:
        return None
    name = str(value)
    _, _, tail = name.partition("/logs/")
    return unquote(tail or name)
