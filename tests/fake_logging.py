"""A loopback fake of the Cloud Logging REST API (``POST /v2/entries:list``) and a filter evaluator.

The fake serves an in-memory list of camelCase LogEntry dicts: it evaluates the request's filter (the
subset :mod:`triage.gcp_filter` emits), orders by timestamp, pages with opaque tokens, can serve an
empty page that still carries a token, and plays scripted faults (429, 403, 404 …, a dropped connection, a proxy's
HTML page) before answering.

Filter subset: ``AND`` (or juxtaposition), ``OR``, ``NOT``, parentheses, ``=``, ``!=``, ``>=``, ``<=``,
``>``, ``<``, ``:`` (case-insensitive substring), ``=~`` (regular expression), dotted field paths, quoted strings
with backslash escapes, bare words. As in Cloud Logging, NOT binds tightest, then OR, then AND; severities compare by
level and ``timestamp`` compares as a time. A missing field fails every comparison.
"""

from __future__ import annotations

import json
import re
import threading
import zlib
from collections import deque
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from triage.model import Severity

Predicate = Callable[[dict], bool]

_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<op>=~|>=|<=|!=|=|>|<|:)|(?P<paren>[()])|(?P<word>[^\s()"=!<>:]+))'
)


class FilterSyntaxError(ValueError):
    pass


def compile_filter(text: str) -> Predicate:
    """Parse ``text`` into a predicate over LogEntry dicts."""
    parser = _Parser(_tokens(text))
    predicate = parser.conjunction()
    if parser.peek() is not None:
        raise FilterSyntaxError(f"unexpected {parser.peek()[1]!r}")
    return predicate


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    while pos < len(text):
        if not text[pos:].strip():
            break
        match = _TOKEN.match(text, pos)
        if not match:
            raise FilterSyntaxError(f"cannot read {text[pos:pos + 20]!r}")
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "str":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        elif kind == "word" and value in ("AND", "OR", "NOT"):
            kind = value
        tokens.append((kind, value))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]):
        self.tokens = deque(tokens)

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[0] if self.tokens else None

    def take(self, kind: str) -> str:
        token = self.peek()
        if token is None or token[0] != kind:
            raise FilterSyntaxError(f"expected {kind}, got {token}")
        return self.tokens.popleft()[1]

    def conjunction(self) -> Predicate:
        terms = [self.disjunction()]
        while self.peek() is not None and self.peek() != ("paren", ")"):
            if self.peek()[0] == "AND":
                self.tokens.popleft()
            terms.append(self.disjunction())
        return lambda entry: all(term(entry) for term in terms)

    def disjunction(self) -> Predicate:
        terms = [self.negation()]
        while self.peek() is not None and self.peek()[0] == "OR":
            self.tokens.popleft()
            terms.append(self.negation())
        return lambda entry: any(term(entry) for term in terms)

    def negation(self) -> Predicate:
        if self.peek() is not None and self.peek()[0] == "NOT":
            self.tokens.popleft()
            inner = self.negation()
            return lambda entry: not inner(entry)
        if self.peek() == ("paren", "("):
            self.tokens.popleft()
            inner = self.conjunction()
            self.take("paren")
            return inner
        return self.comparison()

    def comparison(self) -> Predicate:
        field = self.take("word")
        op = self.take("op")
        if self.peek() == ("paren", "("):  # field=("a" OR "b"): any of the values
            self.tokens.popleft()
            terms = [_comparison(field, op, self.value(field, op))]
            while self.peek() is not None and self.peek()[0] == "OR":
                self.tokens.popleft()
                terms.append(_comparison(field, op, self.value(field, op)))
            self.take("paren")
            return lambda entry: any(term(entry) for term in terms)
        return _comparison(field, op, self.value(field, op))

    def value(self, field: str, op: str) -> str:
        token = self.tokens.popleft() if self.tokens else None
        if token is None or token[0] not in ("str", "word"):
            raise FilterSyntaxError(f"no value after {field}{op}")
        return token[1]


def _comparison(field: str, op: str, wanted: str) -> Predicate:
    def predicate(entry: dict) -> bool:
        value = _lookup(entry, field)
        if value is None:
            return False
        left, right = _comparable(field, value, wanted)
        if op == ":":
            return str(right).lower() in str(left).lower()
        if op == "=~":  # RE2, of which the filters use a subset Python's re reads alike
            return re.search(wanted, str(value)) is not None
        return {
            "=": left == right, "!=": left != right, ">=": left >= right,
            "<=": left <= right, ">": left > right, "<": left < right,
        }[op]

    return predicate


def _lookup(entry: dict, field: str) -> Any:
    node: Any = entry
    for part in field.split("."):
        if not isinstance(node, dict) or part not in node:
            return "DEFAULT" if field == "severity" else None
        node = node[part]
    return node


def _comparable(field: str, value: Any, wanted: str) -> tuple[Any, Any]:
    if field == "severity":
        return Severity.parse(str(value)), Severity.parse(wanted)
    if field in ("timestamp", "receiveTimestamp"):
        return _time(str(value)), _time(wanted)
    if field == "httpRequest.latency":  # durations such as "0.25s"
        return float(str(value).rstrip("s")), float(wanted.rstrip("s"))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value, float(wanted)
    return str(value), wanted


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


ERROR_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED",
                503: "UNAVAILABLE"}
ERROR_MESSAGE = {
    401: "Request had invalid authentication credentials.",
    403: "Permission 'logging.logEntries.list' denied on resource (or it may not exist).",
    404: "Project does not exist: {project}",
    429: "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute'.",
    503: "The service is currently unavailable.",
}


DROP = "drop"
PROXY_PAGE = "proxy page"


class Raw(bytes):
    """A body sent as it is (text, HTML, blanks), not as JSON; its content type is ``text/html``."""


class FakeLogging:
    """``POST /v2/entries:list`` over ``entries``; use as a context manager, then point the client at :attr:`url`."""

    def __init__(self, entries: list[dict], project: str = "test-proj"):
        self.entries = entries
        self.project = project
        self.requests: list[dict] = []
        self.headers: list[dict[str, str]] = []  # each request's headers, in order
        # HTTP statuses to answer with, one per request, before real pages; DROP closes the connection unanswered,
        # PROXY_PAGE answers 200 with an HTML page (a captive portal or proxy); a (status, body) pair answers with that
        # body (any JSON value, or Raw bytes), as a gateway or proxy in front of the API may
        self.faults: deque[int | str | tuple] = deque()
        self.empty_page_at: set[int] = set()  # offsets where one empty page (with a token) is served first
        self._matches: dict[tuple, list[dict]] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> "FakeLogging":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, body: dict) -> tuple[int, dict]:
        """The status and JSON body for one ``entries:list`` request body."""
        self.requests.append(body)
        if self.faults:
            status = self.faults.popleft()
            if isinstance(status, tuple):
                return status
            if isinstance(status, str):
                return status, {}
            return status, _error(status, ERROR_MESSAGE.get(status, "error").format(project=self.project))
        if body.get("resourceNames") != [f"projects/{self.project}"]:
            return 404, _error(404, ERROR_MESSAGE[404].format(project=body.get("resourceNames")))
        page_size = int(body.get("pageSize", 50))
        if not 0 < page_size <= 1000:
            return 400, _error(400, "pageSize must be between 1 and 1000")
        try:
            keep = compile_filter(body.get("filter", ""))
        except FilterSyntaxError as err:
            return 400, _error(400, f"Invalid filter: {err}")
        token = body.get("pageToken")
        offset = int(token.lstrip("te")) if token else 0
        if offset in self.empty_page_at and not (token or "").startswith("e"):
            return 200, {"nextPageToken": f"e{offset}"}
        key = (body.get("filter", ""), body.get("orderBy"))
        if key not in self._matches:  # one evaluation per query, not per page
            matched = sorted((e for e in self.entries if keep(e)), key=lambda e: _time(e["timestamp"]))
            self._matches[key] = matched[::-1] if body.get("orderBy") == "timestamp desc" else matched
        matched = self._matches[key]
        page = matched[offset : offset + page_size]
        response: dict = {"entries": page} if page else {}
        if offset + page_size < len(matched):
            response["nextPageToken"] = f"t{offset + page_size}"
        return 200, response

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                if self.path.split("?")[0] != "/v2/entries:list":  # as Google's front end answers: an HTML page
                    self._send(404, Raw(b"<!DOCTYPE html><title>Error 404 (Not Found)!!1</title><p>The requested URL "
                                        + self.path.encode() + b" was not found on this server."))
                    return
                length = int(self.headers.get("Content-Length", 0))
                fake.headers.append(dict(self.headers))
                self._send(*fake.answer(json.loads(self.rfile.read(length) or b"{}")))

            def _send(self, status: int | str, body: Any) -> None:
                if status == DROP:
                    self.close_connection = True
                    return
                content_type = "application/json"
                if status == PROXY_PAGE:
                    status, content_type, data = 200, "text/html", b"<html><body>Proxy login required</body></html>"
                elif isinstance(body, Raw):
                    content_type, data = "text/html", bytes(body)
                else:
                    data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


def _error(status: int, message: str) -> dict:
    return {"error": {"code": status, "message": message, "status": ERROR_STATUS.get(status, "UNKNOWN")}}


def run_entry(
    timestamp: str,
    text: str | None = None,
    *,
    payload: dict | None = None,
    severity: str | None = None,
    service: str = "api",
    log: str = "stderr",
    instance: str = "inst-1",
    http: dict | None = None,
    resource_type: str = "cloud_run_revision",
    project: str = "test-proj",
) -> dict:
    """A synthetic Cloud Run LogEntry in the API's camelCase shape."""
    entry: dict = {
        "insertId": f"{zlib.crc32(repr((timestamp, text, payload, log, instance)).encode()):08x}",
        "timestamp": timestamp,
        "receiveTimestamp": timestamp,
        "logName": f"projects/{project}/logs/run.googleapis.com%2F{log}",
        "resource": {
            "type": resource_type,
            "labels": {"service_name": service, "revision_name": f"{service}-00042-abc", "location": "europe-west1",
                       "configuration_name": service, "project_id": project},
        },
        "labels": {"instanceId": instance},
    }
    if severity is not None:
        entry["severity"] = severity
    if text is not None:
        entry["textPayload"] = text
    if payload is not None:
        entry["jsonPayload"] = payload
    if http is not None:
        entry["httpRequest"] = http
    return entry
