"""`triage worklog new|attach`: start a worklog, append a dated section about the last scan."""

from __future__ import annotations

import os
import shlex
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence
from urllib.parse import quote

import typer

from . import CommandGroup, app, fail_from, fatal
from ..errors import TriageError
from .draft_cmd import STATE_DIR_HELP, TEMPLATES_HELP, scan_age

if TYPE_CHECKING:
    from ..model import Cluster

worklog_app = typer.Typer(
    cls=CommandGroup, help="Keep an on-call worklog: start one, append scan summaries.", no_args_is_help=True
)
app.add_typer(worklog_app, name="worklog")


@worklog_app.command("new")
def new(
    path: Path = typer.Argument(..., metavar="FILE", help="The worklog file to create (never overwritten)."),
    title: str = typer.Option("Worklog", "--title", metavar="TEXT", help="The heading of the worklog."),
    templates: Optional[Path] = typer.Option(None, "--templates", metavar="DIR", help=TEMPLATES_HELP),
) -> None:
    """Start a worklog from the template; refuse to overwrite an existing file."""
    from ..drafts import Templates, render_worklog_new
    from ..worklog import create_new

    try:
        create_new(path, render_worklog_new(title, datetime.now().astimezone(), Templates(templates)))
    except TriageError as err:
        fail_from(err)
    typer.echo(f"Created {path}", err=True)


@worklog_app.command("attach")
def attach(
    path: Path = typer.Argument(..., metavar="FILE", help="The worklog file (created with a heading if missing)."),
    min_priority: Optional[str] = typer.Option(None, "--min-priority", metavar="PRIORITY", help="Only list clusters at or above P0-P3."),
    drafts: Optional[Path] = typer.Option(None, "--drafts", metavar="DIR", help="Folder of drafts written by `triage draft --out`: link them."),
    state_dir: Optional[Path] = typer.Option(None, "--state-dir", metavar="DIR", help=STATE_DIR_HELP),
    templates: Optional[Path] = typer.Option(None, "--templates", metavar="DIR", help=TEMPLATES_HELP),
) -> None:
    """Append a dated section about the last recorded scan; existing bytes are never changed."""
    from ..drafts import Templates, at_or_above, render_worklog_new, render_worklog_section
    from ..model import PRIORITIES
    from ..state import StateStore, require_latest
    from ..worklog import append_section

    floor = min_priority.upper() if min_priority else None
    if floor is not None and floor not in PRIORITIES:
        fatal(f"unknown --min-priority {min_priority!r}: use P0, P1, P2 or P3")
    if drafts is not None and not drafts.is_dir():
        fatal(f"--drafts {drafts}: not a directory")
    now = datetime.now().astimezone()
    try:
        template_set = Templates(templates)
        with StateStore.recorded(state_dir) as store:
            _, result = require_latest(store)
        links, stale = _draft_links(drafts, path, result.clusters) if drafts else ({}, 0)
        if stale:
            again = ["triage", "draft", "--all", "--out", str(drafts)] + (["--state-dir", str(state_dir)] if state_dir else [])
            typer.echo(
                f"Note: {stale} draft(s) in {drafts} are of another scan (their counts or times differ): not linked;"
                f" draft them again (`{shlex.join(again)}`) to link them", err=True,
            )
        section = render_worklog_section(result, now, floor, links, template_set)
        append_section(path, section, render_worklog_new("Worklog", now, template_set))
    except TriageError as err:
        fail_from(err)
    listed = sum(1 for c in result.clusters if floor is None or at_or_above(c, floor))
    typer.echo(
        f"Appended the last recorded scan, of {scan_age(result, now)} ({listed} of {len(result.clusters)} clusters "
        f"listed), to {path}", err=True,
    )


def _draft_links(folder: Path, worklog: Path, clusters: Sequence[Cluster]) -> tuple[dict[str, str], int]:
    """Fingerprint → link (relative to the worklog's folder) for every draft in ``folder`` of these ``clusters`` as
    this scan found them (its marker's count, first and last seen), and how many drafts there are of another scan."""
    from ..drafts import parse_marker
    from ..window import iso_z

    base = worklog.resolve().parent
    links, stale = {}, 0
    for cluster in clusters:
        draft = folder / f"{cluster.fingerprint}.md"
        if not draft.is_file():
            continue
        try:
            found = parse_marker(draft.read_text(encoding="utf-8", errors="replace"), cluster.fingerprint) or {}
        except OSError:
            found = {}
        seen = (found.get("count"), found.get("first_seen"), found.get("last_seen"))
        if seen != (cluster.count, iso_z(cluster.first_seen), iso_z(cluster.last_seen)):
            stale += 1
            continue
        links[cluster.fingerprint] = quote(Path(os.path.relpath(draft.resolve(), base)).as_posix())
    return links, stale
