"""`triage draft`: five-whys issue drafts for clusters of the last recorded scan."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional

import typer

from . import app, fail_from, fatal
from ..errors import TriageError

if TYPE_CHECKING:
    from ..model import ScanResult

STATE_DIR_HELP = "State store folder (default $XDG_STATE_HOME/triage)."
TEMPLATES_HELP = "Folder of templates overriding the shipped ones by file name."
PROJECT_HELP = "Google Cloud project for the Logs Explorer links and the commands of the checks."


KEYS_HELP = "Cluster fingerprints or incident ids (inc-…); unique prefixes are enough."
SYMPTOMS_HELP = "Also select the symptoms of incidents (by default an incident is handled once, on its root cause)."


@app.command()
def draft(
    keys: Optional[List[str]] = typer.Argument(None, metavar="KEY", help=KEYS_HELP),
    all_clusters: bool = typer.Option(False, "--all", help="Draft every cluster of the last scan."),
    min_priority: Optional[str] = typer.Option(None, "--min-priority", metavar="PRIORITY", help="Only clusters at or above P0-P3."),
    include_symptoms: bool = typer.Option(False, "--include-symptoms", help=SYMPTOMS_HELP),
    out: Optional[str] = typer.Option(None, "--out", "-o", metavar="DIR", help="Write DIR/<fingerprint>.md (and DIR/index.md) instead of stdout ('-': stdout)."),
    project: Optional[str] = typer.Option(None, "--project", metavar="PROJECT", help=PROJECT_HELP),
    state_dir: Optional[Path] = typer.Option(None, "--state-dir", metavar="DIR", help=STATE_DIR_HELP),
    templates: Optional[Path] = typer.Option(None, "--templates", metavar="DIR", help=TEMPLATES_HELP),
) -> None:
    """Render issue drafts (evidence, samples, five whys, remediation) from the last recorded scan."""
    from ..config import load_config
    from ..drafts import Templates, project_of, render_issue, render_scan_report
    from ..incidents import link_incidents
    from ..selection import draft_contexts, select
    from ..state import StateStore, require_latest

    floor = check_selection(keys, all_clusters, min_priority)
    folder = None if out in (None, "-") else Path(out)
    if folder is not None and not folder.is_dir() and os.path.lexists(folder):
        fatal(f"--out {out}: not a directory")
    try:
        configured = load_config(Path.cwd()).project  # the links of `triage issue file` use it too
        template_set = Templates(templates)
        with StateStore.recorded(state_dir) as store:
            scan_id, result = require_latest(store)
            incidents = link_incidents(result.clusters)
            chosen = select(result, incidents, keys or (), floor=floor, include_symptoms=include_symptoms)
            contexts = draft_contexts(store, scan_id, result, incidents, project_of(result, project, configured))
        typer.echo(f"From the last recorded scan, of {scan_age(result, datetime.now(timezone.utc))}", err=True)
        for note in chosen.notes:
            typer.echo(note, err=True)
        drafts = [render_issue(c, contexts[c.fingerprint], template_set) for c in chosen.clusters]
        if folder is None:
            typer.echo("\n---\n\n".join(d.as_markdown() for d in drafts), nl=False)
        else:
            folder.mkdir(parents=True, exist_ok=True)
            for d in drafts:
                (folder / f"{d.fingerprint}.md").write_text(d.as_markdown(), encoding="utf-8")
            links = {d.fingerprint: f"{d.fingerprint}.md" for d in drafts}
            (folder / "index.md").write_text(render_scan_report(result, links, template_set), encoding="utf-8")
            typer.echo(f"Wrote {len(drafts)} draft(s) and index.md to {folder}", err=True)
    except TriageError as err:
        fail_from(err)
    except BrokenPipeError:
        raise  # the reader went away (`| head`): the command ends quietly with exit 141
    except OSError as err:
        target = err.filename or folder  # a write without a file name: to stdout, without --out
        fatal(f"cannot write {'to standard output' if target is None else target}: {err.strerror or err}")
    if not drafts:
        typer.echo("Note: no cluster matched the selection.", err=True)


def scan_age(result: "ScanResult", now: datetime) -> str:
    """``2026-11-28T02:10:00Z, 3 min ago``: when the scan a command works on ran (a scan that could not be recorded
    leaves an older one last)."""
    from ..window import format_time

    if result.scanned_at is None:
        return "an unknown time"
    minutes = int((now - result.scanned_at).total_seconds() // 60)
    if minutes < 1:
        age = "just now"
    elif minutes < 120:
        age = f"{minutes} min ago"
    elif minutes < 48 * 60:
        age = f"{minutes // 60} h ago"
    else:
        age = f"{minutes // (24 * 60)} days ago"
    return f"{format_time(result.scanned_at)}, {age}"


def check_selection(keys: Optional[List[str]], all_clusters: bool, min_priority: Optional[str]) -> str | None:
    """The --min-priority floor (upper case); exits with one line when the selection options are unusable."""
    from ..model import PRIORITIES

    floor = min_priority.upper() if min_priority else None
    if floor is not None and floor not in PRIORITIES:
        fatal(f"unknown --min-priority {min_priority!r}: use P0, P1, P2 or P3")
    if not keys and not all_clusters and floor is None:
        fatal("no cluster selected", hint="name fingerprints or incident ids, or pass --all or --min-priority P1")
    return floor
