"""``scan --output FILE``: opened before the scan, then written whole or not at all."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from pathlib import Path
from typing import BinaryIO


class ReportFile:
    """A temporary file beside ``path``, renamed over it once all of it is written (the report, or the raw copy of
    the entries a scan pulls).

    Opening raises :class:`OSError` when ``path`` cannot be written (a missing folder, a directory), so a
    scan can fail before it starts. A path that is neither missing nor a regular file (``/dev/stdout``, a
    FIFO) is written in place: it cannot be replaced. Symbolic links are followed.
    """

    def __init__(self, path: Path):
        self.path = path
        self.target = path
        mode = _mode(path)
        self._temp: Path | None = None
        if mode is not None and not stat.S_ISREG(mode):
            self._file = open(path, "wb")
            return
        self.target = Path(os.path.realpath(path))
        temp = self.target.with_name(f".{self.target.name}.{secrets.token_hex(4)}.tmp")
        self._file = os.fdopen(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb")
        self._temp = temp
        if mode is not None:
            os.chmod(temp, stat.S_IMODE(mode))  # keep the mode of the file it replaces

    def __enter__(self) -> "ReportFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def stream(self) -> BinaryIO:
        """The file to write into piece by piece, before :meth:`commit`."""
        return self._file

    def write(self, text: str) -> None:
        """Write the report and put it in place (raises :class:`OSError`)."""
        self._file.write(text.encode("utf-8"))
        self.commit()

    def commit(self) -> None:
        """Put what was written in place (raises :class:`OSError`)."""
        self._file.flush()
        if self._temp is not None:
            os.fsync(self._file.fileno())
        self._file.close()
        if self._temp is not None:
            os.replace(self._temp, self.target)
            self._temp = None

    def close(self) -> None:
        """Close; a report that was not written whole leaves nothing behind."""
        with contextlib.suppress(OSError):
            self._file.close()
        if self._temp is not None:
            self._temp.unlink(missing_ok=True)
            self._temp = None


def _mode(path: Path) -> int | None:
    """``st_mode`` of ``path``, None when it does not exist; a directory raises :class:`IsADirectoryError`."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    return mode
