"""Append to a worklog file without changing a byte that was there, atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import TriageError


def append_section(path: Path, section: str, heading: str) -> None:
    """Append ``section`` to ``path`` (created as ``heading`` + section when missing).

    The old bytes are kept exactly; the section follows the file's line endings (CRLF if it uses them) and
    starts on a new line. The new content goes to a temporary file in the same folder, is fsynced, then
    replaces the old file in one rename (the file a symlink points to, so the link stays a link).
    """
    path = Path(os.path.realpath(path))
    try:
        old = path.read_bytes()
    except FileNotFoundError:
        old = None
    except OSError as err:
        raise TriageError(f"cannot read {path}: {err.strerror or err}") from None
    if not old:  # missing or empty: start with the heading
        addition = heading.rstrip("\n") + "\n" + section
    else:
        addition = section if old.endswith(b"\n") else "\n" + section
    if old and b"\r\n" in old:
        addition = addition.replace("\r\n", "\n").replace("\n", "\r\n")
    _replace(path, (old or b"") + addition.encode("utf-8"))


def create_new(path: Path, content: str) -> None:
    """Write ``content`` to ``path``, refusing to overwrite an existing file."""
    try:
        with open(path, "x", encoding="utf-8", newline="") as handle:
            handle.write(content)
    except FileExistsError:
        raise TriageError(f"{path} already exists: not overwriting it (use `triage worklog attach` to add to it)") from None
    except OSError as err:
        raise TriageError(f"cannot create {path}: {err.strerror or err}") from None


def _new_file_mode() -> int:
    """0666 less the process umask, as ``open()`` would create the file."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _replace(path: Path, data: bytes) -> None:
    folder = path.parent
    try:
        mode = path.stat().st_mode & 0o7777 if path.exists() else _new_file_mode()
        fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise TriageError(f"cannot write in {folder}: {err.strerror or err}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)  # mkstemp makes 0600 files: keep the old mode, or the usual one for a new file
        os.replace(temp, path)
    except OSError as err:
        Path(temp).unlink(missing_ok=True)
        raise TriageError(f"cannot write {path}: {err.strerror or err}") from None
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
