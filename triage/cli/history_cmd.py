"""`triage history`: per-cluster counts over the recorded scans, with a sparkline per cluster."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Optional

import typer

from . import app, fail_from, fatal
from ..errors import TriageError


@app.command()
def history(
    fingerprint: Optional[str] = typer.Argument(None, metavar="FINGERPRINT", help="Only clusters whose fingerprint starts with this."),
    since: str = typer.Option("7d", "--since", metavar="DURATION", help="How far back: 24h, 7d, 30d. Hourly buckets up to 48h, daily beyond, from the first scan recorded in it."),
    now: Optional[str] = typer.Option(None, "--now", metavar="TS", help="Anchor 'now' (ISO-8601) for reproducible output."),
    fmt: str = typer.Option("table", "--format", "-f", metavar="FORMAT", help="Output format: table, json or csv."),
    state_dir: Optional[Path] = typer.Option(None, "--state-dir", metavar="DIR", help="State store folder (default $XDG_STATE_HOME/triage)."),
) -> None:
    """Show how often each failure appeared in the recorded scans."""
    from datetime import datetime, timezone

    from ..history import HISTORY_FORMATS, bucket_history, render_history
    from ..state import StateStore
    from ..window import parse_duration, parse_time, time_before

    fmt = fmt.lower()
    if fmt not in HISTORY_FORMATS:
        fatal(f"unknown --format {fmt!r}: use one of {', '.join(HISTORY_FORMATS)}")
    if fingerprint is not None and not fingerprint.strip():
        fatal("FINGERPRINT is blank: give a fingerprint or its start, or none for every cluster")
    try:
        until = parse_time(now, "--now") if now is not None else datetime.now(timezone.utc)
        start = time_before(until, parse_duration(since, "--since"))
        with StateStore.recorded(state_dir) as store:
            rows = store.cluster_history(fingerprint.strip().lower() if fingerprint else None, start)
            first_scan = next((scan.scanned_at for scan in store.scans(start)), until)
    except TriageError as err:
        fail_from(err)
    if fingerprint and not rows:
        fatal(f"no recorded scan since {since} has a cluster with a fingerprint starting with {fingerprint!r}")
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else 80
    typer.echo(render_history(bucket_history(rows, start, until, first_scan), fmt, width), nl=False)
