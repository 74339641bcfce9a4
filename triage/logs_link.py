"""A Cloud Logging Logs Explorer link that opens exactly one cluster's failure in one window.

The query: ``resource.type="cloud_run_revision"``, the cluster's services, and a case-insensitive text match
(``:``) on ``textPayload`` or ``jsonPayload.message`` for the rule's literal (its longest ``contains`` item,
its ``contains_any`` items, or the literal its regex requires) or, without one, the longest literal piece of
the cluster's template.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from urllib.parse import quote

from .gcp_filter import quote as filter_quote, request_term
from .model import Cluster, Window
from .redact import MASK
from .rules import regex_literals
from .rules_load import latency_condition, status_ranges
from .window import format_time

CONSOLE = "https://console.cloud.google.com/logs/query"
RESOURCE_TYPE = "cloud_run_revision"
MIN_LITERAL = 4
_PLACEHOLDER = re.compile(r"<[A-Z]+>|<\*>|" + re.escape(MASK))  # a masked secret matches no log text either


def logs_query(cluster: Cluster) -> str:
    """The Logging query language filter for ``cluster`` (one condition per line, ANDed)."""
    lines = [f"resource.type={filter_quote(RESOURCE_TYPE)}"]
    services = sorted(cluster.services)
    if len(services) == 1:
        lines.append(f"resource.labels.service_name={filter_quote(services[0])}")
    elif services:
        lines.append(f"resource.labels.service_name=({' OR '.join(filter_quote(s) for s in services)})")
    requests = _request_condition(cluster.rule.match) if cluster.rule else None
    if requests:  # a rule on request fields: request logs carry no text to search
        lines.append(requests)
        return "\n".join(lines)
    literals = text_literals(cluster)
    if literals:
        terms = [f"textPayload:{filter_quote(t)} OR jsonPayload.message:{filter_quote(t)}" for t in literals]
        lines.append("(" + " OR ".join(terms) + ")")
    return "\n".join(lines)


def text_literals(cluster: Cluster) -> tuple[str, ...]:
    """Strings of which one occurs in every message of the cluster (empty: none known)."""
    rule_literals = _rule_literals(cluster.rule.match) if cluster.rule else ()
    if rule_literals:
        return rule_literals
    first_line = cluster.template.strip().split("\n", 1)[0]
    pieces = [p.strip() for p in _PLACEHOLDER.split(first_line)]
    longest = max(pieces, key=len, default="")
    return (longest,) if len(longest) >= MIN_LITERAL else ()


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


def logs_explorer_url(cluster: Cluster, window: Window, project: str | None) -> str:
    """``https://console.cloud.google.com/logs/query;query=…;timeRange=FROM%2FUNTIL?project=…``."""
    url = f"{CONSOLE};query={quote(logs_query(cluster), safe='')}"
    span = time_range(cluster, window)
    if span:
        url += f";timeRange={format_time(span[0])}%2F{format_time(span[1])}"
    return url + (f"?project={quote(project, safe='')}" if project else "")


