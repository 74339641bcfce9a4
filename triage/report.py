"""Render a ScanResult as a rich table, JSON (the stable contract, schema 1), Markdown or CSV."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import orjson

from .model import Cluster, ScanResult
from .window import format_time

SCHEMA_VERSION = 1
FORMATS = ("table", "json", "markdown", "csv")
JSON_SAMPLES = 5


def to_json_data(result: ScanResult) -> dict:
    """The documented JSON document (see README, "JSON output")."""
    return {
        "schema": SCHEMA_VERSION,
        "window": {"from": _time(result.window.start), "until": _time(result.window.end)},
        "sources": list(result.sources),
        "entries_read": result.entries_read,
        "entries_skipped": {
            "count": result.entries_skipped,
            "examples": [{"location": p.location, "reason": p.reason} for p in result.skipped_examples],
        },
        "entries_in_window": result.entries_in_window,
        "truncated": result.truncated,
        "clusters": [_cluster_json(c) for c in result.clusters],
    }


def _cluster_json(cluster: Cluster) -> dict:
    return {
        "fingerprint": cluster.fingerprint,
        "rule": cluster.rule_id,
        "priority": cluster.priority,
        "category": cluster.rule.category if cluster.rule else None,
        "title": cluster.title,
        "template": cluster.template,
        "severity": cluster.severity.name,
        "count": cluster.count,
        "first_seen": _time(cluster.first_seen),
        "last_seen": _time(cluster.last_seen),
        "services": dict(cluster.services),
        "revisions": dict(cluster.revisions),
        "captures": dict(cluster.captures),
        "samples": [
            {"timestamp": _time(s.timestamp), "message": s.message, "service": s.service, "instance": s.instance}
            for s in cluster.samples[:JSON_SAMPLES]
        ],
    }


def _time(ts: datetime | None) -> str | None:
    return None if ts is None else ts.isoformat().replace("+00:00", "Z")


def render_json(result: ScanResult) -> str:
    return orjson.dumps(to_json_data(result), option=orjson.OPT_INDENT_2).decode() + "\n"


def summary_line(result: ScanResult) -> str:
    """``N entries read, S skipped, W in window → C clusters``."""
    return (
        f"{result.entries_read} entries read, {result.entries_skipped} skipped, "
        f"{result.entries_in_window} in window → {len(result.clusters)} clusters"
    )


def window_line(result: ScanResult, local_now: datetime | None = None) -> str:
    """The window in UTC and, once, the local offset."""
    offset = (local_now or datetime.now().astimezone()).strftime("%z")
    local = f"UTC{offset[:3]}:{offset[3:]}"
    start, end = result.window.start, result.window.end
    if start is None and end is None:
        span = "all entries"
    else:
        span = f"{format_time(start) if start else 'start'} → {format_time(end) if end else 'now'}"
    return f"Window {span} (UTC; local {local})"


def render_table(result: ScanResult, width: int | None = None, color: bool = False) -> str:
    """The human view: one row per cluster, at most ``width`` (default 80) columns."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    buffer = io.StringIO()
    console = Console(file=buffer, width=width or 80, force_terminal=color, no_color=not color, highlight=False)
    console.print(window_line(result), markup=False)
    console.print(summary_line(result), markup=False)
    if not result.clusters:
        console.print("No failures at or above the severity floor in this window.", markup=False)
        return buffer.getvalue()
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, expand=False)
    table.add_column("PRI", no_wrap=True)
    table.add_column("COUNT", justify="right", no_wrap=True)
    table.add_column("FIRST / LAST SEEN", no_wrap=True)
    table.add_column("FAILURE", overflow="fold")
    for cluster in result.clusters:
        services = ", ".join(f"{name}×{n}" for name, n in cluster.services.items()) or "-"
        table.add_row(
            cluster.priority or "-",
            str(cluster.count),
            f"{format_time(cluster.first_seen)}\n{format_time(cluster.last_seen)}",
            Text(cluster.title) + Text(f"\n{cluster.fingerprint[:10]} · {cluster.severity.name} · {services}", style="dim"),
        )
    console.print(table)
    return buffer.getvalue()


def render_markdown(result: ScanResult) -> str:
    lines = [f"**{window_line(result)}**", "", summary_line(result), ""]
    lines += ["| Priority | Count | First seen | Last seen | Failure | Fingerprint |", "|---|---:|---|---|---|---|"]
    for c in result.clusters:
        title = c.title.replace("|", "\\|").replace("\n", " ")
        lines.append(
            f"| {c.priority or '-'} | {c.count} | {format_time(c.first_seen)} | {format_time(c.last_seen)} "
            f"| {title} | `{c.fingerprint[:10]}` |"
        )
    return "\n".join(lines) + "\n"


CSV_COLUMNS = ("fingerprint", "rule", "priority", "severity", "count", "first_seen", "last_seen", "services", "title", "template")


def render_csv(result: ScanResult) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for c in result.clusters:
        services = ";".join(f"{name}:{n}" for name, n in c.services.items())
        writer.writerow(
            [c.fingerprint, c.rule_id or "", c.priority or "", c.severity.name, c.count,
             _time(c.first_seen) or "", _time(c.last_seen) or "", services, c.title, c.template]
        )
    return buffer.getvalue()


def render(result: ScanResult, fmt: str, color: bool = False) -> str:
    if fmt == "json":
        return render_json(result)
    if fmt == "markdown":
        return render_markdown(result)
    if fmt == "csv":
        return render_csv(result)
    return render_table(result, color=color)
