"""Readers for text exports: ``gcloud logging read --format=table(...)`` / ``value(...)`` and plain log lines.

Each turns rows into LogEntry-shaped mappings (``timestamp``, ``severity``, ``textPayload``, …) so that
one normalizer serves every source. Lines that are not valid UTF-8 are skipped and reported.
"""

from __future__ import annotations

import re
from typing import Callable, Iterable, Iterator

from ..entries import clean_text, declared_severity, infer_severity
from ..model import Problem, Severity
from ..stitch import traceback_after
from . import Record, RecordStream
from .jsonstream import object_line

MAX_ENTRY_LINES = 2000  # lines one entry of text may hold: memory stays flat whatever the input
# gcloud pads its columns with two blanks at least: "TIMESTAMP  LEVEL  MESSAGE", not a banner "TIMESTAMP SKEW DETECTED"
_TIMESTAMP_FIRST = re.compile(rb"^TIMESTAMP(?:[ \t]{2,}[^\sa-z]+)+[ \t]*(?=\r?\n|\Z)")
_TABLE_HEADER = re.compile(rb"^[A-Z][A-Z0-9_]*(?:[ \t]+[A-Z][A-Z0-9_]*)+[ \t]*(?=\r?\n|\Z)")
VALUE_ROW = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:?\d\d)?\t")
# a TIMESTAMP cell as gcloud prints it, also in another format (timestamp.date('%Y-%m-%d %H:%M:%S'), '%H:%M:%S', epoch)
_TABLE_TIME = re.compile(r"\d[\d\-/:.,T Z+]*$")


def is_table_header(head: bytes, *, strict: bool = False) -> bool:
    """A gcloud table's header starts ``head``: upper-case column names two blanks apart, ``TIMESTAMP`` first (unless
    ``strict``), or of which TIMESTAMP and another are gcloud's (``table(severity,timestamp,…)``; not a line such as
    ``ERROR TIMESTAMP MISMATCH``, ``TIMESTAMP skew detected`` or ``TIMESTAMP SKEW DETECTED``)."""
    if not strict and _TIMESTAMP_FIRST.match(head):
        return True
    match = _TABLE_HEADER.match(head)
    names = match[0].split() if match else []
    return b"TIMESTAMP" in names and sum(name.decode() in _TABLE_COLUMNS for name in names) >= 2

# gcloud table headers are the last component of the projected key, upper-cased.
_TABLE_COLUMNS = {
    "TIMESTAMP": ("timestamp",),
    "RECEIVE_TIMESTAMP": ("receiveTimestamp",),
    "SEVERITY": ("severity",),
    "LEVEL": ("jsonPayload", "level"),  # table(timestamp,jsonPayload.level,…): read as the payload's level is
    "TEXT_PAYLOAD": ("textPayload",),
    "MESSAGE": ("jsonPayload", "message"),
    "LOG_NAME": ("logName",),
    "SERVICE_NAME": ("resource", "labels", "service_name"),
    "JOB_NAME": ("resource", "labels", "job_name"),
    "REVISION_NAME": ("resource", "labels", "revision_name"),
    "INSTANCE_ID": ("labels", "instanceId"),
    "INSERT_ID": ("insertId",),
    "TRACE": ("trace",),
    "STATUS": ("httpRequest", "status"),
    "LATENCY": ("httpRequest", "latency"),
}
_VALUE_FIELDS = (("timestamp",), ("severity",), ("textPayload",))

# Timestamps at the start of plain log lines: ISO / loguru / stdlib, or gunicorn's bracketed form.
_LINE_TIME = re.compile(
    r"^\[?(?P<ts>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:\s?(?:Z|[+-]\d\d:?\d\d))?)\]?"
)


def _decoded(lines: Iterable[bytes], name: str, first: int) -> Iterator[tuple[int, str] | Problem]:
    for number, raw in enumerate(lines, first):
        try:
            # without the NUL bytes a log truncated by copytruncate while written holds before a line
            yield number, raw.lstrip(b"\0").decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            yield Problem(f"{name}:{number}", "undecodable bytes (not UTF-8)")


def _put(entry: dict, path: tuple[str, ...], value: str) -> None:
    for key in path[:-1]:
        entry = entry.setdefault(key, {})
    entry[path[-1]] = value


def read_table(lines: Iterable[bytes], name: str, first: int = 1) -> RecordStream:
    """Rows of a gcloud table: columns start where their header starts; a row starts with a time in the TIMESTAMP
    column (a blank cell before it, such as an entry's missing severity, leaves the line a row), other lines
    continue the last cell.

    The header (line ``first``) only places the columns: a byte in it that is not UTF-8 costs no row."""
    lines = iter(lines)
    header = next(lines).decode("utf-8", "replace")
    columns = [(m.start(), m.group()) for m in re.finditer(r"\S+", header)]
    payload_start, last = columns[-1]
    path = _TABLE_COLUMNS.get(last, (last.lower(),))
    starts = _row_start(columns)
    for group in _groups(_non_blank(_decoded(lines, name, first + 1)), starts):
        if isinstance(group, Problem):
            yield group
            continue
        number, (row, *more) = group
        if not starts(row):
            yield Problem(f"{name}:{number}", "text before the first table row")
            continue
        entry = _table_row(row, columns)
        if more:  # joined once: appending line by line would copy a long entry at every line
            _append(entry, path, "\n".join(
                text[payload_start:] if text[:payload_start].strip() == "" else text.strip() for text in more))
        yield Record(name, number, entry)


def _row_start(columns: list[tuple[int, str]]) -> Callable[[str], bool]:
    """Whether a line of the table starts a row: its TIMESTAMP cell holds a time (without that column, or when it
    is the last one: the line does not start with a blank)."""
    for i, (start, title) in enumerate(columns[:-1]):
        if title == "TIMESTAMP":
            end = columns[i + 1][0]
            return lambda text: _TABLE_TIME.match(text[start:end].strip()) is not None
    return lambda text: not text[:1].isspace()


def _table_row(text: str, columns: list[tuple[int, str]]) -> dict:
    entry: dict = {}
    for i, (start, title) in enumerate(columns):
        end = columns[i + 1][0] if i + 1 < len(columns) else None
        cell = text[start:end]
        cell = cell.rstrip() if end is not None else cell.rstrip("\r\n")
        if cell.strip():
            _put(entry, _TABLE_COLUMNS.get(title, (title.lower(),)), cell.strip() if end is not None else cell)
    return entry


def _append(entry: dict, path: tuple[str, ...], cell: str) -> None:
    node = entry
    for key in path[:-1]:
        node = node.setdefault(key, {})
    previous = node.get(path[-1])
    node[path[-1]] = cell if previous is None else previous + "\n" + cell


def read_value(lines: Iterable[bytes], name: str, first: int = 1) -> RecordStream:
    """Tab-separated ``value(timestamp,severity,textPayload)`` rows, or ``value(timestamp,textPayload)`` ones (a
    second field that names no severity is the text); other lines continue the payload."""
    for group in _groups(_decoded(lines, name, first), lambda text: VALUE_ROW.match(text) is not None):
        if isinstance(group, Problem):
            yield group
            continue
        number, (row, *more) = group
        if not VALUE_ROW.match(row):
            if any(text.strip() for text in (row, *more)):
                yield Problem(f"{name}:{number}", "text before the first value() row")
            continue
        entry: dict = {}
        cells = row.split("\t", len(_VALUE_FIELDS) - 1)
        if len(cells) > 1 and cells[1] and declared_severity(cells[1]) is None:
            cells = [cells[0], "", "\t".join(cells[1:])]
        for path, cell in zip(_VALUE_FIELDS, cells):
            if cell:
                _put(entry, path, cell)
        if more:
            _append(entry, ("textPayload",), "\n".join(more))
        yield Record(name, number, entry)


def read_plain(lines: Iterable[bytes], name: str, first: int = 1) -> RecordStream:
    """One entry per line; a line that starts with white space continues the previous entry (up to
    :data:`MAX_ENTRY_LINES` lines). A line that is a JSON object is read as NDJSON reads it (text logs and JSON
    lines mixed, or NDJSON after a line of text). The traceback that ``logger.exception`` writes right after a
    timed line at ERROR or above (a ``Traceback …`` header, its frames, the exception line, chained tracebacks)
    takes that line's time; every other line without a time of its own keeps none (a traceback printed later,
    uncaught, would otherwise take an older time)."""
    error_time, traceback = None, None  # the time of the last timed entry while it is an error; where its traceback stands
    starts = lambda text: not text[:1].isspace()  # noqa: E731
    for group in _groups(_non_blank(_decoded(lines, name, first)), starts, MAX_ENTRY_LINES):
        if isinstance(group, Problem):
            yield group
            continue
        number, texts = group
        if len(texts) == 1 and texts[0][:1] in ("{", "["):
            records = object_line(texts[0], name, number)
            if records is not None:
                error_time = None
                yield from records
                continue
        first_line = clean_text(texts[0])
        match = _LINE_TIME.match(first_line)  # read past the ANSI colours of the first line
        entry = {"textPayload": "\n".join(texts)}
        if match:
            entry["timestamp"] = match.group("ts")
            level = infer_severity(first_line)
            error_time = entry["timestamp"] if level is not None and level >= Severity.ERROR else None
            traceback = None
        elif error_time is not None:
            traceback = traceback_after(clean_text(entry["textPayload"]), traceback)
            if traceback is None:
                error_time = None
            else:
                entry["timestamp"] = error_time
        yield Record(name, number, entry)


def _non_blank(rows: Iterator[tuple[int, str] | Problem]) -> Iterator[tuple[int, str] | Problem]:
    return (row for row in rows if isinstance(row, Problem) or row[1].strip())


def _groups(
    rows: Iterable[tuple[int, str] | Problem], starts: Callable[[str], bool], max_lines: int | None = None
) -> Iterator[tuple[int, list[str]] | Problem]:
    """Lines grouped into records, with the number of each record's first line: a line for which ``starts``
    holds opens a record, any other continues the current one, up to ``max_lines`` lines (lines before the first
    record form a group of their own). Problems pass through in place."""
    number, group = 0, []
    for row in rows:
        if isinstance(row, Problem):
            yield row
            continue
        if group and not starts(row[1]) and (max_lines is None or len(group) < max_lines):
            group.append(row[1])
            continue
        if group:
            yield number, group
        number, group = row[0], [row[1]]
    if group:
        yield number, group
