"""Open an export file (or stdin), undo gzip, detect its shape and stream its records.

Shapes, detected from the first bytes: a JSON array (``gcloud logging read --format=json``), NDJSON,
an object wrapping the entry list (client dumps), a gcloud ``table(...)`` or ``value(...)`` dump, or
plain log lines.
"""

from __future__ import annotations

import gzip
import io
import itertools
import sys
import zlib
from pathlib import Path
from typing import BinaryIO, Iterator

import orjson

from ..errors import SourceError
from ..model import Problem
from . import RecordStream
from .jsonstream import loads, is_utf8, read_array, read_ndjson, read_wrapped
from .text import TABLE_HEADER, VALUE_ROW, read_plain, read_table, read_value

_SNIFF_BYTES = 8192
ENTRY_LINE_MAX = 1 << 20  # Cloud Logging caps an entry at 256 KB: a longer first line holds a whole dump
_GZIP_MAGIC = b"\x1f\x8b"


def read_file(spec: str) -> RecordStream:
    """Stream the records of one file path, or of stdin when ``spec`` is ``-``."""
    name = "<stdin>" if spec == "-" else spec
    with _open_binary(spec) as raw:
        stream = io.BufferedReader(raw, buffer_size=1 << 20) if not isinstance(raw, io.BufferedReader) else raw
        gunzip = None
        if stream.peek(2)[:2] == _GZIP_MAGIC:
            gunzip = _Gunzip(stream)
            stream = io.BufferedReader(gunzip, buffer_size=1 << 20)
        try:
            if gunzip is None or stream.peek(1) or gunzip.error is None:
                yield from _read_stream(stream, name)
        except OSError as err:
            yield Problem(f"{name}", f"stopped reading: {err.strerror or err}")
        if gunzip is not None and gunzip.error is not None:
            yield Problem(f"{name}", f"stopped reading: {gunzip.error}")


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


class _Borrowed(io.RawIOBase):
    """Reads from a stream that closing this one leaves open (stdin, which ``-`` may read again)."""

    def __init__(self, stream: BinaryIO):
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        return self._stream.readinto(buffer)


def _open_binary(spec: str) -> BinaryIO:
    if spec == "-":
        return _Borrowed(sys.stdin.buffer)  # type: ignore[return-value]
    path = Path(spec)
    if path.is_dir():
        raise SourceError(f"{spec} is a directory, not a log export")
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise SourceError(f"{spec}: no such file") from None
    except OSError as err:
        raise SourceError(f"{spec}: cannot read ({err.strerror or err})") from None


def _read_stream(stream: io.BufferedReader, name: str) -> RecordStream:
    head = stream.peek(_SNIFF_BYTES)[:_SNIFF_BYTES]
    if head.startswith(b"\xef\xbb\xbf"):
        stream.read(3)
        head = head[3:]
    if not head.strip():
        yield Problem(f"{name}:1", "empty file")
        return
    if b"\x00" in head:
        yield Problem(f"{name}:1", "binary data, not a log export")
        return
    first = head.lstrip()[:1]
    if first == b"[" and _is_json_array(head):
        yield from read_array(_text(stream), name)
    elif first == b"{" and head.lstrip()[1:].lstrip()[:1] in (b'"', b"}", b""):  # not a `{worker-1} …` log prefix
        yield from _read_object_stream(stream, name)
    elif TABLE_HEADER.match(head):
        yield from read_table(_lines(stream), name)
    elif VALUE_ROW.match(head.decode("utf-8", "replace")):
        yield from read_value(_lines(stream), name)
    else:
        yield from read_plain(_lines(stream), name)


def _is_json_array(head: bytes) -> bool:
    """``[`` opens a JSON array (not a bracketed log prefix such as gunicorn's ``[2026-…]``)."""
    rest = head.lstrip()[1:]
    if not rest.split(b"\n", 1)[0].strip() or rest.lstrip()[:1] in (b"{", b"[", b"]", b'"'):
        return True
    try:
        return isinstance(orjson.loads(head.lstrip().split(b"\n", 1)[0]), list)
    except orjson.JSONDecodeError:
        return False


def _read_object_stream(stream: io.BufferedReader, name: str) -> RecordStream:
    """NDJSON when the first line is a JSON object on its own, is not UTF-8, or is malformed but followed by
    one (a bad first line costs one line, not the file); else one object wrapping the entry list."""
    number, first_line = _next_line(stream, 1)
    if len(first_line) >= ENTRY_LINE_MAX and not first_line.endswith(b"\n"):  # a whole dump on one line
        yield from read_wrapped(_text(io.BufferedReader(_Prefixed(first_line, stream))), name, "", number)
        return
    second_number, second_line = _next_line(stream, number + 1)
    opens_list = first_line.rstrip().endswith(b"[")  # '{"entries": [' then one entry per line
    if not (_is_object(first_line) or (_is_object(second_line) and not opens_list) or not is_utf8(first_line)):
        prefix = first_line.decode("utf-8", "replace") + "\n" * (second_number - number - 1)
        yield from read_wrapped(_text(stream), name, prefix + second_line.decode("utf-8", "replace"), number)
        return
    lines = [first_line] + [b""] * (second_number - number - 1) + [second_line]
    yield from read_ndjson(itertools.chain(lines, stream), name, number)


def _next_line(stream: io.BufferedReader, number: int) -> tuple[int, bytes]:
    """The next non-blank line (at most :data:`ENTRY_LINE_MAX` bytes of it) and its number (``b""`` at the end)."""
    line = stream.readline(ENTRY_LINE_MAX)
    while line and not line.strip():
        number += 1
        line = stream.readline(ENTRY_LINE_MAX)
    return number, line


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
    return io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline="")


def _lines(stream: io.BufferedReader) -> Iterator[bytes]:
    return iter(stream)
