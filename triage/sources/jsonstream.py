"""Incremental readers for JSON arrays and NDJSON that never hold the whole input in memory.

Arrays printed one element per indented block (``gcloud --format=json``, ``json.dumps(indent=…)``) are
split on their closing lines; elements of any other layout are delimited by their brackets and strings
(a guess at the end first, which orjson confirms), so a broken element is skipped and reading resumes
after it. Every element is parsed with orjson. A raw newline can never occur inside a JSON string, so a
line that holds only the element's closing brace at the element's indentation is always structural, and
a string that reaches the end of its line is broken there.
"""

from __future__ import annotations

import io
import re
from typing import IO, Callable, Iterator

import orjson

from ..entries import LOG_ENTRY_KEYS
from ..model import Problem
from . import TRUNCATED_KEY, Record, RecordStream, Truncated

CHUNK_CHARS = 1 << 20
PEEK_CHARS = 4096  # enough to see the first key of an object
ELEMENT_MAX_CHARS = 1 << 24  # 64 times Cloud Logging's cap on an entry: a longer element has unbalanced brackets
_WS = re.compile(r"\s*")
_STRING = r'"(?:[^"\\\n]++|\\.)*+"'  # a JSON string never holds a raw line end
# What ends a scalar value: a comma, a line end, a bracket, a quote that opens no string on its line.
_SCALAR = re.compile(rf'(?:[^"\[\]{{}},\n]++|{_STRING})*+')
_KEY = re.compile(rf'(?:[^"\[\]{{}},:\n]++|{_STRING})*+')  # a wrapper's member key or scalar value
_INSIDE = re.compile(rf'(?:[^"\[\]{{}}]++|{_STRING})*+')  # inside brackets: what changes no nesting
_CLOSER = {"{": "}", "[": "]"}
_KIND = {"{": "object", "[": "array"}
_NEXT_OBJECT = re.compile(r"\n\s*,?\s*\{")
_CLOSED_END = re.compile(r"\]\s*\}?\s*\Z")  # the input ends with the array's "]" (and a wrapper's "}")
_OBJECT_END = re.compile(r"\}(?=\s*(?:,\s*\{|\]))")  # where an element of a compact array likely ends
_BOUNDARY = re.compile(r',\s*(?=\{")')  # before an object of a list (see _next_entry); after a broken one, no "}" may close it
ENTRY_LINE_CHARS = 1 << 20  # more than one entry can hold
_GCLOUD_FIRST_KEYS = ("httpRequest", "insertId")  # gcloud sorts an entry's keys: one of these comes first
_AFTER_ELEMENT = re.compile(r"\s*(?:,\s*\{|\]\s*(?:\Z|\n|\[))")  # the next element, or the array's end
# Keys a LogEntry has at its top and nested data seldom does (what tells an entry from an object inside one).
_TOP_LEVEL_KEYS = frozenset(("insertId", "logName", "textPayload", "jsonPayload", "protoPayload", "insert_id",
                             "log_name", "text_payload", "json_payload", "proto_payload"))
# What surrogateescape makes of undecodable bytes; decoded UTF-8 never holds a lone surrogate.
_UNDECODABLE = re.compile("[\udc80-\udcff]")
_KEY_STRING = re.compile(r'"((?:[^"\\\n]|\\.)*)"\s*:')


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


def _unreadable(name: str, line: int, raw: str, detail: str = "") -> Problem:
    """The problem of an element that does not parse: undecodable bytes if it holds some, else malformed JSON."""
    if _UNDECODABLE.search(raw):
        return Problem(f"{name}:{line}", "undecodable bytes")
    return Problem(f"{name}:{line}", "malformed JSON entry" + detail)


def _parse(raw: str, name: str, line: int) -> object:
    """The value of one element's text, or the problem that skips it."""
    try:
        return loads(raw)
    except orjson.JSONDecodeError as err:
        return _unreadable(name, line, raw, f" ({err.args[0].split(':')[0]})")


class _Buffer:
    """A text buffer over a stream that tracks the line number of its start.

    Streams of files are decoded with ``surrogateescape``: undecodable bytes become lone surrogates, which no
    element holding them parses with, so that element is skipped and counted like an NDJSON line with such bytes."""

    def __init__(self, stream: IO[str], line: int = 1):
        self.stream = stream
        self.text = ""
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


def _span(buf: _Buffer, scalar: re.Pattern = _SCALAR) -> tuple[int, bool]:
    """Where the JSON value at the buffer's position ends, found from its brackets and strings alone (so any
    nesting depth is fine), and whether it is whole. A value that is not whole ends at the end of the line
    where one of its strings breaks, at the end of its first line when its brackets do not match (it is closed
    by the wrong kind, outgrows :data:`ELEMENT_MAX_CHARS`, or is never closed while an object starts the next
    line and the input ends with the array's ``]``: one entry per line, one of them cut), or at the end of the
    input. ``scalar`` matches a value that is not bracketed. Only the value's first :data:`ELEMENT_MAX_CHARS`
    characters are looked at, so where the input's chunks fall never changes the answer."""
    while True:
        limit = buf.pos + ELEMENT_MAX_CHARS
        capped = len(buf.text) >= limit
        window = buf.text[:limit] if capped else buf.text
        found = _scan(window, buf.pos, scalar)
        if found is not None:
            return found
        if capped:  # it outgrows the limit
            return _line_end(window, buf.pos), False
        if not buf.more():
            end = _line_end(buf.text, buf.pos)
            cut_mid_file = _NEXT_OBJECT.match(buf.text, end) and _CLOSED_END.search(buf.text)
            return (end if cut_mid_file else len(buf.text)), False


def _scan(text: str, pos: int, scalar: re.Pattern) -> tuple[int, bool] | None:
    """:func:`_span` within ``text``; None when the value may go on past its end."""
    if text[pos] not in "[{":
        end = scalar.match(text, pos).end()
        if end == len(text):
            return None
        if text[end] == '"':
            return _broken_string(text, end)
        return (end, True) if end > pos else (end + 1, False)  # a stray "}" (or ":") is a value of its own
    depth = 0
    i = pos
    while True:
        char = text[i]
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
            if depth == 0 and char == _CLOSER[text[pos]]:
                return i + 1, True
            if depth == 0:  # unbalanced: closed by the array's "]", say; it ends with its first line
                end = text.find("\n", pos)
                return (end, False) if end >= 0 else None
        else:
            return _broken_string(text, i)
        i = _INSIDE.match(text, i + 1).end()
        if i == len(text):
            return None


def _line_end(text: str, pos: int) -> int:
    end = text.find("\n", pos)
    return end if end >= 0 else len(text)


def _broken_string(text: str, quote: int) -> tuple[int, bool] | None:
    """The end of the line where the string opened at ``quote`` breaks; None when that line goes on past the text."""
    end = text.find("\n", quote)
    return (end, False) if end >= 0 else None


def read_array(stream: IO[str], name: str, line: int = 1) -> RecordStream:
    """Yield the objects of the JSON array whose ``[`` is the first non-blank character of ``stream`` (at line
    ``line``), then those of any arrays appended after it (what ``>>`` makes); other data after it is reported."""
    return _read_appended(_Buffer(stream, line), name, "[", _read_list)


def _read_appended(
    buf: _Buffer, name: str, opener: str, read_one: Callable[[_Buffer, str], RecordStream]
) -> RecordStream:
    """``read_one`` of each value that ``opener`` opens, one after another; other data after them is reported."""
    while buf.skip_ws():
        if buf.text[buf.pos] != opener:
            closer = _CLOSER[opener]
            yield Problem(f"{name}:{buf.line}", f"data after the JSON {_KIND[opener]}'s closing '{closer}' was not read")
            return
        yield from read_one(buf, name)


def read_array_rest(stream: IO[str], name: str, line: int, indent: str) -> RecordStream:
    """What :func:`read_array` yields from an element of a pretty-printed array on, when ``stream`` starts at that
    element's ``{`` (at line ``line``) and the array's elements are indented by ``indent``: the rest of the
    array, then any arrays appended after it."""
    buf = _Buffer(stream, line)
    yield from _read_indented(buf, name, indent)
    yield from _read_appended(buf, name, "[", _read_list)


def array_indent(head: str) -> str | None:
    """The indentation of the elements of the pretty-printed array that ``head`` (the start of an input, at its
    ``[``) opens; None for any other layout (see :func:`_element_indent`)."""
    buf = _Buffer(io.StringIO(head))
    if not buf.skip_ws() or buf.text[buf.pos] != "[":
        return None
    buf.advance(buf.pos + 1)
    return (_element_indent(buf) or None) if buf.skip_ws() else None  # indent=0 is read as compact (see _read_list)


def _read_list(buf: _Buffer, name: str) -> RecordStream:
    """The elements of the array whose ``[`` is at the buffer's position; leaves the buffer past its ``]``."""
    buf.advance(buf.pos + 1)  # the "["
    if not buf.skip_ws():
        yield Problem(f"{name}:{buf.line}", "truncated JSON array: no closing ']'", cut=True)
        return
    indent = _element_indent(buf)
    yield from _read_indented(buf, name, indent) if indent else _read_compact(buf, name)


def _element_indent(buf: _Buffer) -> str | None:
    """The indentation of the first element when its ``{`` stands alone on its line (a pretty-printed
    array), else None (any other layout, e.g. one compact element per line). An empty indentation (``indent=0``)
    does not tell an element's closing line from a nested one's, so those arrays are read as compact ones."""
    start = buf.text.rfind("\n", 0, buf.pos)
    end = buf.text.find("\n", buf.pos)
    if start < 0 or end < 0 or buf.text[buf.pos] != "{" or buf.text[buf.pos + 1 : end].strip():
        return None
    indent = buf.text[start + 1 : buf.pos]
    return indent if indent.strip(" \t") == "" else None


def _read_indented(buf: _Buffer, name: str, indent: str) -> RecordStream:
    """Objects are split on their closing lines; any other element (one written on one line, such as ``{}``, or one
    that outgrows :data:`ELEMENT_MAX_CHARS`, where the layout changed) is read as in a compact array."""
    closer = "\n" + indent + "}"

    def take(start_line: int) -> tuple[object, int | None]:
        if buf.text[buf.pos] != "{" or not _opens_its_line(buf):
            return _take_compact(buf, name, start_line)
        reach = ELEMENT_MAX_CHARS + len(closer)  # the closing line starts within the limit (wherever chunks fall)
        end = buf.text.find(closer, buf.pos, buf.pos + reach)
        while end < 0:
            if len(buf.text) - buf.pos >= reach:
                return _take_compact(buf, name, start_line)
            if not buf.more():
                return Problem(f"{name}:{buf.line}", "truncated JSON array: the last entry is incomplete", cut=True), None
            end = buf.text.find(closer, buf.pos, buf.pos + reach)
        end += len(closer)
        return _parse(buf.text[buf.pos : end], name, start_line), end

    return _read_elements(buf, name, take)


def _opens_its_line(buf: _Buffer) -> bool:
    """The ``{`` at the buffer's position ends its line (a pretty-printed element), or the line outgrows any one
    element."""
    end = buf.text.find("\n", buf.pos)
    while end < 0 and len(buf.text) - buf.pos <= ELEMENT_MAX_CHARS and buf.more():
        end = buf.text.find("\n", buf.pos)
    return end < 0 or not buf.text[buf.pos + 1 : end].strip()


def _read_compact(buf: _Buffer, name: str) -> RecordStream:
    return _read_elements(buf, name, lambda start_line: _take_compact(buf, name, start_line))


def _take_compact(buf: _Buffer, name: str, start_line: int) -> tuple[object, int | None]:
    """The element at the buffer's position, delimited by :func:`_span`: a broken one is skipped and reading
    resumes after it; one cut by the end of the input stops the array.

    First, an object is tried up to the first ``}`` that a ``,{`` or ``]`` follows, which is its end whenever
    that text parses (a JSON object is no prefix of another): most elements need no :func:`_span`."""
    guess = _OBJECT_END.search(buf.text, buf.pos, buf.pos + ELEMENT_MAX_CHARS) if buf.text.startswith("{", buf.pos) else None
    if guess:
        try:
            return orjson.loads(buf.text[buf.pos : guess.end()]), guess.end()
        except orjson.JSONDecodeError:
            pass
    end, whole = _span(buf)
    raw = buf.text[buf.pos : end]
    if whole:
        return _parse(raw, name, start_line), end
    resume = _next_entry(buf.text, buf.pos + 1, end) if _holds_many(buf.text, buf.pos) else None
    if resume is not None:  # a broken element of an array on one line: not the rest of the line with it
        return _unreadable(name, start_line, buf.text[buf.pos : resume]), resume
    if end == len(buf.text) and buf.eof:
        return Problem(f"{name}:{start_line}", "truncated JSON array: the last entry is incomplete", cut=True), None
    return _unreadable(name, start_line, raw), end


def _holds_many(text: str, pos: int) -> bool:
    """The element at ``pos`` shares its line with others: something stands before it on its line (the array's
    ``[``, an element), or the line goes on longer than any one entry can be (Cloud Logging caps them at 256 KB). An
    array written on one line; with one element per line, a broken one ends with its line."""
    if text[text.rfind("\n", 0, pos) + 1 : pos].strip():
        return True
    end = text.find("\n", pos)
    return (len(text) if end < 0 else end) - pos > ENTRY_LINE_CHARS


def _next_entry(text: str, start: int, stop: int) -> int | None:
    """Where, between ``start`` and ``stop``, the next whole element that is a log entry starts after a broken one
    (whose ``{`` is just before ``start``): at a ``{"`` that a ``}`` and a comma come before (outside a string the
    quote after ``{`` is never escaped, so this is structure, though perhaps of a nested object, which is why the
    element must begin with the broken one's first key or one gcloud's sorted keys begin with, hold a key only a
    LogEntry has at its top and be followed by another element or the array's end); None when there is none."""
    first_keys = {_first_key(text, start - 1), *_GCLOUD_FIRST_KEYS}
    for boundary in _BOUNDARY.finditer(text, start, stop):
        at = boundary.end()
        if _first_key(text, at) not in first_keys:
            continue  # an export's entries begin alike; objects nested in the broken one seldom do
        found = _scan(text, at, _SCALAR)
        if found is None or not found[1]:
            continue
        try:
            value = orjson.loads(text[at : found[0]])
        except orjson.JSONDecodeError:
            continue
        if isinstance(value, dict) and not _TOP_LEVEL_KEYS.isdisjoint(value) and _AFTER_ELEMENT.match(text, found[0]):
            return at
    return None


def _read_elements(buf: _Buffer, name: str, take: Callable[[int], tuple[object, int | None]]) -> RecordStream:
    """The loop both layouts share: separators, the closing ``]`` (consumed) and a missing one. ``take(line)``
    reads the element at the buffer's position: ``(value, end)``, or ``(Problem, end)`` to skip it,
    ``(Problem, None)`` to stop reading (at the end of the input)."""
    while True:
        if not buf.skip_ws():
            yield Problem(f"{name}:{buf.line}", "truncated JSON array: no closing ']'", cut=True)
            return
        head = buf.text[buf.pos]
        if head == "]":
            buf.advance(buf.pos + 1)
            return
        if head == ",":
            buf.advance(buf.pos + 1)
            continue
        start_line = buf.line
        value, end = take(start_line)
        if isinstance(value, Problem):
            yield value
            if end is None:
                buf.advance(len(buf.text))
                return
        elif isinstance(value, dict):
            yield Record(name, start_line, value)
        else:
            yield _bad_value(name, start_line, value)
        buf.advance(end)


def read_ndjson(lines: Iterator[bytes], name: str, first_line: int = 1) -> RecordStream:
    """Yield one record per non-blank line (each entry of a line that wraps an entry list, or that is an array of
    entries, as ``jq -c .`` writes a gcloud export); bad lines, and items of such an array that are no objects, become
    problems."""
    for number, raw in enumerate(lines, first_line):
        try:
            value = orjson.loads(raw)  # the common case first: this loop is the hot path of NDJSON
        except orjson.JSONDecodeError:
            raw = raw.lstrip(b"\0")  # the NUL bytes a log truncated by copytruncate while written holds
            if not raw.strip():
                continue
            if b"\r" in raw.rstrip(b"\r\n"):  # classic Mac OS line ends (a CR alone): lines within the line
                yield from read_ndjson(iter(raw.split(b"\r")), name, number)
                continue
            try:
                value = loads(raw)
            except orjson.JSONDecodeError:
                reason = "undecodable bytes" if not is_utf8(raw) else "malformed JSON line"
                yield Problem(f"{name}:{number}", reason)
                continue
        if isinstance(value, dict):
            if "timestamp" in value or "insertId" in value:
                yield Record(name, number, value)
            elif len(value) == 1 and isinstance(value.get(TRUNCATED_KEY), str):  # a replay of a pull cut short
                yield Truncated(f"{name}:{number}", value[TRUNCATED_KEY])
            elif not is_wrapper(value):
                yield Record(name, number, value)
            else:
                yield from _wrapped_entries(value, name, number)
        elif _is_entry_array(value):
            yield from _array_entries(value, name, number)
        else:
            yield _bad_value(name, number, value)


def object_line(text: str, name: str, number: int) -> list[Record | Problem] | None:
    """The records of a line of text that is a JSON object (a LogEntry, an app's JSON line, a one-line wrapper of
    entries) or an array of entries, as :func:`read_ndjson` reads it; None when it is neither (it stays text)."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if _is_entry_array(value):
        return list(_array_entries(value, name, number))
    if not isinstance(value, dict):
        return None
    if "timestamp" in value or "insertId" in value or not is_wrapper(value):
        return [Record(name, number, value)]
    return list(_wrapped_entries(value, name, number))


def _is_entry_array(value: object) -> bool:
    """A JSON array of one line that holds log entries (``jq -c .`` of a gcloud export), not an app's data."""
    return isinstance(value, list) and any(isinstance(item, dict) and not _TOP_LEVEL_KEYS.isdisjoint(item) for item in value)


def _array_entries(items: list, name: str, number: int) -> RecordStream:
    """The records of an array of entries on line ``number``; each item that is no object is a problem."""
    for item in items:
        yield Record(name, number, item) if isinstance(item, dict) else _bad_value(name, number, item)


# Keys by which a JSON line is a record of its own (a LogEntry, an app's JSON line), not a wrapper.
_RECORD_KEYS = LOG_ENTRY_KEYS | {"message", "msg"}
# Keys only an entry has: a wrapper with an entry list may carry the others as defaults for its entries (a
# WriteLogEntries request: logName, resource, labels).
_ENTRY_ONLY_KEYS = _RECORD_KEYS - {"logName", "log_name", "resource", "labels"}
_DEFAULTS = ("logName", "log_name", "resource")
# The members of a WriteLogEntries request (camelCase or as the client library names them).
_WRITE_REQUEST_KEYS = frozenset(("logName", "log_name", "resource", "labels", "entries", "partialSuccess",
                                 "partial_success", "dryRun", "dry_run"))
_NESTED_WRAPPERS = 3  # wrappers inside wrappers looked into ({"result": {"entries": [...]}})


def is_wrapper(value: dict, depth: int = 0) -> bool:
    """``{"entries": [{LogEntry}, …], …}``: a list of LogEntry-like objects, not an app's own JSON line that holds a
    list (``"tags": ["a"]``). Stricter forms, where an app's line could look alike, need an ``entries`` list whose
    first item has a key only a LogEntry has at its top: a WriteLogEntries request (``logName``, ``resource``,
    ``labels`` beside it, nothing else), or the one member of an object (``{"result": {"entries": [...]}}``)."""
    if not _ENTRY_ONLY_KEYS.isdisjoint(value):
        return False
    if _RECORD_KEYS.isdisjoint(value):
        if any(isinstance(member, list) and member and _is_entry_like(member[0]) for member in value.values()):
            return True
        if len(value) == 1 and depth < _NESTED_WRAPPERS:
            (member,) = value.values()
            return isinstance(member, dict) and is_wrapper(member, depth + 1) and _has_entries(member)
        return False
    return _WRITE_REQUEST_KEYS.issuperset(value) and _has_entries(value)


def _has_entries(value: dict) -> bool:
    """An ``entries`` list whose first item has a key only a LogEntry has at its top."""
    entries = next((value[name] for name in _ENTRY_LIST_NAMES if name in value), None)
    return isinstance(entries, list) and bool(entries) and isinstance(entries[0], dict) and not (
        _TOP_LEVEL_KEYS.isdisjoint(entries[0]))


def _is_entry_like(item: object) -> bool:
    """An object with a LogEntry key (for a list's first item, only its first key may be known)."""
    return isinstance(item, dict) and not LOG_ENTRY_KEYS.isdisjoint(item)


# Names of a wrapper's member that holds the entry list.
_ENTRY_LIST_NAMES = ("entries", "logEntries", "log_entries")
_LIST_NAMES = frozenset((*_ENTRY_LIST_NAMES, "items", "records", "logs"))


def _is_entry_list(key: str, first: object, found: bool) -> bool:
    """A wrapper's list member holds entries when it is named like an entry list or, unless an entry list came
    before it, when its first element (``first``) is LogEntry-like: other lists are metadata."""
    return key in _LIST_NAMES or (not found and _is_entry_like(first))


def _wrapped_entries(value: dict, name: str, number: int, depth: int = 0) -> RecordStream:
    """The entries of a one-line wrapper (``{"entries": [...]}``, an API response page, a WriteLogEntries request
    whose ``logName``, ``resource`` and ``labels`` are its entries' defaults): its entry lists, also those of the
    wrappers it holds."""
    found = False
    for key, member in value.items():
        if isinstance(member, list) and _is_entry_list(key, member[0] if member else None, found):
            found = True
            for item in member:
                if isinstance(item, dict):
                    yield Record(name, number, _with_defaults(item, value))
                else:
                    yield _bad_value(name, number, item)
        elif isinstance(member, dict) and len(value) == 1 and depth < _NESTED_WRAPPERS and is_wrapper(member, depth + 1):
            found = True
            yield from _wrapped_entries(member, name, number, depth + 1)
    if not found:
        yield Problem(f"{name}:{number}", "JSON object holds no list of log entries")


def _with_defaults(entry: dict, wrapper: dict) -> dict:
    """``entry`` with the ``logName``, ``resource`` and ``labels`` its wrapper gives every entry (its own win)."""
    defaults = {key: wrapper[key] for key in _DEFAULTS if key in wrapper and key not in entry}
    labels = wrapper.get("labels")
    if isinstance(labels, dict) and labels:
        own = entry.get("labels")
        defaults["labels"] = {**labels, **own} if isinstance(own, dict) else labels if own is None else own
    return {**entry, **defaults} if defaults else entry


def is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def read_wrapped(stream: IO[str], name: str, line: int = 1) -> RecordStream:
    """Yield the entries of an object that wraps the entry list (``{"entries": [...]}``), streaming the list,
    then those of any objects appended after it; other data after it is reported.

    Entry lists are picked as :func:`_is_entry_list` says; other members are skipped."""
    return _read_appended(_Buffer(stream, line), name, "{", _read_wrapper)


def _read_wrapper(buf: _Buffer, name: str) -> RecordStream:
    """The entries of the wrapping object whose ``{`` is at the buffer's position; leaves the buffer past its ``}``.
    An object that is itself a LogEntry (``jq '.[]'`` prints a stream of them) is yielded as a record."""
    start_line = buf.line
    _peek(buf)
    if _first_key(buf.text, buf.pos) in LOG_ENTRY_KEYS:
        value, end = _take_compact(buf, name, start_line)
        if isinstance(value, dict) and is_wrapper(value):  # a WriteLogEntries request: logName, resource, entries
            yield from _wrapped_entries(value, name, start_line)
        else:
            yield Record(name, start_line, value) if isinstance(value, dict) else value
        buf.advance(len(buf.text) if end is None else end)
        return
    buf.advance(buf.pos + 1)  # the "{"
    key, found = "", False
    while buf.skip_ws():
        head = buf.text[buf.pos]
        if head == "}":
            buf.advance(buf.pos + 1)
            break
        if head in ",:":
            buf.advance(buf.pos + 1)
            continue
        if head == "[" and _is_entry_list(key, _first_item(buf), found):
            found = True
            yield from _read_list(buf, name)
            continue
        member_line = buf.line
        end, whole = _span(buf, _KEY)
        if not whole:
            yield Problem(f"{name}:{member_line}", "malformed or truncated JSON object")
        elif head == '"':
            key = buf.text[buf.pos + 1 : end - 1]
        buf.advance(end)
    if not found:
        yield Problem(f"{name}:{start_line}", "JSON object holds no list of log entries")


def _first_item(buf: _Buffer) -> dict | None:
    """The first element of the list whose ``[`` is at the buffer's position, as far as :func:`_is_entry_like`
    needs it: ``{first key: None}`` for an object (``{}`` when its key is not in sight), None for anything else."""
    _peek(buf)
    item = _WS.match(buf.text, buf.pos + 1).end()
    if not buf.text.startswith("{", item):
        return None
    key = _first_key(buf.text, item)
    return {} if key is None else {key: None}


def _first_key(text: str, brace: int) -> str | None:
    """The first key of the object whose ``{`` is at ``brace``, if it is in ``text``."""
    match = _KEY_STRING.match(text, _WS.match(text, brace + 1).end())
    return match[1] if match else None


def _peek(buf: _Buffer) -> None:
    """Make :data:`PEEK_CHARS` characters past the buffer's position available (fewer at the end of the input)."""
    while len(buf.text) - buf.pos < PEEK_CHARS and buf.more():
        pass
