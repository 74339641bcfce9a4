"""`triage scan`: read the window, match rules, cluster, rank, report."""

from __future__ import annotations

import os
import shutil
import sys
import time
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, List, NamedTuple, Optional, Sequence

import typer

from . import app, fail_from, fatal
from ..errors import TriageError

if TYPE_CHECKING:
    from ..assess import ScanReport
    from .report_file import ReportFile
    from ..model import ScanResult

FORMAT_HELP = "Output format: table, json, markdown or csv (default: from the --output suffix, else table)."
_FORMAT_OF_SUFFIX = {".json": "json", ".md": "markdown", ".markdown": "markdown", ".csv": "csv"}
SOURCE_HELP = (
    "A log export file (JSON array, NDJSON, client dump, gcloud table/value text, plain lines; .gz too), '-' for "
    "stdin, or 'gcp' / 'gcp:PROJECT' for Cloud Logging (the default when a project is configured). Repeatable."
)


@app.command()
def scan(
    source: Optional[List[str]] = typer.Option(
        None, "--source", "-s", metavar="SOURCE", help=SOURCE_HELP
    ),
    since: Optional[str] = typer.Option(None, "--since", metavar="DURATION", help="Window relative to now: 90s, 30m, 1h, 2d, 1w (up to now, exclusive)."),
    start: Optional[str] = typer.Option(None, "--from", metavar="TS", help="Window start (inclusive), ISO-8601 with any offset; naive means UTC."),
    end: Optional[str] = typer.Option(None, "--until", metavar="TS", help="Window end (exclusive), ISO-8601 with any offset; naive means UTC."),
    now: Optional[str] = typer.Option(None, "--now", metavar="TS", help="Anchor 'now' (ISO-8601) for reproducible --since windows."),
    service: Optional[List[str]] = typer.Option(None, "--service", metavar="NAME", help="Only this Cloud Run service. Repeatable."),
    min_severity: Optional[str] = typer.Option(None, "--min-severity", metavar="LEVEL", help="Severity floor: DEBUG, INFO, NOTICE, WARNING, ERROR or CRITICAL (inferred severities count). Default WARNING."),
    rules: Optional[List[str]] = typer.Option(None, "--rules", metavar="PATH", help="Rule file or directory; replaces the default pack. Repeatable."),
    fmt: Optional[str] = typer.Option(None, "--format", "-f", metavar="FORMAT", help=FORMAT_HELP),
    output: Optional[str] = typer.Option(None, "--output", "-o", metavar="FILE", help="Write the report to this file instead of stdout ('-': stdout)."),
    fail_on: Optional[str] = typer.Option(None, "--fail-on", metavar="PRIORITY", help="Exit 3 when a cluster at or above this priority (P0-P3) exists."),
    project: Optional[str] = typer.Option(None, "--project", metavar="PROJECT", help="Cloud Logging project (else triage.toml, GOOGLE_CLOUD_PROJECT, gcloud's)."),
    resource_type: Optional[str] = typer.Option(None, "--resource-type", metavar="TYPE", help="Cloud Logging resource type (default cloud_run_revision; 'any' for all)."),
    extra_filter: Optional[str] = typer.Option(None, "--filter", metavar="EXPR", help="A Cloud Logging filter expression ANDed into the query."),
    show_filter: bool = typer.Option(False, "--show-filter", help="Print the Cloud Logging filter and exit."),
    max_entries: Optional[int] = typer.Option(None, "--max-entries", metavar="N", min=1, help="Stop after N Cloud Logging entries (reported as truncated)."),
    save_raw: Optional[str] = typer.Option(None, "--save-raw", metavar="FILE", help="Write every fetched entry to this NDJSON file (replay with --source FILE)."),
    state_dir: Optional[str] = typer.Option(None, "--state-dir", metavar="DIR", help="State store folder (default $XDG_STATE_HOME/triage)."),
    no_state: bool = typer.Option(False, "--no-state", help="Do not record this scan in the state store."),
    keep: Optional[str] = typer.Option(None, "--keep", metavar="DURATION", help="Prune stored scans older than this (default 30d, or triage.toml's keep)."),
) -> None:
    """Scan a window of Cloud Run logs and print a ranked list of failures."""
    from ..model import DEFAULT_RESOURCE_TYPE, PRIORITIES, Severity
    from ..report import FORMATS
    from ..rules import load_rules
    from ..scan import ScanOptions, scan as run_scan
    from ..config import load_config
    from ..gcp_filter import DEFAULT_WINDOW, build_filter, closed_window
    from ..sources import gcp_project, open_source, resolve_sources
    from ..window import build_window, parse_duration, parse_keep, parse_time

    output_file = None if output in (None, "-") else Path(output)
    raw_file, store_dir = (None if v is None else Path(v) for v in (save_raw, state_dir))
    fmt = fmt.lower() if fmt else _FORMAT_OF_SUFFIX.get(output_file.suffix.lower() if output_file else "", "table")
    if fmt not in FORMATS:
        fatal(f"unknown --format {fmt!r}: use one of {', '.join(FORMATS)}")
    if fail_on is not None and fail_on.upper() not in PRIORITIES:
        fatal(f"unknown --fail-on {fail_on!r}: use P0, P1, P2 or P3")
    try:
        config = load_config(Path.cwd())
    except TriageError as err:
        fail_from(err)
    min_severity = min_severity or config.min_severity or "WARNING"
    try:
        floor = Severity.parse(min_severity)
    except ValueError:
        fatal(f"unknown --min-severity {min_severity!r}: use DEBUG, INFO, NOTICE, WARNING, ERROR or CRITICAL")
    services = tuple(service or config.services)
    kind = (resource_type or config.resource_type or "").strip() or DEFAULT_RESOURCE_TYPE
    kind = None if kind.lower() == "any" else kind
    try:
        window = build_window(since, start, end, now)
        kept = parse_keep(keep or config.keep or "30d", "--keep")  # checked also with --no-state
        history_kept = None if no_state else kept
        specs = () if show_filter else resolve_sources(tuple(source or ()), project or config.project)
        uses_gcp = show_filter or any(gcp_project(spec) is not None for spec in specs)
        rule_set = load_rules(_rule_paths([Path(r) for r in rules or ()] or list(config.rules)))
        query = None
        if uses_gcp:
            anchor = parse_time(now, "--now") if now is not None else None
            default = parse_duration(config.since) if config.since else DEFAULT_WINDOW
            clock = datetime.now(timezone.utc)
            pulled = closed_window(window, default, anchor or clock, clock)
            query = build_filter(pulled, services, floor, kind, extra_filter, rule_set.request_specs)
            if all(gcp_project(spec) is not None for spec in specs):
                window = pulled  # with export files beside it, those keep the window the options gave
        if show_filter:
            typer.echo(query)
            raise typer.Exit(0)
        if not uses_gcp:
            _refuse_gcp_only_options(save_raw=save_raw, max_entries=max_entries, filter=extra_filter,
                                     resource_type=resource_type, project=project)
            if now is not None and (end is not None or (since is None and start is None)):
                typer.echo("Note: --now anchors a --since window or ends a --from one; it changes nothing here", err=True)
        _refuse_clobbering(output_file, raw_file, specs)
        if uses_gcp:  # a typo in an export's name is told now, not after a pull of minutes
            from ..sources.files import check_readable

            for spec in specs:
                if gcp_project(spec) is None:
                    check_readable(spec)
        options = ScanOptions(specs, window, services, floor)
        with _report_file(output_file) as report_file, _gcp_reader(query, max_entries, raw_file) as read_gcp:
            result = run_scan(options, rule_set, lambda spec: open_source(spec, read_gcp), split_files=True)
            if uses_gcp:  # what the pull selected (of files alone, the scan tells what their failures came from)
                result = replace(result, resource_type=kind)
            _report(result, result.sources, fmt, report_file, store_dir, history_kept,
                    _PullScope(kind, extra_filter, services_configured=not service))
    except TriageError as err:
        fail_from(err)
    if fail_on is not None:
        limit = PRIORITIES.index(fail_on.upper())
        if any(PRIORITIES.index(c.priority) <= limit for c in result.clusters):
            raise typer.Exit(3)


class _PullScope(NamedTuple):
    """What narrowed a Cloud Logging pull besides the window, the services and the severity."""

    resource_type: Optional[str]  # None: any
    extra_filter: Optional[str]
    services_configured: bool = False  # the services came from the config file, not --service

    def services(self, names: Sequence[str]) -> str:
        """The services as the user gave them: ``--service a, b`` or ``service a, b (the config file's services)``."""
        if not self.services_configured:
            return f"--service {', '.join(names)}"
        return f"service{'s' if len(names) > 1 else ''} {', '.join(names)} (the config file's `services`)"


def _report(
    result: "ScanResult", specs: Sequence[str], fmt: str, report_file: Optional["ReportFile"], state_dir: Optional[Path],
    keep: Optional[timedelta], scope: Optional[_PullScope] = None,
) -> None:
    """Warn about the scan, render and deliver the report (to stdout without ``report_file``); then, with state
    (``keep`` set), record the scan: a report that was not delivered leaves no trace in the history."""
    from ..report import render

    _warn(result, specs, scope)
    report, recordable = _assess(result, state_dir, keep is not None)
    terminal = report_file is None and sys.stdout.isatty()
    color = terminal and "NO_COLOR" not in os.environ
    text = render(report, fmt, color=color, width=shutil.get_terminal_size().columns if terminal else 80)
    if report_file is None:
        typer.echo(text, nl=False)
    else:
        try:
            report_file.write(text)
        except OSError as err:
            fatal(f"cannot write {report_file.path}: {err.strerror or err}")
        clusters = len(result.clusters)
        typer.echo(f"Wrote {clusters} cluster{'' if clusters == 1 else 's'} ({fmt}) to {report_file.path}", err=True)
    if recordable:
        _record(result, state_dir, keep)


def _warn(result: "ScanResult", specs: Sequence[str], scope: Optional[_PullScope] = None) -> None:
    """Warnings and notes about what the scan read, on stderr; nothing readable at all is an error."""
    from ..model import DEFAULT_RESOURCE_TYPE
    from ..sources import gcp_project

    for warning in result.warnings:
        typer.echo(f"Warning: {warning}", err=True)
    if result.entries_skipped:
        first = result.skipped_examples[0]
        typer.echo(
            f"Warning: skipped {result.entries_skipped} unreadable record(s); first at {first.location}: {first.reason}",
            err=True,
        )
    if result.entries_read == 0 and result.entries_skipped:
        fatal(f"nothing readable in {', '.join(specs)}")
    scope = scope or _PullScope(DEFAULT_RESOURCE_TYPE, None)
    odd_type = scope.resource_type not in (None, DEFAULT_RESOURCE_TYPE)
    only_gcp = all(gcp_project(spec) is not None for spec in specs)
    if result.entries_read == 0 and result.services and only_gcp and not odd_type and not scope.extra_filter:
        typer.echo(f"Note: Cloud Logging returned no entry of {scope.services(result.services)} at this severity in the window: a "
                   "healthy service, or a misspelt name (`gcloud run services list` shows them)", err=True)
    elif result.entries_read == 0 and only_gcp and specs:  # say what narrowed it: not to be read as an all-clear
        narrowed, hints = [], []
        if odd_type:
            narrowed.append(f"resource type {scope.resource_type}")
            hints.append("a misspelt type? (`--resource-type any` takes all)")
        if result.services:
            narrowed.append(scope.services(result.services))
            hints.append("a misspelt service? (`gcloud run services list` shows them)")
        if scope.extra_filter:
            narrowed.append("--filter")
            hints.append("`--show-filter` prints the query")
        of = f" of {' and '.join(narrowed)}" if narrowed else ""
        typer.echo(f"Note: Cloud Logging returned no entry{of} at this severity in the window"
                   f"{': ' + '; '.join(hints) if hints else ''}", err=True)
    elif result.entries_read == 0:
        typer.echo("Note: the sources hold no entries.", err=True)
    elif result.entries_in_window == 0:
        typer.echo("Note: the window and filters selected no entries.", err=True)


def _refuse_gcp_only_options(**given: object) -> None:
    """Options that only shape a Cloud Logging pull are an error without one (ignoring them would mislead)."""
    names = [f"--{name.replace('_', '-')}" for name, value in given.items() if value is not None]
    if names:
        listed = " and ".join(filter(None, (", ".join(names[:-1]), names[-1])))
        fatal(f"{listed} {'needs' if len(names) == 1 else 'need'} a Cloud Logging source (--source gcp)")


def _refuse_clobbering(output: Optional[Path], raw: Optional[Path], specs: Sequence[str]) -> None:
    """``--output`` and ``--save-raw`` must not name a file the scan reads (it would be replaced, or emptied before
    it is read; ``-`` is standard input, which may be a file), nor the same file."""
    for option, path in (("--output", output), ("--save-raw", raw)):
        for spec in specs if path is not None else ():
            if _same_file(spec, path):
                fatal(f"{option} {path} is the source {spec}: writing it would replace the export")
    if output is not None and raw is not None:
        resolved = _resolved(output)
        if _same_file(str(output), raw) or (resolved is not None and resolved == _resolved(raw)):
            fatal(f"--output and --save-raw name the same file {output}")


def _same_file(spec: str, path: Path) -> bool:
    """Whether source ``spec`` (a path, ``-`` for standard input) is the file at ``path``."""
    try:
        if spec == "-":
            return os.path.samestat(os.fstat(sys.stdin.fileno()), os.stat(path))
        return os.path.samefile(spec, path)
    except (OSError, ValueError, AttributeError):  # missing, not a path (gcp:PROJECT), a stdin without a file (a test's) or none
        return False


def _resolved(path: Path) -> Optional[Path]:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a symbolic link loop: writing it fails later with its own message
        return None


@contextmanager
def _report_file(path: Optional[Path]) -> Iterator[Optional["ReportFile"]]:
    """``--output``, opened before the scan so that a path that cannot be written fails first (None: stdout)."""
    if path is None:
        yield None
        return
    from .report_file import ReportFile

    try:
        report_file = ReportFile(path)
    except OSError as err:
        fatal(f"cannot write {path}: {err.strerror or err}")
    with report_file:
        yield report_file


def _rule_paths(paths: List[Path]) -> Optional[List[Path]]:
    """The rule files and directories to load (None: the default pack); a directory must hold a rule file."""
    from ..rules_load import rule_files

    for path in paths:
        if path.is_dir() and not rule_files([path]):
            fatal(f"{path}: no rule file (*.yaml, *.yml) in this directory")
    return paths or None


def _assess(result: "ScanResult", state_dir: Optional[Path], history: bool) -> tuple["ScanReport", bool]:
    """The report, with history when asked, and whether to record the scan; a store failure only warns."""
    import sqlite3

    from ..assess import assess

    try:
        return assess(result, state_dir, history=history), history
    except (TriageError, sqlite3.Error, OSError) as err:
        typer.echo(f"Warning: scan not recorded: {err}", err=True)
        return assess(result, None, history=False), False


def _record(result: "ScanResult", state_dir: Optional[Path], keep: timedelta) -> None:
    """Record the delivered scan; a store failure only warns."""
    import sqlite3

    from ..assess import record

    try:
        record(result, state_dir, keep)
    except (TriageError, sqlite3.Error, OSError) as err:
        typer.echo(f"Warning: scan not recorded: {err}", err=True)


@contextmanager
def _gcp_reader(query: Optional[str], max_entries: Optional[int], save_raw: Optional[Path]) -> Iterator[Optional[Callable]]:
    """``read_gcp(project)`` for :func:`triage.sources.open_source`, with --save-raw and progress wired in."""
    if query is None:
        yield None
        return
    from ..sources.gcp import Pull, endpoint, make_client, pull
    from .report_file import ReportFile

    with ExitStack() as stack:
        raw = None
        if save_raw is not None:  # written whole or not at all: a failed scan leaves an earlier copy as it was
            try:
                raw = stack.enter_context(ReportFile(save_raw))
            except OSError as err:
                fatal(f"cannot write {save_raw}: {err.strerror or err}")
        on_page = stack.enter_context(_progress()) if sys.stderr.isatty() else None
        raw_out = raw.stream if raw is not None else None
        if raw_out is not None and save_raw.name.endswith(".gz"):  # gzip, as the name says (zcat, gsutil)
            import gzip

            raw_out = gzip.GzipFile(fileobj=raw_out, mode="wb")

        def read_gcp(project: str):
            client = make_client(project)
            return pull(Pull(project, query, max_entries), client, raw_out=raw_out, on_page=on_page,
                        on_retry=lambda what: typer.echo(f"Note: {what}", err=True), api_url=endpoint())

        yield read_gcp
        if raw is not None:
            try:
                if raw_out is not raw.stream:
                    raw_out.close()  # the gzip trailer (the file itself stays open until committed)
                raw.commit()
            except OSError as err:
                fatal(f"cannot write {save_raw}: {err.strerror or err}")


@contextmanager
def _progress() -> Iterator[Callable[[int, int], None]]:
    """A live line on stderr: entries, pages and rate of the Cloud Logging pull."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from ..sources.gcp import counted

    started = time.monotonic()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("Cloud Logging: connecting", total=None)

        def update(entries: int, pages: int) -> None:
            rate = entries / max(time.monotonic() - started, 1e-3)
            progress.update(task, description=(f"Cloud Logging: {counted(entries, 'entry', 'entries')}, "
                                                     f"{counted(pages, 'page')}, {rate:,.0f}/s"))

        yield update
