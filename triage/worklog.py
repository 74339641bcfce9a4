"""Append to a worklog file without changing a byte that was there, one whole section per run."""

from __future__ import annotations

import codecs
import fcntl
import os
import stat
from pathlib import Path

from .errors import TriageError
from .sources.jsonstream import is_utf8

_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def append_section(path: Path, section: str, heading: str) -> None:
    """Append ``section`` to ``path`` (created as ``heading`` + section when missing or empty).

    The file stays the same file (its links, owner and permissions): the section is appended in place, under an
    exclusive lock (so that runs at the same time each add their own section), then fsynced; a write that fails
    part-way is cut back off. The old bytes are kept exactly; the section follows the file's line endings (CRLF if
    it uses them) and starts on a new line. A file that is not a regular file or not UTF-8 text is refused.
    """
    missing = not os.path.lexists(path) or not os.path.exists(path)  # missing, or a link to a missing file
    fd, reopened = _open_locked(path)
    with os.fdopen(fd, "r+b", buffering=0) as handle:
        try:
            old = handle.read()
        except OSError as err:
            raise TriageError(f"cannot read {path}: {err.strerror or err}") from None
        created = (missing or reopened) and not old  # by this run: another one that came first may have written to it
        if old.startswith(_UTF16_BOMS) or not is_utf8(old):
            raise TriageError(f"{path} is not UTF-8 text: not appending to it (convert it to UTF-8 first)")
        if not old:  # missing or empty: start with the heading
            addition = heading.rstrip("\n") + "\n" + section
        else:
            addition = section if old.endswith(b"\n") else "\n" + section
        if b"\r\n" in old:
            addition = addition.replace("\r\n", "\n").replace("\n", "\r\n")
        try:
            _write_all(fd, addition.encode("utf-8"))
            os.fsync(fd)
        except OSError as err:
            try:
                os.ftruncate(fd, len(old))  # no half section (a full disk): the file as it was
                if created:  # or as it was not (a run waiting for the lock then opens the path again)
                    os.unlink(os.path.realpath(path))
            except OSError:
                pass
            raise TriageError(f"cannot write {path}: {err.strerror or err}") from None


def _open_locked(path: Path) -> tuple[int, bool]:
    """A descriptor of the regular file at ``path`` (created if missing), exclusively locked, and still the file at
    ``path``: a file unlinked while this run waited for its lock (a run that failed to create it) is opened again;
    and whether it was."""
    reopened = False
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK, 0o666)  # a FIFO must not block
        except OSError as err:
            raise TriageError(f"cannot open {path}: {err.strerror or err}") from None
        try:
            regular = stat.S_ISREG(os.fstat(fd).st_mode)
            if regular:
                fcntl.flock(fd, fcntl.LOCK_EX)
                if os.fstat(fd).st_nlink:
                    return fd, reopened
        except OSError as err:
            os.close(fd)
            raise TriageError(f"cannot read {path}: {err.strerror or err}") from None
        os.close(fd)
        if not regular:
            raise TriageError(f"{path} is not a regular file: not appending to it")
        reopened = True


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def create_new(path: Path, content: str) -> None:
    """Write ``content`` to ``path``, refusing to overwrite an existing file."""
    try:
        with open(path, "x", encoding="utf-8", newline="") as handle:
            handle.write(content)
    except FileExistsError:
        raise TriageError(f"{path} already exists: not overwriting it (use `triage worklog attach` to add to it)") from None
    except OSError as err:
        raise TriageError(f"cannot create {path}: {err.strerror or err}") from None
