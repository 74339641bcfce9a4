"""Scan one large NDJSON file or pretty-printed JSON array (``gcloud --format=json``) on two cores, with the
result of one pass over it.

The file is cut at the first line (or array element) past its middle. A forked child counts the lines before
the cut and sends the cut's line number. It reads on from the cut and stops at the first record, at least
:data:`WARM_UP_BYTES` on (and within :data:`SEARCH_ENTRIES` records past those), at which its stitching has nothing pending: the
*seam*. It sends the seam's line number, scans from the seam to the end and sends what it found. Meanwhile this
process scans from the start, up to the seam. The child's findings are taken only when one pass would have found
the same:

* this process reaches the seam's line with a record that starts there, its stitching has nothing pending
  there either (so no traceback spans the seam), and both passes saw the same last time before it;
* each run whose order the child let the stream's direction decide (see :mod:`triage.stitch`) is ordered the
  same way with this process's direction counts before the child's.

Otherwise, or when the child fails, this process reads on alone. A pretty-printed array with another array
before the cut is not split (its layout is not known to the child). The child dies with this process, leaves
Ctrl-C to it and never writes to the terminal.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import itertools
import multiprocessing
import os
import re
import signal
import sys
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, BinaryIO, Callable

from .sources.files import Cut, cut_in_two, read_file, read_from
from .stitch import Stitcher

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from .scan import Findings, Pass

MIN_BYTES = 16 << 20  # smaller files take well under a second: not worth a second process
WARM_UP_BYTES = 1 << 20  # what the child reads past the cut before it looks for the seam (about 1,000 entries)
SEARCH_ENTRIES = 10_000  # records and skipped ones past the warm-up after which the child gives up on a seam
_COUNT_CHUNK = 1 << 20
_LINE_ENDS_OR_OPENS = re.compile(rb"[ \t\r]*(?:[\n\[]|\Z)")
_PR_SET_PDEATHSIG = 1
PROC_CGROUP = "/proc/self/cgroup"  # this process's cgroups, one line per hierarchy: "id:controllers:path"
CGROUP_ROOT = "/sys/fs/cgroup"


@dataclass(frozen=True)
class _Rest:
    """What the child found from the seam on, and what decides whether one pass would have found the same."""

    findings: Findings
    direction: tuple[int, int, datetime | None]  # the child's direction counts and last time at the seam
    tie_breaks: tuple[tuple[int, int], ...]  # its direction counts at each run its direction ordered
    end: tuple[int, int, datetime | None]  # its direction counts and last time at the end


def scan_file(spec: str, found: Pass, stitcher: Stitcher) -> bool:
    """Scan file ``spec`` (a path, or ``-``) into ``found`` on two cores if it is a large NDJSON file or
    pretty-printed array and two cores are there; False (and nothing read) when it is not."""
    if not _can_fork():
        return False
    cut = cut_in_two(spec, MIN_BYTES)
    if cut is None:
        return False
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_scan_rest, args=(spec, cut, found, receiver, sender, os.getpid()), daemon=True)
    # Ctrl-C waits until the child ignores it (else multiprocessing prints the child's KeyboardInterrupt), and the
    # child's collections leave the objects it shares with this process alone (no copies). Garbage is collected
    # first: frozen, it would pass uncounted into the oldest generation and wait there for a full collection. A
    # caller that froze objects itself keeps them frozen: the collector is then left as it is.
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    freeze = gc.get_freeze_count() == 0
    if freeze:
        gc.collect()
        gc.freeze()
    started = False
    try:
        child.start()
        started = True
    except OSError:  # no process to spare: one pass
        pass
    finally:
        if freeze:
            gc.unfreeze()
        sender.close()
        if not started:
            receiver.close()
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    if not started:
        return False
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # a Ctrl-C pending since the fork is raised here
        records = read_file(spec)
        cut_line = _receive(receiver)
        stop = found.feed(records, stitcher, until=cut_line) if isinstance(cut_line, int) else None
        seam = _receive(receiver) if stop is not None else None  # the child looked for it meanwhile
        if stop is not None and isinstance(seam, int) and stop.number < seam:
            stop = found.feed(itertools.chain([stop], records), stitcher, until=seam)
        if stop is not None and stop.number == seam:
            rest = _receive(receiver)
            if isinstance(rest, _Rest) and _same_as_one_pass(stitcher.direction, rest):
                found.take(rest.findings)
                stitcher.count_steps(*_steps_past(rest), rest.end[2])
                return True
        _end(child)  # one pass, then: read on alone
        found.feed(records if stop is None else itertools.chain([stop], records), stitcher)
        return True
    finally:
        receiver.close()
        _end(child)


def _can_fork() -> bool:
    """Two cores to use, and a process that forks safely: on Linux (macOS frameworks may not survive a fork), with
    one thread (this one), not itself a daemonic worker (which may not have children). Under a CPU quota of 1.5
    cores, two halves still end sooner than one pass; under less, they would share one core and end later."""
    return (
        sys.platform.startswith("linux")
        and _cores() >= 1.5
        and threading.active_count() == 1
        and not multiprocessing.current_process().daemon
    )


def _cores() -> float:
    """The cores this process may use: its CPU affinity, capped by the CPU quota of its cgroup and of the cgroups
    above it (a container's ``--cpus``, a Kubernetes CPU limit), cgroup v2 or v1."""
    cores = float(len(os.sched_getaffinity(0)))
    try:
        with open(PROC_CGROUP, errors="surrogateescape") as memberships:  # a cgroup's name may be any bytes
            lines = memberships.read().splitlines()
    except OSError:
        return cores
    for line in lines:
        fields = line.split(":", 2)
        if len(fields) != 3:
            continue
        _, controllers, path = fields
        if controllers == "":
            cores = min(cores, _quota(CGROUP_ROOT, path, _v2_quota))
        elif "cpu" in controllers.split(","):
            cores = min(cores, _quota(os.path.join(CGROUP_ROOT, controllers), path, _v1_quota))
    return cores


def _quota(mount: str, path: str, read: Callable[[str], float | None]) -> float:
    """The smallest quota ``read`` finds in the folder of cgroup ``path`` under ``mount`` and in those above it (a
    container that sees its own cgroup as the mount's root finds it there); infinity when none is set."""
    parts = [part for part in path.split("/") if part and part != ".."]
    quotas = [read(os.path.join(mount, *parts[:depth])) for depth in range(len(parts), -1, -1)]
    return min((quota for quota in quotas if quota is not None), default=float("inf"))


def _v2_quota(folder: str) -> float | None:
    """Cores allowed by ``cpu.max`` (``"150000 100000"``; ``"max 100000"`` is no quota)."""
    try:
        with open(os.path.join(folder, "cpu.max")) as limit:
            quota, period = limit.read().split()
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError, ZeroDivisionError):
        return None


def _v1_quota(folder: str) -> float | None:
    """Cores allowed by ``cpu.cfs_quota_us`` over ``cpu.cfs_period_us`` (a quota of -1 is none)."""
    try:
        with open(os.path.join(folder, "cpu.cfs_quota_us")) as quota_file:
            quota = int(quota_file.read())
        if quota <= 0:
            return None
        with open(os.path.join(folder, "cpu.cfs_period_us")) as period_file:
            return quota / int(period_file.read())
    except (OSError, ValueError, ZeroDivisionError):
        return None


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


def _steps_past(rest: _Rest) -> tuple[int, int]:
    """The ascending and descending steps the child counted past the seam (where this process's counts end)."""
    return rest.end[0] - rest.direction[0], rest.end[1] - rest.direction[1]


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
    """The child: send the cut's line number and the seam's (None: no seam), scan from the seam and send a
    :class:`_Rest`; after a None, or when it fails, it sends None and ends. It dies with the parent, leaves Ctrl-C
    to it, and writes nothing to the terminal."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        receiver.close()  # else a send to a parent that died would wait for ever
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(null, 2)
        sys.stdout = sys.stderr = open(os.devnull, "w")  # not even what the parent had buffered is written twice
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() == parent:
            _rest(spec, cut, found, sender)
    except BaseException:  # noqa: BLE001 - the parent reads on alone; nothing may reach the terminal from here
        try:
            sender.send(None)
        except BaseException:  # noqa: BLE001 - the parent is gone
            pass
    finally:
        sender.close()


def _rest(spec: str, cut: Cut, found: Pass, sender: Connection) -> None:
    """The child's work (see :func:`_scan_rest`)."""
    with open(spec, "rb") as stream:
        refuse = None if cut.indent is None else functools.partial(_another_array, indent=len(cut.indent))
        before = _count_lines(stream, cut.offset, refuse=refuse)
        if before is None:  # an array appended before the cut: its layout is not known here
            sender.send(None)
            return
        first_line = 1 + before
        sender.send(first_line)
        warm_up = _count_lines(stream, WARM_UP_BYTES)
        stream.seek(cut.offset)
        records = read_from(stream, spec, first_line, cut)
        searched = itertools.islice(records, warm_up + SEARCH_ENTRIES)  # an export of errors only has no seam
        stitcher = Stitcher()
        seam = found.fresh().feed(searched, stitcher, until=first_line + warm_up)
        sender.send(None if seam is None else seam.number)
        if seam is None:
            return
        direction = stitcher.direction
        tie_breaks = stitcher.note_tie_breaks()
        found.rules.forget()
        rest = found.fresh()
        rest.feed(itertools.chain([seam], records), stitcher)
        rest.close(stitcher)
    sender.send(_Rest(rest.findings(), direction, tuple(tie_breaks), stitcher.direction))


def _count_lines(stream: BinaryIO, size: int, *, refuse: Callable[[bytes], bool] | None = None) -> int | None:
    """The line breaks in the next ``size`` bytes of ``stream``; None when ``refuse`` holds for some of them."""
    count, left, tail = 0, size, b""
    while left > 0:
        chunk = stream.read(min(_COUNT_CHUNK, left))
        if not chunk:
            break
        count += chunk.count(b"\n")
        if refuse is not None and refuse(tail + chunk):
            return None
        tail = chunk[-64:]
        left -= len(chunk)
    return count


def _another_array(data: bytes, indent: int) -> bool:
    """Whether another top-level array may start in ``data``, of an array whose elements are indented by
    ``indent``: a line starts with ``[`` or ``]`` indented no deeper than the elements (the file's first ``[``
    aside; what an element holds is indented deeper), or ``}]`` ends a line, meets a ``[`` or ends ``data`` (the
    next chunk may go on with a line end). Pretty-printed arrays close each bracket on a line of its own; in a
    JSON string, which never holds a line end, ``}]`` is followed by more of the string."""
    if re.search(rb"\n[ \t]{0,%d}[\[\]]" % indent, data):
        return True
    at = data.find(b"}]")
    while at >= 0:
        if _LINE_ENDS_OR_OPENS.match(data, at + 2):
            return True
        at = data.find(b"}]", at + 2)
    return False
