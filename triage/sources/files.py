"""Open an export file (or stdin), undo gzip, detect its shape and stream its records.

Shapes, detected from the first bytes: a JSON array (``gcloud logging read --format=json``), NDJSON,
an object wrapping the entry list (client dumps), a gcloud ``table(...)`` or ``value(...)`` dump, or
plain log lines.
"""

from __future__ import annotations

import gzip
import io
import sys
from pathlib import Path
from typing import BinaryIO, Iterator

import orjson

from ..errors import SourceError
from ..model import Problem
from . import RecordStream
from .jsonstream import read_array, read_ndjson, read_wrapped
from .text import TABLE_HEADER, VALUE_ROW, read_plain, read_table, read_value

_SNIFF_BYTES = 8192
_GZIP_MAGIC = b"\x1f\x8b"


def read_file(spec: str) -> RecordStream:
    """Stream the records of one file path, or of stdin when ``spec`` is ``-``."""
    name = "<stdin>" if spec == "-" else spec
    with _open_binary(spec) as raw:
        stream = io.BufferedReader(raw, buffer_size=1 << 20) if not isinstance(raw, io.BufferedReader) else raw
        if stream.peek(2)[:2] == _GZIP_MAGIC:
            stream = io.BufferedReader(gzip.GzipFile(fileobj=stream), buffer_size=1 << 20)  # type: ignore[arg-type]
        try:
            yield from _read_stream(stream, name)
        except (OSError, EOFError) as err:  # gzip: truncated or corrupt member
            yield Problem(f"{name}", f"stopped reading: {err}")


def _open_binary(spec: str) -> BinaryIO:
    if spec == "-":
        return sys.stdin.buffer
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
    if first == b"[" and head.lstrip()[1:].lstrip()[:1] in (b"{", b"]", b""):
        yield from read_array(_text(stream), name)
    elif first == b"{":
        yield from _read_object_stream(stream, name)
    elif TABLE_HEADER.match(head):
        yield from read_table(_lines(stream), name)
    elif VALUE_ROW.match(head.decode("utf-8", "replace")):
        yield from read_value(_lines(stream), name)
    else:
        yield from read_plain(_lines(stream), name)


def _read_object_stream(stream: io.BufferedReader, name: str) -> RecordStream:
    """NDJSON when the first line is a whole JSON object, else one object wrapping the entry list."""
    first_line = stream.readline()
    while not first_line.strip():
        first_line = stream.readline()
    try:
        orjson.loads(first_line)
    except orjson.JSONDecodeError:
        prefix = first_line.decode("utf-8", "replace")
        yield from read_wrapped(_text(stream), name, prefix)
        return
    yield from read_ndjson(_chain(first_line, stream), name)


def _chain(first: bytes, stream: io.BufferedReader) -> Iterator[bytes]:
    yield first
    yield from stream


def _text(stream: io.BufferedReader) -> io.TextIOWrapper:
    return io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline="")


def _lines(stream: io.BufferedReader) -> Iterator[bytes]:
    return iter(stream)
