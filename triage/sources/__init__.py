"""Sources yield :class:`Record` (a LogEntry-shaped mapping and where it came from) or :class:`Problem`.

Every reader streams: memory does not grow with the size of its input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Mapping

from ..model import Problem


@dataclass(frozen=True, slots=True)
class Record:
    """One raw log entry: a Cloud Logging LogEntry mapping (camelCase or snake_case) and its location."""

    location: str
    data: Mapping[str, Any]


RecordStream = Iterator["Record | Problem"]
