"""Readers for text exports: ``gcloud logging read --format=table(...)`` / ``value(...)`` and plain log lines.

Each turns rows into LogEntry-shaped mappings (``timestamp``, ``severity``, ``textPayload``, …) so that
one normalizer serves every source. Lines that are not valid UTF-8 are skipped and reported.
"""

from __future__ import annotations

import re
from typing import Iterable, Iterator

from ..model import Problem
from . import Record, RecordStream

TABLE_HEADER = re.compile(rb"^TIMESTAMP\s+\S")
VALUE_ROW = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:?\d\d)?\t")

# gcloud table headers are the last component of the projected key, upper-cased.
_TABLE_COLUMNS = {
    "TIMESTAMP": ("timestamp",),
    "RECEIVE_TIMESTAMP": ("receiveTimestamp",),
    "SEVERITY": ("severity",),
    "TEXT_PAYLOAD": ("textPayload",),
    "MESSAGE": ("jsonPayload", "message"),
    "LOG_NAME": ("logName",),
    "SERVICE_NAME": ("resource", "labels", "service_name"),
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
            yield number, raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            yield Problem(f"{name}:{number}", "undecodable bytes (not UTF-8)")


def _put(entry: dict, path: tuple[str, ...], value: str) -> None:
    for key in path[:-1]:
        entry = entry.setdefault(key, {})
    entry[path[-1]] = value


def read_table(lines: Iterable[bytes], name: str) -> RecordStream:
    """Rows of a gcloud table: columns start where their header starts; indented lines continue the last cell."""
    rows = _decoded(lines, name, 1)
    header = next(rows)
    if isinstance(header, Problem):
        yield header
        return
    columns = [(m.start(), m.group()) for m in re.finditer(r"\S+", header[1])]
    payload_start = columns[-1][0]
    current: dict | None = None
    current_line = 0
    for row in rows:
        if isinstance(row, Problem):
            yield row
            continue
        number, text = row
        if not text.strip():
            continue
        if text[:1].isspace():
            if current is not None:
                last = columns[-1][1]
                path = _TABLE_COLUMNS.get(last, (last.lower(),))
                cell = text[payload_start:] if text[:payload_start].strip() == "" else text.strip()
                _append(current, path, cell)
            continue
        if current is not None:
            yield Record(f"{name}:{current_line}", current)
        current, current_line = _table_row(text, columns), number
    if current is not None:
        yield Record(f"{name}:{current_line}", current)


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


def read_value(lines: Iterable[bytes], name: str) -> RecordStream:
    """Tab-separated ``value(timestamp,severity,textPayload)`` rows; other lines continue the payload."""
    current: dict | None = None
    current_line = 0
    for row in _decoded(lines, name, 1):
        if isinstance(row, Problem):
            yield row
            continue
        number, text = row
        if VALUE_ROW.match(text):
            if current is not None:
                yield Record(f"{name}:{current_line}", current)
            current, current_line = {}, number
            for path, cell in zip(_VALUE_FIELDS, text.split("\t", len(_VALUE_FIELDS) - 1)):
                if cell:
                    _put(current, path, cell)
        elif current is not None:
            _append(current, ("textPayload",), text)
        elif text.strip():
            yield Problem(f"{name}:{number}", "text before the first value() row")
    if current is not None:
        yield Record(f"{name}:{current_line}", current)


def read_plain(lines: Iterable[bytes], name: str) -> RecordStream:
    """One entry per line; a line that starts with white space continues the previous entry."""
    current: list[str] = []
    current_line = 0
    for row in _decoded(lines, name, 1):
        if isinstance(row, Problem):
            yield row
            continue
        number, text = row
        if not text.strip():
            continue
        if text[:1].isspace() and current:
            current.append(text)
            continue
        if current:
            yield _plain_record(name, current_line, current)
        current, current_line = [text], number
    if current:
        yield _plain_record(name, current_line, current)


def _plain_record(name: str, line: int, lines: list[str]) -> Record:
    text = "\n".join(lines)
    entry = {"textPayload": text}
    match = _LINE_TIME.match(text)
    if match:
        entry["timestamp"] = match.group("ts")
    return Record(f"{name}:{line}", entry)
