"""Open an export file (or stdin), undo gzip and UTF-16, detect its shape and stream its records.

Shapes, detected from the first bytes: a JSON array (``gcloud logging read --format=json``), NDJSON,
an object wrapping the entry list (client dumps), a gcloud ``table(...)`` or ``value(...)`` dump, or
plain log lines.
"""

from __future__ import annotations

import codecs
import gzip
import io
import itertools
import os
import json
import re
import stat
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

import orjson

from ..errors import SourceError
from ..model import Problem
from . import RecordStream, source_name
from .jsonstream import array_indent, is_wrapper, loads, read_array, read_array_rest, read_ndjson, read_wrapped
from .text import VALUE_ROW, is_table_header, read_plain, read_table, read_value

_BUFFER = 1 << 20
_SNIFF_BYTES = 8192
_SNIFF_LINES = 8
ENTRY_LINE_MAX = 1 << 20  # Cloud Logging caps an entry at 256 KB: a longer first line may hold a whole dump
_GZIP_MAGIC = b"\x1f\x8b"
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
# White space, and the NUL bytes a log truncated by logrotate's copytruncate while still written starts with.
_PADDING = b" \t\r\n\v\f\x00"
_NUL_RUN = re.compile(rb"\x00{16,}")
# Control characters other than white space and ESC (ANSI colours): text has few, binary data many.
_CONTROL = bytes(b for b in range(32) if b not in b"\t\n\r\v\f\x1b") + b"\x7f"
_WS = re.compile(r"\s*")
_DECODER = json.JSONDecoder()


def read_file(spec: str) -> RecordStream:
    """Stream the records of one file path, or of stdin when ``spec`` is ``-``."""
    name = source_name(spec)
    with _open_binary(spec) as raw:
        stream = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw, buffer_size=_BUFFER)
        try:
            stream.peek(1)
        except OSError as err:
            raise SourceError(f"{spec}: cannot read ({err.strerror or err})") from None
        decoders: list[_Gunzip | _Utf16] = []
        try:
            if stream.peek(2)[:2] == _GZIP_MAGIC:
                stream = _decoding(_Gunzip(stream), decoders)
            if stream.peek(2)[:2] in _UTF16_BOMS:
                stream = _decoding(_Utf16(stream), decoders)
            if stream.peek(1) or not any(decoder.error for decoder in decoders):
                records = _read_stream(stream, name)
                yield from _one_cut(records, decoders) if decoders else records
        except OSError as err:
            yield Problem(f"{name}", f"stopped reading: {err.strerror or err}", cut=True)
        error = next((decoder.error for decoder in decoders if decoder.error), None)
        if error is not None:
            yield Problem(f"{name}", f"stopped reading: {error}", cut=True)


def _decoding(decoder: _Gunzip | _Utf16, decoders: list[_Gunzip | _Utf16]) -> io.BufferedReader:
    """A buffered reader of ``decoder``, noted in ``decoders`` for the error it may end with."""
    decoders.append(decoder)
    return io.BufferedReader(decoder, buffer_size=_BUFFER)


def _one_cut(records: RecordStream, decoders: list[_Gunzip | _Utf16]) -> RecordStream:
    """``records``, where a cut the decoded text ends in (a JSON array without its end) is a skipped record only
    once a decoder broke off: the decoder's own problem, which follows, names the cut and its cause."""
    for record in records:
        if isinstance(record, Problem) and record.cut and any(decoder.error for decoder in decoders):
            record = Problem(record.location, record.reason)
        yield record


class _Gunzip(io.RawIOBase):
    """The decompressed bytes of a gzip stream; a truncated or corrupt stream ends where it breaks, keeping
    everything before that point, and ``error`` says why it ended."""

    def __init__(self, compressed: BinaryIO):
        self._gzip = gzip.GzipFile(fileobj=compressed)
        self.error: str | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        if self.error is not None:
            return 0
        try:
            data = self._gzip.read1(len(buffer))  # read1 returns what decompressed before a failure
        except (OSError, EOFError, zlib.error) as err:
            self.error = str(err) or type(err).__name__
            return 0
        buffer[: len(data)] = data
        return len(data)


class _Utf16(io.RawIOBase):
    """UTF-16 text that starts with its byte-order mark (PowerShell's ``>``), as UTF-8. A lone surrogate stays
    undecodable (its line is skipped and counted); an odd last byte ends the text, and ``error`` says so."""

    def __init__(self, encoded: io.BufferedReader):
        self._encoded = encoded
        self._decoder = codecs.getincrementaldecoder("utf-16")("surrogatepass")
        self._pending = b""
        self.error: str | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        while not self._pending and self.error is None:
            data = self._encoded.read1(len(buffer))
            try:
                self._pending = self._decoder.decode(data, final=not data).encode("utf-8", "surrogatepass")
            except UnicodeDecodeError:
                self.error = "UTF-16 text ends in the middle of a character"
            if not data:
                break
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


class _Borrowed(io.RawIOBase):
    """Reads from a stream that closing this one leaves open (stdin stays the caller's)."""

    def __init__(self, stream: BinaryIO):
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        return self._stream.readinto(buffer)


def check_readable(spec: str) -> None:
    """Raise the :class:`SourceError` that reading ``spec`` would, without opening it (a pipe can be opened only
    once): a scan checks its files before a Cloud Logging pull that may take minutes."""
    if spec == "-":
        return
    try:
        found = os.stat(spec)
    except FileNotFoundError:
        raise SourceError(f"{spec}: no such file") from None
    except (OSError, ValueError) as err:  # a folder of the path not searchable, a name too long …
        raise SourceError(f"{spec}: cannot read ({getattr(err, 'strerror', None) or err})") from None
    if stat.S_ISDIR(found.st_mode):
        raise SourceError(f"{spec} is a directory, not a log export")
    if not os.access(spec, os.R_OK):
        raise SourceError(f"{spec}: cannot read (Permission denied)")


def _open_binary(spec: str) -> BinaryIO:
    if spec == "-":
        if sys.stdin is None:  # started with standard input closed
            raise SourceError("-: standard input is closed")
        return _Borrowed(sys.stdin.buffer)  # type: ignore[return-value]
    try:
        if Path(spec).is_dir():
            raise SourceError(f"{spec} is a directory, not a log export")
        return open(spec, "rb")
    except FileNotFoundError:
        raise SourceError(f"{spec}: no such file") from None
    except OSError as err:  # permission denied on a folder of the path, a name too long …
        raise SourceError(f"{spec}: cannot read ({err.strerror or err})") from None


def _read_stream(stream: io.BufferedReader, name: str, first: int = 1) -> RecordStream:
    line = _skip_padding(stream) + first - 1
    stream = _sniffable(stream)
    head = stream.peek(_SNIFF_BYTES)[:_SNIFF_BYTES]
    shape = _shape(head)
    preamble = _preamble(head) if shape == "plain" else 0
    if preamble:
        lines = stream.read(preamble).split(b"\n")
        for number, text in enumerate(lines[:-1], line):
            if text.strip(_PADDING):
                yield Problem(f"{name}:{number}", "a line before the export starts (a warning, a header, a cut line?)")
        yield from _read_stream(stream, name, line + len(lines) - 1)
    elif shape == "empty":
        yield Problem(f"{name}:1", "empty file")
    elif shape == "binary":
        yield Problem(f"{name}:{line}", "binary data, not a log export")
    elif shape == "array":
        yield from read_array(_text(stream), name, line)
    elif shape == "objects":
        yield from _read_object_stream(stream, name, line)
    elif shape == "table":
        yield from read_table(_lines(stream), name, line)
    elif shape == "value":
        yield from read_value(_lines(stream), name, line)
    else:
        yield from read_plain(_lines(stream), name, line)


def _shape(head: bytes) -> str:
    """What the first bytes past the padding make the input: "empty", "binary", "array", "objects" (NDJSON, an
    object wrapping the entry list, or text lines that start with a JSON object), "table", "value" or "plain"."""
    if not head:
        return "empty"
    if _is_binary(head):
        return "binary"
    if head[:1] == b"[" and _is_json_array(head):
        return "array"
    if head[:1] == b"{" and head[1:].lstrip()[:1] in (b'"', b"}", b""):  # not a `{worker-1} …` log prefix
        return "objects"
    if is_table_header(head):
        return "table"
    if VALUE_ROW.match(head.decode("utf-8", "replace")):
        return "value"
    return "plain"


def _preamble(head: bytes) -> int:
    """The bytes before a log export that starts on one of the first :data:`_SNIFF_LINES` whole lines of what looks
    like text (a warning captured with ``2>&1``, a header, a line cut by ``tail -c``; not timed log lines that go on
    after it); 0 when none does. The export
    must show itself: a pretty-printed JSON array whose first element has ``insertId`` and ``logName`` (what
    ``gcloud logging read --format=json`` prints), or ``timestamp`` and a severity or payload (a projection such as
    ``--format="json(timestamp,severity,textPayload)"``), or a gcloud table's header of known column names. (NDJSON after
    such lines is read as text, each JSON line as NDJSON reads it: text.read_plain.)"""
    offset, timed = 0, False
    for text in head.split(b"\n")[:-1][: _SNIFF_LINES - 1]:  # whole lines only: the last may be cut
        if _is_object(text):
            return 0  # JSON lines among text lines
        timed = timed or _TIMED_LINE.match(text) is not None
        offset += len(text) + 1
        start = head[offset:].lstrip(_PADDING)
        found = _starts_export(start)
        if found:
            # an array that ends with text after it, after timed lines or without gcloud's own keys: a log that
            # printed a dump, and goes on
            return 0 if (timed or found == "projected") and _TEXT_AFTER_ARRAY.search(start) else offset
    return 0


def _starts_export(start: bytes) -> str | None:
    """What export starts ``start``: "gcloud" (an array whose first entry has ``insertId`` and ``logName``),
    "projected" (one with ``timestamp`` and a severity or payload), "table", or None."""
    shape = _shape(start)
    if shape == "array":
        first = _GCLOUD_ARRAY.match(start)
        if first is None:
            return None
        if b'"insertId":' in first[0] and b'"logName":' in first[0]:
            return "gcloud"
        return "projected" if b'"timestamp":' in first[0] and any(key in first[0] for key in _PROJECTED_KEYS) else None
    return "table" if shape == "table" and is_table_header(start, strict=True) else None


# besides "timestamp", what the first entry of a projected export (--format="json(timestamp,severity,textPayload)") holds
_PROJECTED_KEYS = (b'"severity":', b'"textPayload":', b'"jsonPayload":')
_TIMED_LINE = re.compile(rb"\[?\d{4}[-/]\d\d[-/]\d\d[T ]\d\d:\d\d")  # a log line's leading time
# the array's "]", then a line of text (not another array: "[" then a line end, "{" or "[")
_TEXT_AFTER_ARRAY = re.compile(rb"\n\][ \t\r]*\n[ \t\r\n]*(?!\[[ \t\r]*[\n{\[])\S")
_GCLOUD_ARRAY = re.compile(rb"\[[ \t]*\r?\n([ \t]+)\{[ \t]*\r?\n(?:\1[ \t]+.*\n)*")  # "[", "  {", its lines


def _skip_padding(stream: io.BufferedReader) -> int:
    """Consume a UTF-8 byte-order mark, then white space and NUL bytes; the number of the line reached."""
    if stream.peek(3)[:3] == codecs.BOM_UTF8:
        stream.read(3)
    line = 1
    while True:
        chunk = stream.peek(1)
        padding = len(chunk) - len(chunk.lstrip(_PADDING))
        line += chunk.count(b"\n", 0, padding)
        stream.read(padding)
        if padding < len(chunk) or not chunk:
            return line


def _sniffable(stream: io.BufferedReader) -> io.BufferedReader:
    """``stream``, or its bytes in a new buffer, with the first :data:`_SNIFF_BYTES` (or all there is) to peek at."""
    if len(stream.peek(1)) >= _SNIFF_BYTES:
        return stream
    return io.BufferedReader(_Prefixed(stream.read(_SNIFF_BYTES), stream), buffer_size=_BUFFER)


def _is_binary(head: bytes) -> bool:
    """More than one byte in 32 is a control character (see :data:`_CONTROL`), runs of NUL bytes left out (the
    padding copytruncate leaves where a log was truncated while written)."""
    head = _NUL_RUN.sub(b"", head)
    return (len(head) - len(head.translate(None, _CONTROL))) * 32 > len(head)


def _is_json_array(head: bytes) -> bool:
    """``[`` opens a JSON array (not a bracketed log prefix such as gunicorn's ``[2026-…]``, ``[]`` or
    ``["main"]`` followed by text on its line)."""
    first = head.lstrip().split(b"\n", 1)[0]
    rest = first[1:].strip()
    if not rest or rest[:1] == b"{":
        return True
    try:
        return isinstance(orjson.loads(first), list)
    except orjson.JSONDecodeError:
        if rest[:1] not in (b"[", b"]", b'"'):
            return False
    try:
        json.JSONDecoder().raw_decode(first.decode("utf-8", "replace"))
    except ValueError:
        return True  # an array that goes on past its first line
    return False  # a whole array, then more on its line: a log line's prefix


def _read_object_stream(stream: io.BufferedReader, name: str, number: int) -> RecordStream:
    """NDJSON, one object wrapping the entry list, or text lines the first of which starts with a JSON object."""
    layout, lines = _object_layout(stream)
    if layout == "wrapped":
        whole = io.BufferedReader(_Prefixed(b"".join(lines), stream), buffer_size=_BUFFER)
        yield from read_wrapped(_text(whole), name, number)
        return
    rest = itertools.chain(lines, stream)
    yield from (read_plain if layout == "text" else read_ndjson)(rest, name, number)


def _object_layout(stream: io.BufferedReader) -> tuple[str, list[bytes]]:
    """Whether input that starts with a JSON object is "wrapped", "text" or "ndjson", told apart by its first few
    lines (so that bad lines among them cost those lines, not the file); and those lines, taken from ``stream``
    (the last one read whole, but for a wrapped input)."""
    lines = _first_lines(stream)
    if _is_wrapped(lines):
        return "wrapped", lines
    if _is_cut(lines[-1]):
        lines[-1] += stream.readline()  # an entry longer than the cap is read whole, as any later line is
    return ("text" if _is_text(lines) else "ndjson"), lines


@dataclass(frozen=True)
class Cut:
    """Where an export can be cut in two, each part read as reading it whole reads it there: ``offset`` starts a
    line of NDJSON (``indent`` None) or the ``{`` of an element of a pretty-printed array (``gcloud
    --format=json``) whose elements are indented by ``indent``."""

    offset: int
    indent: str | None = None


def cut_in_two(spec: str, min_bytes: int) -> Cut | None:
    """A :class:`Cut` at the first line or element that starts past the middle of a plain (not compressed, not
    UTF-16) NDJSON file or pretty-printed JSON array of at least ``min_bytes``, told apart as :func:`read_file`
    tells them. None for anything else (stdin, other shapes, small files, no line or element past the middle)."""
    path = Path(spec)
    try:
        if spec == "-" or not path.is_file() or path.stat().st_size < min_bytes:
            return None
        with open(path, "rb") as raw:
            if raw.peek(2)[:2] == _GZIP_MAGIC or raw.peek(2)[:2] in _UTF16_BOMS:
                return None
            _skip_padding(raw)
            stream = _sniffable(raw)
            head = stream.peek(_SNIFF_BYTES)[:_SNIFF_BYTES]
            shape = _shape(head)
            if shape == "array":
                indent = array_indent(head.decode("utf-8", "surrogateescape"))
                return None if indent is None else _element_past_middle(raw, indent)
            if shape == "objects" and _object_layout(stream)[0] == "ndjson":
                return _line_past_middle(raw)
            return None
    except OSError:
        return None


def _line_past_middle(raw: io.BufferedReader) -> Cut | None:
    size = raw.seek(0, io.SEEK_END)
    raw.seek(size // 2)
    raw.readline()
    offset = raw.tell()
    return Cut(offset) if offset < size else None


def _element_past_middle(raw: io.BufferedReader, indent: str) -> Cut | None:
    """The ``{`` of the first element of the array that starts past the middle: a line that holds only an
    element's ``}`` and its comma, then one that holds only the next ``{`` (a raw line end never occurs inside a
    JSON string, so these lines are structural)."""
    pad = re.escape(indent.encode())
    boundary = re.compile(rb"\n" + pad + rb"\}[ \t\r]*,[ \t\r]*\n(" + pad + rb")\{[ \t\r]*\n")
    size = raw.seek(0, io.SEEK_END)
    position = size // 2
    while position < size:
        raw.seek(position)
        window = raw.read(_BUFFER)
        found = boundary.search(window)
        if found:
            return Cut(position + found.end(1), indent)
        if len(window) < _BUFFER:
            return None
        position += _BUFFER - (1 << 12)  # overlap: a boundary across two windows is found in the next
    return None


def _first_lines(stream: io.BufferedReader) -> list[bytes]:
    """Up to :data:`_SNIFF_LINES` lines, each of at most :data:`ENTRY_LINE_MAX` bytes; the last may be cut there."""
    lines: list[bytes] = []
    while len(lines) < _SNIFF_LINES and (not lines or not _is_cut(lines[-1])):
        line = stream.readline(ENTRY_LINE_MAX)
        if not line:
            break
        lines.append(line)
    return lines


def _is_cut(line: bytes) -> bool:
    return len(line) >= ENTRY_LINE_MAX and not line.endswith(b"\n")


def _is_wrapped(lines: list[bytes]) -> bool:
    """The file is one object wrapping the entry list: a first line too long to hold that starts a dump whose
    list holds LogEntry-like objects, or a first line that opens an object (``{`` alone, members up to a list:
    ``{"entries": [``) followed mostly by lines that are no JSON objects (unlike NDJSON whose first line is
    broken)."""
    first, rest = lines[0], [line for line in lines[1:] if line.strip()]
    if _is_cut(first):
        return is_wrapper(_dump_head(first))
    if _is_object(first) or not (first.strip() == b"{" or any(isinstance(v, list) for v in _dump_head(first).values())):
        return False
    return sum(map(_is_object, rest)) * 2 <= len(rest)


def _dump_head(start: bytes) -> dict:
    """The members of the object ``start`` opens, up to its first list, which holds only its first item (none
    when that is not on the line); what follows no JSON member is left out."""
    text = start.decode("utf-8", "replace")
    members: dict = {}
    pos = 1  # past the "{"
    try:
        while True:
            key, pos = _DECODER.raw_decode(text, _WS.match(text, pos).end())
            pos = _WS.match(text, pos).end()
            if text[pos] != ":":
                return members
            pos = _WS.match(text, pos + 1).end()
            if text[pos] == "[":
                members[key] = []  # the list opens here, whether or not its first item is on the line
                members[key].append(_DECODER.raw_decode(text, _WS.match(text, pos + 1).end())[0])
                return members
            members[key], pos = _DECODER.raw_decode(text, pos)
            pos = _WS.match(text, pos).end()
            if text[pos] != ",":  # the object ends (or is no JSON) before a list opens
                return members
            pos += 1
    except (ValueError, IndexError, TypeError, RecursionError):  # the head ends (or breaks, or nests too deep) first
        return members


def _is_text(lines: list[bytes]) -> bool:
    """Some line starts with a log line's time or a traceback's header (a container's JSON lines, then a crash it
    printed as text), or no line is a JSON object and some line does not even start like one."""
    if any(_TIMED_LINE.match(line) or line.startswith(b"Traceback (most recent call last)") for line in lines):
        return True
    return not any(map(_is_object, lines)) and any(not line.lstrip().startswith(b"{") for line in lines if line.strip())


class _Prefixed(io.RawIOBase):
    """``prefix`` followed by the rest of ``stream``, as one binary stream."""

    def __init__(self, prefix: bytes, stream: io.BufferedReader):
        self._prefix = memoryview(prefix)
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        if self._prefix:
            size = min(len(buffer), len(self._prefix))
            buffer[:size] = self._prefix[:size]
            self._prefix = self._prefix[size:]
            return size
        return self._stream.readinto(buffer)


def _is_object(line: bytes) -> bool:
    try:
        return isinstance(loads(line), dict)
    except orjson.JSONDecodeError:
        return False


def _text(stream: io.BufferedReader) -> io.TextIOWrapper:
    """The stream as text; undecodable bytes become lone surrogates, which make their JSON element a counted skip."""
    return io.TextIOWrapper(stream, encoding="utf-8", errors="surrogateescape", newline="")


def _lines(stream: io.BufferedReader) -> Iterator[bytes]:
    return iter(stream)


def read_from(stream: BinaryIO, name: str, line: int, cut: Cut) -> RecordStream:
    """The records of export ``name`` from ``cut`` on, as reading it whole yields them there; ``stream`` is at the
    cut, which is at line ``line``."""
    if cut.indent is None:
        return read_ndjson(stream, name, line)
    return read_array_rest(_text(stream), name, line, cut.indent)
