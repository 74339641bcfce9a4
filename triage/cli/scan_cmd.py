"""`triage scan`: read the window, match rules, cluster, rank, report."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import List, Optional

import typer

from . import app, fail_from, fatal
from ..errors import TriageError

FORMAT_HELP = "Output format: table, json, markdown or csv."


@app.command()
def scan(
    source: Optional[List[str]] = typer.Option(
        None, "--source", "-s", help="A log export file (JSON array, NDJSON, client dump, gcloud table/value text, plain lines; .gz too) or '-' for stdin. Repeatable."
    ),
    since: Optional[str] = typer.Option(None, "--since", help="Window start relative to now: 90s, 30m, 1h, 2d."),
    start: Optional[str] = typer.Option(None, "--from", help="Window start, ISO-8601 with any offset."),
    end: Optional[str] = typer.Option(None, "--until", help="Window end, ISO-8601 with any offset."),
    now: Optional[str] = typer.Option(None, "--now", help="Anchor 'now' (ISO-8601) for reproducible --since windows."),
    service: Optional[List[str]] = typer.Option(None, "--service", help="Only this Cloud Run service. Repeatable."),
    min_severity: str = typer.Option("WARNING", "--min-severity", help="Severity floor (inferred severities count)."),
    rules: Optional[List[Path]] = typer.Option(None, "--rules", help="Rule file or directory; replaces the default pack. Repeatable."),
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the report to this file instead of stdout."),
    fail_on: Optional[str] = typer.Option(None, "--fail-on", help="Exit 3 when a cluster at or above this priority (P0-P3) exists."),
) -> None:
    """Scan a window of Cloud Run logs and print a ranked list of failures."""
    from ..model import PRIORITIES, Severity
    from ..report import FORMATS, render
    from ..rules import load_rules
    from ..scan import ScanOptions, scan as run_scan
    from ..sources.files import read_file
    from ..window import build_window

    if fmt not in FORMATS:
        fatal(f"unknown --format {fmt!r}: use one of {', '.join(FORMATS)}")
    if fail_on is not None and fail_on.upper() not in PRIORITIES:
        fatal(f"unknown --fail-on {fail_on!r}: use P0, P1, P2 or P3")
    if not source:
        fatal("no --source given", hint="pass a log export with --source FILE (or '-' for stdin)")
    try:
        floor = Severity.parse(min_severity)
    except ValueError:
        fatal(f"unknown --min-severity {min_severity!r}: use DEBUG, INFO, NOTICE, WARNING, ERROR or CRITICAL")
    try:
        window = build_window(since, start, end, now)
        rule_set = load_rules(rules or None)
        options = ScanOptions(tuple(source), window, tuple(service or ()), floor)
        result = run_scan(options, rule_set, read_file)
    except TriageError as err:
        fail_from(err)

    for warning in result.warnings:
        typer.echo(f"Warning: {warning}", err=True)
    if result.entries_skipped:
        first = result.skipped_examples[0]
        typer.echo(
            f"Warning: skipped {result.entries_skipped} unreadable record(s); first at {first.location}: {first.reason}",
            err=True,
        )
    if result.entries_read == 0 and result.entries_skipped:
        fatal(f"nothing readable in {', '.join(source)}")
    if result.entries_in_window == 0:
        typer.echo("Note: the window and filters selected no entries.", err=True)

    color = output is None and sys.stdout.isatty() and "NO_COLOR" not in os.environ and fmt == "table"
    text = render(result, fmt, color=color)
    if output is not None:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as err:
            fatal(f"cannot write {output}: {err.strerror or err}")
    else:
        typer.echo(text, nl=False)

    if fail_on is not None:
        limit = PRIORITIES.index(fail_on.upper())
        if any(c.priority is not None and PRIORITIES.index(c.priority) <= limit for c in result.clusters):
            raise typer.Exit(3)
