"""`triage draft`: five-whys issue drafts for clusters of the last recorded scan."""

from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional

import typer

from . import app, fail_from, fatal
from ..errors import TriageError

STATE_DIR_HELP = "State store folder (default $XDG_STATE_HOME/triage)."
TEMPLATES_HELP = "Folder of templates overriding the shipped ones by file name."


@app.command()
def draft(
    fingerprints: Optional[List[str]] = typer.Argument(None, help="Cluster fingerprints (unique prefixes are enough)."),
    all_clusters: bool = typer.Option(False, "--all", help="Draft every cluster of the last scan."),
    min_priority: Optional[str] = typer.Option(None, "--min-priority", help="Only clusters at or above P0-P3."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write DIR/<fingerprint>.md (and DIR/index.md) instead of stdout."),
    project: Optional[str] = typer.Option(None, "--project", help="Google Cloud project for the Logs Explorer links."),
    state_dir: Optional[Path] = typer.Option(None, "--state-dir", help=STATE_DIR_HELP),
    templates: Optional[Path] = typer.Option(None, "--templates", help=TEMPLATES_HELP),
) -> None:
    """Render issue drafts (evidence, samples, five whys, remediation) from the last recorded scan."""
    from ..drafts import DraftContext, Templates, at_or_above, cluster_status, render_issue, render_scan_report
    from ..model import PRIORITIES
    from ..state import StateStore, require_latest, resolve_fingerprint

    floor = min_priority.upper() if min_priority else None
    if floor is not None and floor not in PRIORITIES:
        fatal(f"unknown --min-priority {min_priority!r}: use P0, P1, P2 or P3")
    if not fingerprints and not all_clusters and floor is None:
        fatal("no cluster selected", hint="name fingerprints, or pass --all or --min-priority P1")
    try:
        template_set = Templates(templates)
        with StateStore.in_dir(state_dir) as store:
            scan_id, result = require_latest(store)
            chosen = [resolve_fingerprint(fp, result) for fp in fingerprints] if fingerprints else list(result.clusters)
            chosen = list({c.fingerprint: c for c in chosen if floor is None or at_or_above(c, floor)}.values())
            found_project = project or _project(result.sources)
            drafts = [
                render_issue(c, DraftContext(result.window, cluster_status(store, c.fingerprint, scan_id), found_project), template_set)
                for c in chosen
            ]
        if out is None:
            typer.echo("\n---\n\n".join(d.as_markdown() for d in drafts), nl=False)
        else:
            out.mkdir(parents=True, exist_ok=True)
            for d in drafts:
                (out / f"{d.fingerprint}.md").write_text(d.as_markdown(), encoding="utf-8")
            links = {d.fingerprint: f"{d.fingerprint}.md" for d in drafts}
            (out / "index.md").write_text(render_scan_report(result, links, template_set), encoding="utf-8")
            typer.echo(f"Wrote {len(drafts)} draft(s) and index.md to {out}", err=True)
    except TriageError as err:
        fail_from(err)
    except OSError as err:
        fatal(f"cannot write {err.filename or out}: {err.strerror or err}")
    if not drafts:
        typer.echo("Note: no cluster matched the selection.", err=True)


def _project(sources: tuple[str, ...]) -> str | None:
    """The project of a `gcp:PROJECT` source, else $GOOGLE_CLOUD_PROJECT."""
    for source in sources:
        if source.startswith("gcp:") and len(source) > 4:
            return source[4:]
    return os.environ.get("GOOGLE_CLOUD_PROJECT") or None
