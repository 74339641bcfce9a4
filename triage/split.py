"""Scan one large NDJSON file or pretty-printed JSON array (``gcloud --format=json``) on two cores, with the result
of one pass over it.

The file is cut at the first line (or array element) past its middle. A child process counts the lines before
the cut, reads on from it and stops at the first record, at least :data:`WARM_UP_BYTES` on (and at most
:data:`SEARCH_BYTES`), at which its stitching has nothing pending: the *seam*. It sends the seam's line number,
scans from the seam to the end and sends what it found. This process scans from the start up to the seam. The child's findings are taken only when
one pass would have found the same:

* this process reaches the seam's line with a record that starts there, its stitching has nothing pending
  there either (so no traceback spans the seam), and both passes saw the same last time before it;
* each run whose order the child let the stream's direction decide (see :mod:`triage.stitch`) is ordered the
  same way with this process's direction counts before the child's.

Otherwise, or when the child fails, this process reads on from the seam alone. A pretty-printed array with
another array before the cut is not split (its layout is not known to the child). The child dies with this
process, leaves Ctrl-C to it and never writes to the terminal.
"""

from __future__ import annotations

import ctypes
import gc
import itertools
import multiprocessing
import os
import signal
import sys
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from .sources import Record, gcp_project
from .sources.files import Cut, cut_in_two, read_file, read_from
from .stitch import Stitcher

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from .scan import Findings, Pass

MIN_BYTES = 16 << 20  # smaller files take well under a second: not worth a second process
WARM_UP_BYTES = 1 << 20  # what the child reads past the cut before it looks for the seam (about 1,000 entries)
SEARCH_BYTES = 8 << 20  # past the cut, where the child gives up looking for a seam (an export of errors only)
_COUNT_CHUNK = 1 << 20
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class _Rest:
    """What the child found from the seam on, and what decides whether one pass would have found the same."""

    findings: Findings
    direction: tuple[int, int, datetime | None]  # the child's direction counts and last time at the seam
    tie_breaks: tuple[tuple[int, int], ...]  # its direction counts at each run its direction ordered


def scan_file(spec: str, found: Pass, stitcher: Stitcher) -> bool:
    """Scan file ``spec`` into ``found`` on two cores if it is a large NDJSON file or pretty-printed array and two
    cores are there; False (and nothing read) when it is not."""
    if gcp_project(spec) is not None or not _can_fork():
        return False
    cut = cut_in_two(spec, MIN_BYTES)
    if cut is None:
        return False
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_scan_rest, args=(spec, cut, found, receiver, sender, os.getpid()), daemon=True)
    # Ctrl-C waits until the child ignores it (else multiprocessing prints the child's KeyboardInterrupt), and the
    # child's collections leave the objects it shares with this process alone (no copies).
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    gc.freeze()
    try:
        child.start()
    except OSError:  # no process to spare: one pass
        receiver.close()
        return False
    finally:
        gc.unfreeze()
        sender.close()
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    try:
        records = read_file(spec)
        seam = _receive(receiver)
        if not isinstance(seam, int):  # the child found no seam, or failed
            _end(child)
            found.feed(records, stitcher)
            return True
        stop = found.feed(records, stitcher, until=seam)
        if stop is None:
            return True  # never calm from the seam on (or the file changed under us): all of it was read here
        if stop.number == seam:
            rest = _receive(receiver)
            if isinstance(rest, _Rest) and _same_as_one_pass(stitcher.direction, rest):
                found.take(rest.findings)
                return True
        _end(child)
        found.feed(itertools.chain([stop], records), stitcher)
        return True
    finally:
        receiver.close()
        _end(child)


def _can_fork() -> bool:
    """Two cores to use, and a process that forks safely: on Linux (macOS frameworks may not survive a fork), with
    one thread (this one), not itself a daemonic worker (which may not have children)."""
    return (
        sys.platform.startswith("linux")
        and len(os.sched_getaffinity(0)) >= 2
        and threading.active_count() == 1
        and not multiprocessing.current_process().daemon
    )


def _end(child: multiprocessing.Process) -> None:
    if child.is_alive():
        child.kill()
    child.join()


def _receive(receiver: Connection) -> object:
    """The child's next message; None when it ended without one."""
    try:
        return receiver.recv()
    except (EOFError, OSError):
        return None


def _same_as_one_pass(direction: tuple[int, int, datetime | None], rest: _Rest) -> bool:
    """Whether the child's tie breaks come out the same after this process's ``direction`` counts."""
    ascending, descending, last = direction
    child_ascending, child_descending, child_last = rest.direction
    if last != child_last:
        return False
    for tie_ascending, tie_descending in rest.tie_breaks:
        one_pass = descending + tie_descending - child_descending > ascending + tie_ascending - child_ascending
        if one_pass != (tie_descending > tie_ascending):
            return False
    return True


def _scan_rest(spec: str, cut: Cut, found: Pass, receiver: Connection, sender: Connection, parent: int) -> None:
    """The child: find the seam past ``cut``, send its line number (None: no seam), scan from it and send a
    :class:`_Rest` (None: it failed). It ends with the parent, and leaves Ctrl-C to it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    receiver.close()  # else a send to a parent that died would wait for ever
    sys.stdout = sys.stderr = open(os.devnull, "w")  # not even what this process had buffered is written twice
    try:
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:
            return
        rest = _rest(spec, cut, found, sender)
        if rest is not None:
            sender.send(rest)
    except BaseException:  # noqa: BLE001 - the parent reads on alone; nothing may reach the terminal from here
        try:
            sender.send(None)
        except BaseException:  # noqa: BLE001 - the parent is gone
            pass
    finally:
        sender.close()


def _rest(spec: str, cut: Cut, found: Pass, sender: Connection) -> _Rest | None:
    """The child's work; None when it found no seam (and said so)."""
    with open(spec, "rb") as stream:
        before = _count_lines(stream, cut.offset, other_arrays=cut.indent is not None)
        if before is None:  # an array appended before the cut: its layout is not known here
            sender.send(None)
            return None
        warm_up = _count_lines(stream, WARM_UP_BYTES)
        search = warm_up + _count_lines(stream, SEARCH_BYTES - WARM_UP_BYTES)
        first_line = 1 + before
        stream.seek(cut.offset)
        records = read_from(stream, spec, first_line, cut)
        searched = itertools.takewhile(lambda r: not isinstance(r, Record) or r.number < first_line + search, records)
        stitcher = Stitcher()
        seam = found.fresh().feed(searched, stitcher, until=first_line + warm_up)
        sender.send(None if seam is None else seam.number)
        if seam is None:
            return None
        direction = stitcher.direction
        tie_breaks = stitcher.note_tie_breaks()
        found.rules.forget()
        rest = found.fresh()
        rest.feed(itertools.chain([seam], records), stitcher)
        rest.close(stitcher)
    return _Rest(rest.findings(), direction, tuple(tie_breaks))


def _count_lines(stream, size: int, *, other_arrays: bool = False) -> int | None:
    """The line breaks in the next ``size`` bytes of ``stream``; with ``other_arrays``, None when another array may
    start among them: a line starts with ``[`` or ``]`` (the file's first ``[`` aside), or a ``]`` follows a ``}``
    (pretty-printed arrays close each on its own line)."""
    count, left, previous = 0, size, b""
    while left > 0:
        chunk = stream.read(min(_COUNT_CHUNK, left))
        if not chunk:
            break
        count += chunk.count(b"\n")
        joined = previous + chunk[:1]
        if other_arrays and any(mark in chunk or mark == joined for mark in (b"\n[", b"\n]", b"}]")):
            return None
        previous = chunk[-1:]
        left -= len(chunk)
    return count
