"""Incremental readers for JSON arrays and NDJSON that never hold the whole input in memory.

Arrays printed one element per indented block (``gcloud --format=json``, ``json.dumps(indent=…)``) are
split on their closing lines and each element parsed with orjson; any other layout falls back to the
stdlib's incremental ``raw_decode``. A raw newline can never occur inside a JSON string, so a line that
holds only the element's closing brace at the element's indentation is always structural.
"""

from __future__ import annotations

import json
import re
from typing import IO, Callable, Iterator

import orjson

from ..model import Problem
from . import Record, RecordStream

CHUNK_CHARS = 1 << 20
_WS = re.compile(r"\s*")
_DECODER = json.JSONDecoder()


# A JSON string escape of half a UTF-16 surrogate pair: valid JSON that no UTF-8 text can hold.
_LONE_SURROGATE = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


def loads(raw: bytes | str) -> object:
    """orjson's parse; escapes of lone surrogates (which orjson refuses) become U+FFFD first."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        data = raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass")
        if b"\\u" not in data:
            raise
        return orjson.loads(_LONE_SURROGATE.sub(rb"\\ufffd", data))


def _bad_value(name: str, line: int, value: object) -> Problem:
    return Problem(f"{name}:{line}", f"expected a JSON object, found {type(value).__name__}")


class _Buffer:
    """A text buffer over a stream that tracks the line number of its start."""

    def __init__(self, stream: IO[str], text: str = "", line: int = 1):
        self.stream = stream
        self.text = text
        self.pos = 0
        self.line = line  # line number at self.pos
        self.eof = False

    def more(self) -> bool:
        """Append the next chunk, dropping what was consumed; False at end of input."""
        if self.eof:
            return False
        chunk = self.stream.read(CHUNK_CHARS)
        if not chunk:
            self.eof = True
            return False
        self.text = self.text[self.pos :] + chunk
        self.pos = 0
        return True

    def advance(self, to: int) -> None:
        self.line += self.text.count("\n", self.pos, to)
        self.pos = to

    def skip_ws(self) -> bool:
        """Move past white space; False when the input ends first."""
        while True:
            end = _WS.match(self.text, self.pos).end()
            self.advance(end)
            if end < len(self.text):
                return True
            if not self.more():
                return False


def read_array(stream: IO[str], name: str, prefix: str = "", line: int = 1, *, nested: bool = False) -> RecordStream:
    """Yield the objects of a JSON array whose ``[`` is the first non-blank character of ``prefix+stream``.

    Unless the array is ``nested`` in a wrapping object, data after its closing ``]`` (a second array
    appended to the file, say) is reported, not silently dropped."""
    buf = _Buffer(stream, prefix, line)
    buf.skip_ws()
    buf.advance(buf.pos + 1)  # the "["
    if not buf.skip_ws():
        yield Problem(f"{name}:{buf.line}", "truncated JSON array: no closing ']'")
        return
    if buf.text[buf.pos] != "]":
        indent = _element_indent(buf)
        yield from _read_indented(buf, name, indent) if indent is not None else _read_compact(buf, name)
    if nested or buf.pos >= len(buf.text) or buf.text[buf.pos] != "]":
        return
    buf.advance(buf.pos + 1)
    if buf.skip_ws():
        yield Problem(f"{name}:{buf.line}", "data after the JSON array's closing ']' was not read")


def _element_indent(buf: _Buffer) -> str | None:
    """The indentation of the first element when its ``{`` stands alone on its line (a pretty-printed
    array), else None (any other layout, e.g. one compact element per line)."""
    start = buf.text.rfind("\n", 0, buf.pos)
    end = buf.text.find("\n", buf.pos)
    if start < 0 or end < 0 or buf.text[buf.pos] != "{" or buf.text[buf.pos + 1 : end].strip():
        return None
    indent = buf.text[start + 1 : buf.pos]
    return indent if indent.strip(" \t") == "" else None


def _read_indented(buf: _Buffer, name: str, indent: str) -> RecordStream:
    closer = "\n" + indent + "}"

    def take(start_line: int) -> tuple[object, int | None]:
        end = buf.text.find(closer, buf.pos)
        while end < 0:
            if not buf.more():
                return Problem(f"{name}:{buf.line}", "truncated JSON array: the last entry is incomplete"), None
            end = buf.text.find(closer, buf.pos)
        end += len(closer)
        try:
            return loads(buf.text[buf.pos : end]), end
        except orjson.JSONDecodeError as err:
            return Problem(f"{name}:{start_line}", f"malformed JSON entry ({err.args[0].split(':')[0]})"), end

    return _read_elements(buf, name, take)


def _read_compact(buf: _Buffer, name: str) -> RecordStream:
    def take(start_line: int) -> tuple[object, int | None]:
        while True:
            try:
                value, end = _DECODER.raw_decode(buf.text, buf.pos)
                break
            except json.JSONDecodeError as err:
                if not buf.more():  # an error at the end of all input: nothing more will fix it
                    reason = f"malformed or truncated JSON entry ({err.msg}); the rest of the file was not read"
                    return Problem(f"{name}:{start_line}", reason), None
        if "\\u" in buf.text[buf.pos : end]:  # the stdlib keeps lone surrogates that no output can encode
            value = loads(buf.text[buf.pos : end])
        return value, end

    return _read_elements(buf, name, take)


def _read_elements(buf: _Buffer, name: str, take: Callable[[int], tuple[object, int | None]]) -> RecordStream:
    """The loop both layouts share: separators, the closing ``]`` and a missing one. ``take(line)`` reads the
    element at the buffer's position: ``(value, end)``, or ``(Problem, end)`` to skip it, ``(Problem, None)``
    to stop reading."""
    while True:
        if not buf.skip_ws():
            yield Problem(f"{name}:{buf.line}", "truncated JSON array: no closing ']'")
            return
        head = buf.text[buf.pos]
        if head == "]":
            return
        if head == ",":
            buf.advance(buf.pos + 1)
            continue
        start_line = buf.line
        value, end = take(start_line)
        if isinstance(value, Problem):
            yield value
            if end is None:
                return
        elif isinstance(value, dict):
            yield Record(f"{name}:{start_line}", value)
        else:
            yield _bad_value(name, start_line, value)
        buf.advance(end)


def read_ndjson(lines: Iterator[bytes], name: str, first_line: int = 1) -> RecordStream:
    """Yield one record per non-blank line (each entry of a line that wraps an entry list); bad lines become problems."""
    for number, raw in enumerate(lines, first_line):
        try:
            value = orjson.loads(raw)  # the common case first: this loop is the hot path of NDJSON
        except orjson.JSONDecodeError:
            if not raw.strip():
                continue
            try:
                value = loads(raw)
            except orjson.JSONDecodeError:
                reason = "undecodable bytes" if not is_utf8(raw) else "malformed JSON line"
                yield Problem(f"{name}:{number}", reason)
                continue
        if isinstance(value, dict):
            if "timestamp" in value or "insertId" in value or not _is_wrapper(value):
                yield Record(f"{name}:{number}", value)
            else:
                yield from _wrapped_entries(value, name, number)
        else:
            yield _bad_value(name, number, value)


# Keys of a LogEntry (camelCase or snake_case); an object with none of them whose first list holds an object
# with some of them wraps entries.
_ENTRY_KEYS = frozenset((
    "timestamp", "severity", "textPayload", "jsonPayload", "protoPayload", "logName", "insertId", "resource",
    "httpRequest", "text_payload", "json_payload", "proto_payload", "log_name", "insert_id", "http_request",
    "payload",
))


def _is_wrapper(value: dict) -> bool:
    """``{"entries": [{LogEntry}, …], …}``, not an app's own JSON line that holds a list (``"tags": ["a"]``)."""
    if _ENTRY_KEYS.intersection(value):
        return False
    entries = next((v for v in value.values() if isinstance(v, list)), None)
    return bool(entries) and isinstance(entries[0], dict) and not _ENTRY_KEYS.isdisjoint(entries[0])


def _wrapped_entries(value: dict, name: str, number: int) -> RecordStream:
    """The entries of a one-line wrapper (``{"entries": [...]}``, an API response page): its first list."""
    entries = next(v for v in value.values() if isinstance(v, list))
    for item in entries:
        if isinstance(item, dict):
            yield Record(f"{name}:{number}", item)
        else:
            yield _bad_value(name, number, item)


def is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def read_wrapped(stream: IO[str], name: str, prefix: str, line: int = 1) -> RecordStream:
    """Yield the entries of an object that wraps the entry list (``{"entries": [...]}``), streaming the list.

    The first member whose value is an array is taken as the entry list; other members are skipped.
    """
    buf = _Buffer(stream, prefix, line)
    buf.skip_ws()
    buf.advance(buf.pos + 1)  # the "{"
    while True:
        if not buf.skip_ws():
            break
        head = buf.text[buf.pos]
        if head in ",:":
            buf.advance(buf.pos + 1)
            continue
        if head == "}":
            break
        if head == "[":
            rest = buf.text[buf.pos :]
            yield from read_array(buf.stream, name, rest, buf.line, nested=True)
            return
        try:
            _, end = _DECODER.raw_decode(buf.text, buf.pos)
        except json.JSONDecodeError:
            if buf.more():
                continue
            yield Problem(f"{name}:{buf.line}", "malformed or truncated JSON object")
            return
        buf.advance(end)
    yield Problem(f"{name}:{line}", "JSON object holds no list of log entries")
