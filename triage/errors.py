"""Expected failures. The CLI prints each as one line `Error: …` and exits non-zero, never a traceback."""


class TriageError(Exception):
    """A failure the user can act on; ``str(err)`` is the one-line message, ``exit_code`` the process status."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


class UsageError(TriageError):
    """Bad options or bad input that stops the run (exit 2)."""


class SourceError(TriageError):
    """A source cannot be read at all: missing file, unreadable, credentials, permission (exit 2)."""
