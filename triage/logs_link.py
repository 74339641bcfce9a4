"""A Cloud Logging Logs Explorer link that opens exactly one cluster's failure in one window.

The query: the scan's ``resource.type`` (``cloud_run_revision`` unless ``--resource-type`` said otherwise), the
cluster's services, and a case-insensitive text match
(``:``) on the text fields a message is usually in (``textPayload``, ``jsonPayload.message`` … and, for a message
of several lines, the fields structured logs keep a traceback in) for the rule's literal (its longest ``contains`` item,
its ``contains_any`` items, or the literal its regex requires) or, without one, a literal the log text itself
holds: the longest literal piece of the cluster's template as its samples write it, or a traceback's exception
type (the template of a traceback is no log text). Messages triage makes up are searched by what they stand for:
a request log's summary (``GET /ws → 403 Forbidden``) by its method, path and status; a payload rendered as
JSON or an empty message by nothing but the service and the time.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from urllib.parse import quote

from .clustering import TRACEBACK_MARKER
from .entries import EMPTY_MESSAGE, TRACEBACK_FIELDS, strip_log_prefix
from .gcp_filter import MESSAGE_FIELDS, quote as filter_quote, request_term, service_term
from .model import DEFAULT_RESOURCE_TYPE, Cluster, Window
from .redact import MASK
from .rules import regex_literals
from .rules_load import latency_condition, status_ranges
from .window import format_time

CONSOLE = "https://console.cloud.google.com/logs/query"
# Where a structured log keeps a traceback beside its message (see triage.entries.payload_traceback).
_TRACEBACK_PATHS = ("jsonPayload.error.traceback", *(f"jsonPayload.{field}" for field in TRACEBACK_FIELDS))
MIN_LITERAL = 4
_PLACEHOLDER = re.compile(r"<[A-Z]+>|<\*>|" + re.escape(MASK))  # a masked secret matches no log text either
# entries.request_summary: "GET /ws → 403 Forbidden (0.003s)", "/ws → ? (0.01s)" without method or status
_REQUEST_SUMMARY = re.compile(r"^(?:(?P<method>[A-Z]+) )?(?P<path>/\S*|<\*>) → (?P<status>\d{3}\b|<NUM>|\?)")


def logs_query(cluster: Cluster, resource_type: str | None = DEFAULT_RESOURCE_TYPE) -> str:
    """The Logging query language filter for ``cluster`` (one condition per line, ANDed), of ``resource_type``
    (None: any)."""
    lines = [f"resource.type={filter_quote(resource_type)}"] if resource_type else []
    if cluster.services:
        lines.append(service_term(list(cluster.services), resource_type))
    requests = _request_condition(cluster.rule.match) if cluster.rule else _request_summary_condition(cluster)
    if requests:  # request logs carry no text to search
        lines.append(requests)
        return "\n".join(lines)
    literals = text_literals(cluster)
    if literals:
        fields = MESSAGE_FIELDS
        if any("\n" in sample.message for sample in cluster.samples):  # a traceback may come from a field of its own
            fields += _TRACEBACK_PATHS
        terms = [f"{field}:{filter_quote(t)}" for t in literals for field in fields]
        lines.append("(" + " OR ".join(terms) + ")")
    return "\n".join(lines)


def text_literals(cluster: Cluster) -> tuple[str, ...]:
    """Strings of which one occurs in every message of the cluster (empty: none known)."""
    rule_literals = _rule_literals(cluster.rule.match) if cluster.rule else ()
    if rule_literals:
        return rule_literals
    messages = [sample.message for sample in cluster.samples]
    if not messages or cluster.template == EMPTY_MESSAGE or cluster.template.startswith("{"):
        return ()  # nothing, or a payload rendered as JSON: no text to search
    if all(TRACEBACK_MARKER in message for message in messages):
        exception = cluster.template.split(" in ", 1)[0]
        found = exception if all(exception in message for message in messages) else None
    else:  # past the logging prefix: colour codes and markup, gone from the samples, often start the message there
        found = _written_piece(strip_log_prefix(cluster.template.strip().split("\n", 1)[0]), messages)
    return (found,) if found and len(found) >= MIN_LITERAL else ()


def _written_piece(template_line: str, messages: list[str]) -> str | None:
    """The longest literal piece of a template's line as every message writes it (masking folds runs of spaces
    into one); None when the messages hold none."""
    pieces = sorted((p.strip() for p in _PLACEHOLDER.split(template_line)), key=len, reverse=True)
    for piece in pieces:
        if len(piece) < MIN_LITERAL:
            return None
        written = re.search(r"\s+".join(map(re.escape, piece.split(" "))), messages[0])
        if written and all(written[0] in message for message in messages[1:]):
            return written[0]
    return None


def _request_summary_condition(cluster: Cluster) -> str | None:
    """The method, path and status of a cluster of request logs without text, whose messages triage made up
    (``GET /ws → 403 Forbidden (0.003s)``); None for any other cluster."""
    summaries = [_REQUEST_SUMMARY.match(sample.message) for sample in cluster.samples]
    if not summaries or not all(summary and summary["status"] != "<NUM>" for summary in summaries):
        return None
    terms = []
    methods = {summary["method"] for summary in summaries}
    if len(methods) == 1 and None not in methods:
        terms.append(f"httpRequest.requestMethod={filter_quote(methods.pop())}")
    paths = {summary["path"] for summary in summaries}
    template_path = _REQUEST_SUMMARY.match(cluster.template)
    if len(paths) == 1 and template_path and not _PLACEHOLDER.search(template_path["path"]):
        terms.append(f"httpRequest.requestUrl:{filter_quote(paths.pop())}")
    statuses = sorted({int(summary["status"]) for summary in summaries if summary["status"] != "?"})
    if statuses:
        terms.append(request_term([(status, status) for status in statuses], None))
    return "\n".join(terms) or "httpRequest:*"


def _request_condition(match: dict) -> str | None:
    """The rule's conditions on http status, latency and log name, as query terms (None when it has none)."""
    statuses = status_ranges(match["http_status"]) if "http_status" in match else ()
    latency = latency_condition(match["latency"]) if "latency" in match else None
    term = request_term(statuses or (), latency)
    if term is None:
        return None
    log_name = match.get("log_name")
    return f"logName:{filter_quote(log_name)}\n{term}" if isinstance(log_name, str) else term


def _rule_literals(match: dict) -> tuple[str, ...]:
    contains = match.get("contains")
    if contains:
        items = [contains] if isinstance(contains, str) else list(contains)
        return (max(items, key=len),)
    contains_any = match.get("contains_any")
    if contains_any:
        return (contains_any,) if isinstance(contains_any, str) else tuple(contains_any)
    pattern = match.get("regex")
    literals = regex_literals(pattern) if isinstance(pattern, str) else ()
    return literals if literals and min(map(len, literals)) >= MIN_LITERAL else ()


def time_range(cluster: Cluster, window: Window) -> tuple[datetime, datetime] | None:
    """The scan window; an open bound falls back to the cluster's first/last seen (± 1 minute)."""
    start = window.start or (cluster.first_seen and cluster.first_seen - timedelta(minutes=1))
    end = window.end or (cluster.last_seen and cluster.last_seen + timedelta(minutes=1))
    return (start, end) if start and end else None


def logs_explorer_url(
    cluster: Cluster, window: Window, project: str | None, resource_type: str | None = DEFAULT_RESOURCE_TYPE
) -> str:
    """``https://console.cloud.google.com/logs/query;query=…;timeRange=FROM%2FUNTIL?project=…``."""
    url = f"{CONSOLE};query={quote(logs_query(cluster, resource_type), safe='')}"
    span = time_range(cluster, window)
    if span:  # whole seconds: the end rounded up, so the window's last fraction of a second is in the link's range
        end = span[1] + (timedelta(seconds=1) - timedelta(microseconds=span[1].microsecond)) % timedelta(seconds=1)
        url += f";timeRange={format_time(span[0])}%2F{format_time(end)}"
    return url + (f"?project={quote(project, safe='')}" if project else "")


