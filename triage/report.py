"""Render a scan report as a rich table, JSON (the stable contract, schema 1), Markdown or CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Callable

import orjson

from .assess import ScanReport
from .drafts import csv_text, escape_cell, escape_html, printable, scope_line
from .grouping import select_samples
from .history import ClusterContext
from .incidents import Incident, incident_priority, incidents_by_cluster, short_title
from .model import Cluster, ScanResult
from .redact import redact, redact_cluster
from .sources import gcp_project, is_live
from .window import format_time, iso_z

SCHEMA_VERSION = 1
_NEVER = datetime.max.replace(tzinfo=timezone.utc)
FORMATS = ("table", "json", "markdown", "csv")
JSON_SAMPLES = 5


def to_json_data(report: ScanReport) -> dict:
    """The documented JSON document (see README, "JSON output")."""
    result = report.result
    incident_of = incidents_by_cluster(report.incidents)
    by_fp = {c.fingerprint: c for c in result.clusters}
    return {
        "schema": SCHEMA_VERSION,
        "window": {"from": iso_z(result.window.start), "until": iso_z(result.window.end)},
        "scope": {"services": list(result.services), "min_severity": result.min_severity.name},
        "sources": list(result.sources),
        "entries_read": result.entries_read,
        "entries_skipped": {
            "count": result.entries_skipped,
            "examples": [{"location": p.location, "reason": p.reason} for p in result.skipped_examples],
        },
        "entries_in_window": result.entries_in_window,
        "truncated": result.truncated,
        "incidents": [_incident_json(i, incident_priority(i, by_fp)) for i in _ranked(report)],
        "clusters": [
            _cluster_json(c, report.context.get(c.fingerprint), incident_of.get(c.fingerprint)) for c in result.clusters
        ],
    }


def _ranked(report: ScanReport) -> list[Incident]:
    """Incidents by priority (P0 first), then first seen."""
    by_fp = {c.fingerprint: c for c in report.result.clusters}
    return sorted(report.incidents, key=lambda i: (incident_priority(i, by_fp), i.first_seen or _NEVER, i.id))


def _incident_json(incident: Incident, priority: str) -> dict:
    return {
        "id": incident.id,
        "priority": priority,
        "root": incident.root,
        "clusters": list(incident.clusters),
        "instances": list(incident.instances),
        "revisions": list(incident.revisions),
        "first_seen": iso_z(incident.first_seen),
        "last_seen": iso_z(incident.last_seen),
        "summary": incident.summary,
    }


def _cluster_json(cluster: Cluster, context: ClusterContext | None, incident: str | None) -> dict:
    return {
        "fingerprint": cluster.fingerprint,
        "rule": cluster.rule_id,
        "priority": cluster.priority,
        "priority_derived": cluster.priority_derived,
        "category": cluster.rule.category if cluster.rule else None,
        "title": cluster.title,
        "template": cluster.template,
        "severity": cluster.severity.name,
        "count": cluster.count,
        "first_seen": iso_z(cluster.first_seen),
        "last_seen": iso_z(cluster.last_seen),
        "status": context.status if context else None,
        "spike": context.spike if context else None,
        "rate": _round(context.rate) if context else None,
        "baseline_rate": _round(context.baseline_rate) if context else None,
        "incident": incident,
        "issue": context.issue if context else None,
        "services": dict(cluster.services),
        "revisions": dict(cluster.revisions),
        "regions": dict(cluster.regions),
        "captures": dict(cluster.captures),
        "samples": [
            {"timestamp": iso_z(s.timestamp), "message": s.message, "service": s.service, "instance": s.instance,
             "severity": s.severity.name if s.severity is not None else None}
            for s in select_samples(cluster.samples, JSON_SAMPLES)
        ],
    }


def _priority(cluster: Cluster) -> str:
    """``P1``, or ``P2*`` when derived from the severity (no rule knows the failure)."""
    return cluster.priority + ("*" if cluster.priority_derived else "")


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def render_json(report: ScanReport) -> str:
    return orjson.dumps(to_json_data(report), option=orjson.OPT_INDENT_2).decode() + "\n"


def summary_line(result: ScanResult, incidents: int = 0) -> str:
    """``N entries read, S skipped, W in window → C clusters[, I incidents]``."""
    text = (
        f"{_count(result.entries_read, 'entry', 'entries')} read, {result.entries_skipped} skipped, "
        f"{result.entries_in_window} in window → {_count(len(result.clusters), 'cluster')}"
    )
    return text + (f", {_count(incidents, 'incident')}" if incidents else "")


def truncated_line(result: ScanResult) -> str:
    """``TRUNCATED: --max-entries kept the newest entries (those from 11:25:29Z on); …``: which part of the window
    the report holds."""
    span = result.entries_span
    kept = f" (those from {format_time(span.start)} on)" if span is not None and span.start is not None else ""
    return f"TRUNCATED: --max-entries kept the newest entries{kept}; more match than were read"


def live_line(result: ScanResult) -> str | None:
    """``Cloud Logging project acme-prod``: the projects read live (one taken from the environment or gcloud's
    configuration could be the wrong one: an all-clear says for which), else None."""
    projects = list(dict.fromkeys(filter(None, map(gcp_project, result.sources))))  # "gcp" is resolved by now
    if not projects:
        return None
    return f"Cloud Logging project{'s' if len(projects) > 1 else ''} {printable(', '.join(projects))}"


def _count(n: int, noun: str, plural: str | None = None) -> str:
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def window_line(result: ScanResult) -> str:
    """The window in UTC (``Z``) and, once, the local offset that applied then (both, when they differ at its two
    ends: a daylight saving change); an open window shows when failures span."""
    start, end = result.window.start, result.window.end
    if start is None and end is None:
        first, last = result.failure_span()
        span = "all entries" + (f": failures {_span(first, last)}" if first and last else "")
    else:  # its last instant is just before an end (exclusive), or now
        first, _ = result.failure_span()
        first, last = start or first, end - timedelta(microseconds=1) if end else datetime.now(timezone.utc)
        span = f"{format_time(start) if start else 'start'} → {format_time(end) if end else 'now'}"
    moments = [moment for moment in (first, last) if moment is not None] or [datetime.now(timezone.utc)]
    offsets = dict.fromkeys(_local_offset(moment) for moment in moments)
    return f"Window {span} (local {' → '.join(offsets)})"


def _local_offset(moment: datetime) -> str:
    """``UTC-04:00``: the offset of this machine's time zone at ``moment``."""
    offset = moment.astimezone().strftime("%z")
    return f"UTC{offset[:3]}:{offset[3:]}"


def _span(first: datetime, last: datetime) -> str:
    """``2026-11-28T01:00:30Z → 02:28:00Z``: the date once when both fall on it."""
    head, tail = format_time(first), format_time(last)
    return f"{head} → {tail[11:] if tail[:10] == head[:10] else tail}"


def _tags(context: ClusterContext | None, escape: Callable[[str], str] = lambda text: text) -> str:
    """``new``, ``spike ×4.0``, ``#12``: what history says about a cluster, for the table (each tag but the linked
    issue's own number passed through ``escape``: that reference is meant)."""
    if context is None:
        return ""
    tags = [escape(context.status)]
    if context.spike and context.baseline_rate:
        tags.append(escape(f"spike ×{(context.rate or 0) / context.baseline_rate:.1f}"))
    if context.issue:
        number = context.issue.rstrip("/").rsplit("/", 1)[-1]
        tags.append("#" + number if number.isascii() and number.isdigit() else escape("#" + number))
    return " · ".join(tags)


def _members_apart(report: ScanReport, incident: Incident, by_fp: dict[str, Cluster]) -> list[str]:
    """``Gunicorn worker failed to boot: new · spike ×4.0``: the incident's other clusters (``by_fp``: the scan's,
    by fingerprint) whose history says more than its root's status (another status, a spike, a linked issue), one
    line each."""
    status = report.context[incident.root].status
    lines = []
    for fp in incident.clusters:
        tags = _tags(report.context.get(fp))
        if fp != incident.root and fp in by_fp and tags and tags != status:
            lines.append(f"{printable(short_title(by_fp[fp]))}: {tags}")
    return lines


_PRIORITY_STYLE = {"P0": "bold red", "P1": "red", "P2": "yellow", "P3": "dim"}


MIN_TABLE_WIDTH = 60  # narrower, the FAILURE column would shrink to nothing: the terminal wraps lines instead


def render_table(report: ScanReport, width: int | None = None, color: bool = False) -> str:
    """The human view: incidents first, then the clusters outside any incident, at most ``width`` (80) columns, and
    at least :data:`MIN_TABLE_WIDTH`.

    Lines carry no trailing blanks (the text pastes cleanly into chat and tickets)."""
    width = max(width or 80, MIN_TABLE_WIDTH)
    return "\n".join(line.rstrip() for line in _table(report, width, color).split("\n"))


def _table(report: ScanReport, width: int | None, color: bool) -> str:
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    result = report.result
    buffer = io.StringIO()
    console = Console(file=buffer, width=width or 80, force_terminal=color, no_color=not color, highlight=False)
    console.print(window_line(result), markup=False)
    for line in filter(None, (live_line(result), summary_line(result, len(report.incidents)))):
        console.print(line, markup=False)
    scope = scope_line(result)
    if scope:
        console.print(scope, markup=False)
    if result.truncated:
        console.print(Text(truncated_line(result), style="bold"))
    if not result.clusters:
        console.print(_nothing_found(result), markup=False)
        return buffer.getvalue()
    by_fp = {c.fingerprint: c for c in result.clusters}
    for incident in _ranked(report):
        root = by_fp[incident.root]
        console.print()
        priority = incident_priority(incident, by_fp)
        header = f"INCIDENT {incident.id} · {priority} · {len(incident.clusters)} clusters"
        console.print(Text(header, style=f"bold {_PRIORITY_STYLE[priority]}"))
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True, style="dim")
        grid.add_column(overflow="fold")
        grid.add_row("root", Text(f"{printable(root.title)} ({root.fingerprint[:10]})"))
        tags = _tags(report.context.get(root.fingerprint))
        if tags:
            grid.add_row("status", Text(tags))
            also = _members_apart(report, incident, by_fp)
            if also:
                grid.add_row("also", Text("\n".join(also)))
        grid.add_row("chain", Text(printable(incident.summary)))
        grid.add_row("when", f"{format_time(incident.first_seen)} → {format_time(incident.last_seen)}")
        revisions = printable(", ".join(incident.revisions)) or "-"
        where = f"{len(incident.instances)} instance(s), revisions {revisions}"
        if not incident.instances and not incident.revisions:  # linked within a service's or a file's stream
            where = "its entries name no instance or revision"
        grid.add_row("where", Text(where))
        console.print(grid)
    in_incident = {fp for incident in report.incidents for fp in incident.clusters}
    rest = [c for c in result.clusters if c.fingerprint not in in_incident]
    if not rest:
        return buffer.getvalue()
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, expand=False)
    table.add_column("PRI", no_wrap=True)
    table.add_column("COUNT", justify="right", no_wrap=True)
    table.add_column("FIRST / LAST SEEN", no_wrap=True)
    table.add_column("FAILURE", overflow="fold")
    for cluster in rest:
        services = ", ".join(f"{name}×{n}" for name, n in cluster.services.items()) or "-"
        tags = _tags(report.context.get(cluster.fingerprint))
        meta = " · ".join(part for part in (cluster.fingerprint[:10], cluster.severity.name, services, tags) if part)
        table.add_row(
            Text(_priority(cluster), style=_PRIORITY_STYLE[cluster.priority]),
            str(cluster.count),
            f"{format_time(cluster.first_seen)}\n{format_time(cluster.last_seen)}",
            Text(printable(cluster.title)) + Text("\n" + printable(meta), style="dim"),
        )
    if report.incidents:
        console.print()
        console.print("Clusters outside any incident:", markup=False)
    console.print(table)
    return buffer.getvalue()


def render_markdown(report: ScanReport) -> str:
    result = report.result
    lines = [f"**{window_line(result)}**", ""]
    live = live_line(result)
    if live:
        lines += [escape_html(live), ""]
    lines += [summary_line(result, len(report.incidents)), ""]
    scope = scope_line(result)
    if scope:
        lines += [escape_html(scope), ""]
    if result.truncated:
        lines += [f"**{truncated_line(result)}**", ""]
    by_fp = {c.fingerprint: c for c in result.clusters}
    for incident in _ranked(report):
        lines.append(f"- **Incident `{incident.id}`** ({incident_priority(incident, by_fp)}): {escape_cell(incident.summary)}")
    if report.incidents:
        lines.append("")
    if not result.clusters:
        return "\n".join([*lines, _nothing_found(result)]) + "\n"
    lines += ["| Priority | Count | First seen | Last seen | Failure | Status | Fingerprint |", "|---|---:|---|---|---|---|---|"]
    for c in result.clusters:
        lines.append(
            f"| {_priority(c)} | {c.count} | {format_time(c.first_seen)} | {format_time(c.last_seen)} "
            f"| {escape_cell(c.title)} | {_tags(report.context.get(c.fingerprint), escape_cell) or '-'} | `{c.fingerprint[:10]}` |"
        )
    return "\n".join(lines) + "\n"


def _nothing_found(result: ScanResult) -> str:
    """What a report without clusters says: an all-clear only when the window and scope held entries."""
    if not result.entries_read and not any(map(is_live, result.sources)):  # a pull asks for failures only
        return "The sources hold no entries: nothing was checked, this is no all-clear."
    if result.entries_read and not result.entries_in_window:
        read = _count(result.entries_read, "entry", "entries")
        return f"The window and scope hold none of the {read} read: nothing was checked, this is no all-clear."
    return "No failures at or above the severity floor in this window."


def _redacted(report: ScanReport) -> ScanReport:
    """``report`` with cluster titles, templates, samples, captures and incident summaries redacted."""
    result = replace(report.result, clusters=tuple(redact_cluster(c) for c in report.result.clusters))
    incidents = tuple(replace(incident, summary=redact(incident.summary)) for incident in report.incidents)
    return replace(report, result=result, incidents=incidents)


CSV_COLUMNS = (
    "fingerprint", "rule", "priority", "priority_derived", "severity", "count", "first_seen", "last_seen", "status", "incident",
    "services", "title", "template", "truncated",  # truncated: 1 on every row of a scan cut short (counts are lower bounds)
)


def render_csv(report: ScanReport) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    incident_of = incidents_by_cluster(report.incidents)
    truncated = int(report.result.truncated)
    for c in report.result.clusters:
        context = report.context.get(c.fingerprint)
        services = ";".join(f"{name}:{n}" for name, n in c.services.items())
        writer.writerow(
            [c.fingerprint, c.rule_id or "", c.priority, int(c.priority_derived), c.severity.name, c.count,
             iso_z(c.first_seen) or "", iso_z(c.last_seen) or "", context.status if context else "",
             incident_of.get(c.fingerprint, ""), csv_text(services), csv_text(c.title), csv_text(c.template), truncated]
        )
    return buffer.getvalue()


def render(report: ScanReport, fmt: str, color: bool = False, width: int = 80) -> str:
    """The report in ``fmt`` (one of :data:`FORMATS`), with secrets in log-derived text redacted."""
    report = _redacted(report)
    if fmt == "json":
        return render_json(report)
    if fmt == "markdown":
        return render_markdown(report)
    if fmt == "csv":
        return render_csv(report)
    return render_table(report, width=width, color=color)
