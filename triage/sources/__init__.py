"""Sources yield :class:`Record` (a LogEntry-shaped mapping and where it came from), :class:`Problem`
(a skipped record) or, last, :class:`Truncated` (the source stopped early on purpose).

Every reader streams: memory does not grow with the size of its input.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping

from ..errors import UsageError
from ..model import Problem


@dataclass(frozen=True, slots=True)
class Record:
    """One raw log entry: a Cloud Logging LogEntry mapping (camelCase or snake_case) and where it came from: the
    ``number``-th line (``:``) of file ``source``, or the ``number``-th entry (``#``) fetched from ``gcp:PROJECT``."""

    source: str
    number: int
    data: Mapping[str, Any]
    separator: str = ":"

    @property
    def location(self) -> str:
        """``file:line`` or ``gcp:PROJECT#n``, for messages (built only when asked for)."""
        return f"{self.source}{self.separator}{self.number}"


RecordStream = Iterator["Record | Problem | Truncated"]


@dataclass(frozen=True, slots=True)
class Truncated:
    """A source stopped early on purpose (``--max-entries``): the scan is incomplete and says so."""

    location: str
    reason: str


# The one member of the last line of a ``--save-raw`` copy of a pull that stopped early: its replay is truncated too.
TRUNCATED_KEY = "triageTruncated"

GCP_SCHEME = "gcp"
STDIN = "<stdin>"  # the source name of standard input (``--source -``)


def source_name(spec: str) -> str:
    """The name the records of ``--source spec`` carry as their source."""
    return STDIN if spec == "-" else spec


def gcp_project(spec: str) -> str | None:
    """``gcp:PROJECT`` → ``PROJECT``, ``gcp`` → ``""`` (the default project), anything else → None (a file)."""
    if spec == GCP_SCHEME:
        return ""
    if spec.startswith(GCP_SCHEME + ":"):
        return spec[len(GCP_SCHEME) + 1 :]
    return None


def is_live(spec: str) -> bool:
    """Whether ``spec`` reads Cloud Logging (``gcp`` or ``gcp:PROJECT``), not a file."""
    return gcp_project(spec) is not None


def open_source(spec: str, read_gcp: Callable[[str], RecordStream] | None = None) -> RecordStream:
    """Stream one ``--source``: ``gcp:PROJECT`` through ``read_gcp(PROJECT)``, anything else as a file."""
    project = gcp_project(spec)
    if project is None:
        from .files import read_file  # files imports this package

        return read_file(spec)
    if read_gcp is None or not project:
        raise UsageError(f"--source {spec}: Cloud Logging is not set up for this scan")
    return read_gcp(project)


def resolve_sources(specs: tuple[str, ...], project: str | None) -> tuple[str, ...]:
    """The ``--source`` values with ``gcp`` resolved to ``gcp:PROJECT``; Cloud Logging when none is given.

    ``project`` is the configured one; without it the environment's or gcloud's default is used. Standard input
    can be read once only, so ``-`` given twice is refused.
    """
    if specs.count("-") > 1:
        raise UsageError("--source - is given more than once: standard input can be read only once")
    for spec in specs:
        if spec.startswith(GCP_SCHEME + ":") and not gcp_project(spec).strip():
            raise UsageError(
                f"--source {spec!r} names no project", hint="use --source gcp:PROJECT, or gcp for the configured one"
            )
    specs = tuple(f"{GCP_SCHEME}:{gcp_project(spec).strip()}" if gcp_project(spec) else spec for spec in specs)
    needs_project = not specs or any(gcp_project(spec) == "" for spec in specs)
    found = None
    if needs_project:
        from .gcp import default_project

        found = (project or "").strip() or default_project()
    if not specs:
        if not found:
            raise UsageError(
                "no --source given",
                hint="pass a log export with --source FILE ('-' for stdin), or set a project to read Cloud Logging",
            )
        return (f"{GCP_SCHEME}:{found}",)
    if needs_project and not found:
        raise UsageError(
            "--source gcp: no Cloud Logging project set",
            hint="use --source gcp:PROJECT, --project, triage.toml or GOOGLE_CLOUD_PROJECT",
        )
    return tuple(f"{GCP_SCHEME}:{found}" if gcp_project(spec) == "" else spec for spec in specs)


def distinct_files(specs: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``specs`` without the files named again (the same path once resolved, or the same regular file through another
    path or a link) and the Cloud Logging projects named again, and a warning for each one left out: a source given
    twice is read (or pulled: twice the time and quota) once. Text exports carry no insertId to tell a repeated entry
    by, and whole-second lines of several workers may well be the same text, so only the files themselves can be
    told apart. ``-`` stays as it is."""
    kept: list[str] = []
    first: dict[tuple, str] = {}
    warnings = []
    for spec in specs:
        key = None if spec == "-" else ("live", spec) if is_live(spec) else _file_key(spec)
        if key in first:
            warnings.append(
                f"--source {spec} is given twice: pulled once" if key[0] == "live"
                else f"--source {spec} names the same file as {first[key]}: read once"
            )
            continue
        if key is not None:
            first[key] = spec
        kept.append(spec)
    return tuple(kept), tuple(warnings)


def _file_key(path: str) -> tuple:
    """What tells file ``path`` apart: its device and inode for a regular file, else its resolved path."""
    try:
        found = os.stat(path)
    except OSError:  # missing: reading it fails later
        found = None
    if found is not None and stat.S_ISREG(found.st_mode):
        return ("inode", found.st_dev, found.st_ino)
    return ("path", os.path.realpath(path))
