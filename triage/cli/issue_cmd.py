"""`triage issue file`: file or update one GitHub issue per cluster (or incident) of the last scan, never a duplicate."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import List, Optional

import typer

from . import CommandGroup, app, fail_from, fatal
from .draft_cmd import KEYS_HELP, PROJECT_HELP, STATE_DIR_HELP, SYMPTOMS_HELP, TEMPLATES_HELP, check_selection
from ..errors import TriageError

issue_app = typer.Typer(
    cls=CommandGroup, help="File scan results as GitHub issues.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(issue_app, name="issue")

LOCK_NAME = "filing.lock"  # beside state.db: one `issue file` run at a time per state store
REPO_RE = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
FORMATS = ("table", "json")


@issue_app.command("file")
def file_issues(
    keys: Optional[List[str]] = typer.Argument(None, metavar="KEY", help=KEYS_HELP),
    all_: bool = typer.Option(False, "--all", help="Every cluster of the last scan."),
    min_priority: Optional[str] = typer.Option(None, "--min-priority", metavar="PRIORITY", help="Only clusters at or above this priority (P0-P3)."),
    include_symptoms: bool = typer.Option(False, "--include-symptoms", help=SYMPTOMS_HELP),
    repo: Optional[str] = typer.Option(None, "--repo", metavar="OWNER/REPO", help="OWNER/REPO (default: github_repo from the config file)."),
    label: Optional[List[str]] = typer.Option(None, "--label", metavar="LABEL", help="Extra label for new issues. Repeatable."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would happen; write nothing."),
    fmt: str = typer.Option("table", "--format", "-f", metavar="FORMAT", help="Output format: table or json."),
    state_dir: Optional[Path] = typer.Option(None, "--state-dir", metavar="DIR", help=STATE_DIR_HELP),
    templates: Optional[Path] = typer.Option(None, "--templates", metavar="DIR", help=TEMPLATES_HELP),
    project: Optional[str] = typer.Option(None, "--project", metavar="PROJECT", help=PROJECT_HELP),
) -> None:
    """Create, comment on or reopen one GitHub issue per cluster (an incident: one, on its root cause); the token comes from GH_TOKEN or GITHUB_TOKEN."""
    from .. import github
    from ..config import load_config
    from ..drafts import Templates, marker_data, project_of, render_issue
    from ..filing import apply, plan, update_status, with_own_issues
    from ..incidents import link_incidents
    from ..selection import draft_contexts, select
    from ..state import StateStore, require_latest

    fmt = fmt.lower()
    if fmt not in FORMATS:
        fatal(f"unknown --format {fmt!r}: use table or json")
    floor = check_selection(keys, all_, min_priority)
    try:
        config = load_config(Path.cwd())
    except TriageError as err:
        fail_from(err)
    repo = (repo or config.github_repo or "").strip()
    if not repo:
        fatal("no repository given", hint="pass --repo OWNER/REPO or set github_repo in triage.toml")
    if not REPO_RE.fullmatch(repo):
        fatal(f"--repo {repo!r} is not OWNER/REPO")
    # as gh reads them, GH_TOKEN first; a blank one (or a line end pasted with a token) does not count
    token = next((value.strip() for value in map(os.environ.get, ("GH_TOKEN", "GITHUB_TOKEN")) if value and value.strip()), "")
    if not token:
        fatal("no GitHub token", hint="set GH_TOKEN or GITHUB_TOKEN to a token that can write issues")
    if not (token.isascii() and token.isprintable()) or any(char.isspace() for char in token):
        fatal("the GitHub token holds characters no token has (quotes pasted with it?)",
              hint="set GH_TOKEN or GITHUB_TOKEN to the token alone")

    done: list = []
    tracker = None
    try:
        template_set = Templates(templates)
        with StateStore.recorded(state_dir) as store:
            scan_id, result = require_latest(store)
            incidents = link_incidents(result.clusters)
            chosen = select(result, incidents, keys or (), floor=floor, include_symptoms=include_symptoms)
            for note in chosen.notes:
                typer.echo(note, err=True)
            if not chosen.clusters:
                typer.echo("Note: no cluster matched the selection.", err=True)
                _print(done, fmt, dry_run)  # JSON: an empty list, as a script reading it expects
                return
            contexts = draft_contexts(store, scan_id, result, incidents, project_of(result, project, config.project))

            def render(cluster, kind: str):
                context = contexts[cluster.fingerprint]
                return render_issue(cluster, replace(context, status=update_status(kind, context.status)), template_set)

            def link(action) -> None:  # under the name as GitHub spells it
                try:
                    store.link_issue(action.fingerprint, tracker.repo_name, action.number, action.url, action.state,
                                     action.closed_at, repo_id=tracker.repo_id, api_host=tracker.api_host)
                except sqlite3.Error as err:  # done on GitHub, not recorded: say what was done, not "damaged"
                    raise _NotRecorded(action, store.path, err) from None

            base_url = os.environ.get("GITHUB_API_URL") or github.DEFAULT_API_URL
            tracker = github.GitHubTracker(
                repo, token, base_url=base_url, pacing=github.DEFAULT_PACING, markers_of=marker_data,
                notice=lambda message: typer.echo(f"Note: {message}", err=True),
            )
            def linked(fingerprint: str):  # also under the name --repo gave (a renamed repository)
                issue = store.linked_issue(fingerprint, tracker.repo_name) or store.linked_issue(fingerprint, repo)
                return github.IssueLink(issue.number, issue.repo_id, issue.api_host) if issue else None

            # one run at a time per state store, from reading the issues until what it created is recorded: two
            # runs that both read the issues before either created one would both create it
            with contextlib.nullcontext() if dry_run else _filing_lock(store.path.parent / LOCK_NAME):
                clusters = with_own_issues(chosen.clusters, chosen.folded, tracker)
                actions = plan(clusters, tracker, render, result.window, tuple(label or ()), linked,
                               follow_symptoms=not include_symptoms)
                if dry_run:
                    done = actions
                else:
                    for action in apply(actions, tracker, link):
                        done.append(action)
    except TriageError as err:
        if isinstance(err, _NotRecorded):
            done.append(replace(err.action, reason="not recorded in the state store"))
        if done:  # what happened before the error, so that nobody redoes it by hand
            _print(done, fmt, dry_run)
        fail_from(err)
    finally:
        if tracker is not None:
            tracker.close()
    _print(done, fmt, dry_run)


class _NotRecorded(TriageError):
    """GitHub did ``action``, but the state store could not record it (another triage command holding it, say)."""

    def __init__(self, action, path: Path, err: sqlite3.Error):
        busy = isinstance(err, sqlite3.OperationalError) and any(
            word in str(err).lower() for word in ("locked", "busy"))
        done = f"issue #{action.number} was {_verb(action.kind, False)} on GitHub but not recorded"
        if busy:
            message = (f"the state store {path} stayed busy (another triage command is writing to it): {done}; run"
                       " this command again once that one is done: it finds the issue instead of filing it again")
        else:
            message = (f"cannot record in the state store {path} ({err}): {done}; run this command again: it finds"
                       " the issue instead of filing it again")
        super().__init__(message)
        self.action = action


@contextlib.contextmanager
def _filing_lock(path: Path):
    """Hold an exclusive lock on ``path`` (created beside the state store); say on stderr when waiting for another
    run that holds it."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as err:
        raise TriageError(f"cannot open the lock file {path}: {err.strerror or err}") from None
    try:
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                typer.echo(f"Note: another `triage issue file` run is filing with this state store; waiting for it"
                           f" to finish ({path})", err=True)
                fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as err:
            raise TriageError(f"cannot lock {path}: {err.strerror or err}") from None
        yield
    finally:
        os.close(fd)  # releases the lock


def _print(actions, fmt: str, dry_run: bool) -> None:
    """What was done (or would be, with --dry-run): a table with issue URLs (titles when dry), or JSON."""
    if fmt == "json":
        rows = [
            {"fingerprint": a.fingerprint, "action": a.kind, "dry_run": dry_run, "number": a.number, "url": a.url, "title": a.title, "note": a.reason}
            for a in actions
        ]
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not actions:
        return
    header = ("ACTION", "FINGERPRINT", "ISSUE", "TITLE" if dry_run else "URL", "NOTE")
    rows = [
        (_verb(a.kind, dry_run), a.fingerprint[:12], f"#{a.number}" if a.number else "-", (a.title if dry_run else a.url) or "-", a.reason)
        for a in actions
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


def _verb(kind: str, dry_run: bool) -> str:
    if dry_run:
        return kind if kind == "skip" else f"would {kind}"
    return {"create": "created", "comment": "commented", "reopen": "reopened", "skip": "skipped"}[kind]
