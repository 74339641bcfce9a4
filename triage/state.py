"""The state store: every scan, per-cluster history and linked issues, in one SQLite file.

Location: ``$XDG_STATE_HOME/triage/state.db`` (default ``~/.local/state/triage/state.db``); a ``state_dir``
overrides the folder. WAL mode and short transactions, so a ``scan`` recording while a ``draft`` reads is fine.
Schema changes bump :data:`SCHEMA_VERSION` (kept in ``PRAGMA user_version``) and add a step to
:data:`_MIGRATIONS` (SQL, or a function of the connection for a step that must look before it changes).

Tables: ``scans`` (one row per scan, with the full :class:`ScanResult` as JSON for an exact round-trip),
``scan_clusters`` (fingerprint, counts and first/last seen per scan: the history) and ``issues``
(fingerprint → GitHub issue, with the repository's id and the API host it was filed in, written by the issue
filer).
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Union

from .errors import TriageError
from .model import ScanResult, Severity, Window
from .redact import redact_cluster
from .serialize import scan_result_from_dict, scan_result_to_dict, time_from_text
from .sources import is_live

SCHEMA_VERSION = 8
DB_NAME = "state.db"
ISSUE_STATES = ("open", "closed")

_TIME_COLUMNS = {
    "scans": ("scanned_at", "window_from", "window_until"),
    "scan_clusters": ("first_seen", "last_seen"),
    "issues": ("updated_at", "closed_at"),
}
_TIME_WIDTH = len("2026-11-28T01:00:00.000000Z")  # every stored time: see utc_text


def _pad_years_sql() -> str:
    """SQL that zero-pads the year of every stored time shorter than :data:`_TIME_WIDTH`."""
    return ";".join(
        f"UPDATE {table} SET {column} = substr('000' || {column}, -{_TIME_WIDTH}) WHERE length({column}) < {_TIME_WIDTH}"
        for table, columns in _TIME_COLUMNS.items()
        for column in columns
    )


def _add_issue_identity(db: sqlite3.Connection) -> None:
    """Version 5: each issue link keeps the repository it was filed in, by GitHub's numeric id and the API's host
    (NULL in links recorded before: those are trusted as they were). Guarded: a column already there is kept."""
    present = {row[1] for row in db.execute("PRAGMA table_info(issues)")}
    for column, kind in (("repo_id", "INTEGER"), ("api_host", "TEXT")):
        if column not in present:
            db.execute(f"ALTER TABLE issues ADD COLUMN {column} {kind}")


_MIGRATIONS: dict[int, Union[str, Callable[[sqlite3.Connection], None]]] = {
    # version reached → SQL that gets there from the previous version
    1: """
    CREATE TABLE scans (
        id INTEGER PRIMARY KEY,
        scanned_at TEXT NOT NULL,
        window_from TEXT,
        window_until TEXT,
        sources TEXT NOT NULL,
        entries_read INTEGER NOT NULL,
        entries_skipped INTEGER NOT NULL,
        entries_in_window INTEGER NOT NULL,
        truncated INTEGER NOT NULL,
        result TEXT NOT NULL
    );
    CREATE INDEX scans_by_time ON scans (scanned_at);
    CREATE TABLE scan_clusters (
        scan_id INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
        fingerprint TEXT NOT NULL,
        rule_id TEXT,
        priority TEXT,
        severity TEXT NOT NULL,
        title TEXT NOT NULL,
        count INTEGER NOT NULL,
        first_seen TEXT,
        last_seen TEXT
    );
    CREATE INDEX scan_clusters_by_scan ON scan_clusters (scan_id);
    CREATE INDEX scan_clusters_by_fingerprint ON scan_clusters (fingerprint, scan_id);
    CREATE TABLE issues (
        fingerprint TEXT NOT NULL,
        repo TEXT NOT NULL,
        number INTEGER NOT NULL,
        url TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('open', 'closed')),
        updated_at TEXT NOT NULL,
        PRIMARY KEY (fingerprint, repo)
    );
    """,
    2: "ALTER TABLE issues ADD COLUMN closed_at TEXT",  # when GitHub says the issue was closed
    3: _pad_years_sql(),  # years below 1000 were once stored unpadded ('1-01-01T…'), unreadable and missorted
    # a scan's scope, to tell which earlier scans could have seen a cluster (history.annotate); read back once
    # from the stored results that hold it (results stored before they kept services and min_severity, or damaged
    # ones, keep the defaults: every service, the WARNING floor)
    4: """
    ALTER TABLE scans ADD COLUMN services TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE scans ADD COLUMN min_severity TEXT NOT NULL DEFAULT 'WARNING';
    ALTER TABLE scans ADD COLUMN project TEXT;
    UPDATE scans SET services = coalesce(json_extract(result, '$.services'), '[]'),
        min_severity = coalesce(json_extract(result, '$.min_severity'), 'WARNING'),
        project = json_extract(result, '$.project')
    WHERE json_valid(result)
    """,
    5: _add_issue_identity,
    # no table changes: stored results now hold what a triage of schema 5 cannot read (each occurrence's stream,
    # each sample's severity), so that one refuses the store with a clear error instead of failing on its scans
    6: "",
    7: "",  # no table changes: stored occurrences now hold their source and their order there too
    8: "",  # no table changes: stored occurrences now hold their entry's severity (only those at ERROR+ precede)
}


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "triage"


def state_path(state_dir: Path | None = None) -> Path:
    """The database file inside ``state_dir`` (default: :func:`default_state_dir`)."""
    return (state_dir or default_state_dir()) / DB_NAME


def utc_text(ts: datetime | None) -> str | None:
    """Fixed-width UTC text, 4-digit year and microseconds (sorts like the times it stands for)."""
    return None if ts is None else ts.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class ScanInfo:
    scan_id: int
    scanned_at: datetime
    window: Window
    services: tuple[str, ...] = ()  # its --service filter (empty: every service)
    min_severity: Severity = Severity.WARNING
    project: str | None = None  # the one project it read (its entries', or its gcp:PROJECT source's), if one
    live: bool = False  # it read Cloud Logging (its window ran up to its scan time), not only files
    truncated: bool = False  # it kept only part of what its window held (--max-entries)


@dataclass(frozen=True, slots=True)
class ClusterRow:
    """One cluster in one stored scan (the unit of history)."""

    scan_id: int
    scanned_at: datetime
    window: Window
    fingerprint: str
    rule_id: str | None
    priority: str | None
    severity: str
    title: str
    count: int
    first_seen: datetime | None
    last_seen: datetime | None


@dataclass(frozen=True, slots=True)
class LinkedIssue:
    fingerprint: str
    repo: str
    number: int
    url: str
    state: str  # open | closed
    updated_at: datetime
    closed_at: datetime | None = None  # as GitHub reported it, when closed
    repo_id: int | None = None  # GitHub's numeric id of the repository it was filed in (None: recorded before kept)
    api_host: str | None = None  # the GitHub API's host[:port] it was filed through (None: recorded before kept)


class StateStore:
    """The SQLite store. Use as a context manager, or call :meth:`open` and :meth:`close`."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None

    @classmethod
    def in_dir(cls, state_dir: Path | None = None) -> "StateStore":
        return cls(state_path(state_dir))

    @classmethod
    def recorded(cls, state_dir: Path | None = None) -> "StateStore":
        """The store in ``state_dir`` for a command that works on recorded scans: a one-line error when there is
        none (a mistyped --state-dir creates nothing)."""
        path = state_path(state_dir)
        if not path.exists():
            _check_folder(path.parent)  # a file where the folder should be: say so, not "run triage scan first"
            raise TriageError(f"no scan recorded in {path.parent}", hint="run `triage scan` first (without --no-state)")
        return cls(path)

    def __enter__(self) -> "StateStore":
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> "StateStore":
        _check_folder(self.path.parent)
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            try:
                os.chmod(self.path, 0o600)  # log text, even redacted: private even in a shared --state-dir
            except PermissionError:  # someone else's store, readable to this user: its mode is its owner's
                pass
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
            except sqlite3.OperationalError:  # a read-only store: read in the mode it has
                pass
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except (OSError, sqlite3.Error) as err:
            self.close()
            raise TriageError(f"cannot open the state store {self.path}: {err}") from None
        except TriageError:
            self.close()
            raise
        return self

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("StateStore is not open")
        return self._db

    def _migrate(self) -> None:
        if self._version() == SCHEMA_VERSION:
            return
        with self._transaction():  # re-read under the write lock: another process may have migrated meanwhile
            version = self._version()
            if version > SCHEMA_VERSION:
                raise TriageError(
                    f"the state store {self.path} has schema {version}, newer than this triage ({SCHEMA_VERSION}):"
                    " upgrade triage or use another --state-dir"
                )
            for target in range(version + 1, SCHEMA_VERSION + 1):
                step = _MIGRATIONS[target]
                if callable(step):
                    step(self.db)
                else:
                    for statement in step.split(";"):
                        if statement.strip():
                            self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version={target}")

    def _version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def _transaction(self) -> "_Transaction":
        return _Transaction(self.db)

    # --- scans --------------------------------------------------------------------------------------------

    def record_scan(self, result: ScanResult) -> int:
        """Store one scan (and its clusters' history rows), its clusters redacted; return its id."""
        result = replace(result, clusters=tuple(redact_cluster(c) for c in result.clusters))
        scanned_at = result.scanned_at or datetime.now(timezone.utc)
        payload = json.dumps(scan_result_to_dict(result), ensure_ascii=False, default=str, separators=(",", ":"))
        with self._transaction():
            cursor = self.db.execute(
                "INSERT INTO scans (scanned_at, window_from, window_until, sources, entries_read, entries_skipped,"
                " entries_in_window, truncated, result, services, min_severity, project)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    utc_text(scanned_at), utc_text(result.window.start), utc_text(result.window.end),
                    json.dumps(list(result.sources)), result.entries_read, result.entries_skipped,
                    result.entries_in_window, int(result.truncated), payload, json.dumps(list(result.services)),
                    result.min_severity.name, result.project,
                ),
            )
            scan_id = cursor.lastrowid
            self.db.executemany(
                "INSERT INTO scan_clusters (scan_id, fingerprint, rule_id, priority, severity, title, count,"
                " first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (scan_id, c.fingerprint, c.rule_id, c.priority, c.severity.name, c.title, c.count,
                     utc_text(c.first_seen), utc_text(c.last_seen))
                    for c in result.clusters
                ],
            )
        return scan_id

    def latest_scan(self) -> tuple[int, ScanResult] | None:
        """The most recent scan (by time recorded) with its id, or None when nothing was recorded."""
        row = self.db.execute("SELECT id, result FROM scans ORDER BY scanned_at DESC, id DESC LIMIT 1").fetchone()
        return None if row is None else (row[0], self._decode(row[0], row[1]))

    def _decode(self, scan_id: int, payload: str) -> ScanResult:
        try:
            return scan_result_from_dict(json.loads(payload))
        except (ValueError, KeyError, TypeError) as err:
            raise TriageError(f"scan {scan_id} in the state store {self.path} is unreadable ({err!r})") from None

    def scans(self, since: datetime | None = None) -> list[ScanInfo]:
        """Stored scans, oldest first, recorded at or after ``since``."""
        rows = self.db.execute(
            "SELECT id, scanned_at, window_from, window_until, services, min_severity, project, sources, truncated FROM scans"
            " WHERE scanned_at >= ? ORDER BY scanned_at, id",
            (utc_text(since) or "",),
        )
        return [
            ScanInfo(r[0], time_from_text(r[1]), Window(time_from_text(r[2]), time_from_text(r[3])),
                     tuple(json.loads(r[4])), Severity[r[5]], r[6], any(map(is_live, json.loads(r[7]))), bool(r[8]))
            for r in rows
        ]

    def cluster_history(self, fingerprint_prefix: str | None = None, since: datetime | None = None) -> list[ClusterRow]:
        """History rows, oldest scan first; ``fingerprint_prefix`` narrows to fingerprints starting with it."""
        rows = self.db.execute(
            "SELECT s.id, s.scanned_at, s.window_from, s.window_until, c.fingerprint, c.rule_id, c.priority,"
            " c.severity, c.title, c.count, c.first_seen, c.last_seen"
            " FROM scan_clusters c JOIN scans s ON s.id = c.scan_id"
            " WHERE s.scanned_at >= ? AND substr(c.fingerprint, 1, ?) = ?"
            " ORDER BY s.scanned_at, s.id, c.fingerprint",
            (utc_text(since) or "", len(fingerprint_prefix or ""), fingerprint_prefix or ""),
        )
        return [
            ClusterRow(r[0], time_from_text(r[1]), Window(time_from_text(r[2]), time_from_text(r[3])), r[4], r[5], r[6], r[7], r[8], r[9],
                       time_from_text(r[10]), time_from_text(r[11]))
            for r in rows
        ]

    def prune(self, older_than: timedelta, now: datetime | None = None) -> int:
        """Delete scans recorded more than ``older_than`` ago (issues are kept); return how many."""
        cutoff = utc_text((now or datetime.now(timezone.utc)) - older_than)
        with self._transaction():
            return self.db.execute("DELETE FROM scans WHERE scanned_at < ?", (cutoff,)).rowcount

    # --- issues -------------------------------------------------------------------------------------------

    def link_issue(
        self, fingerprint: str, repo: str, number: int, url: str, state: str, closed_at: datetime | None = None,
        *, repo_id: int | None = None, api_host: str | None = None,
    ) -> None:
        """Record (or update) the GitHub issue that tracks ``fingerprint`` in ``repo`` (GitHub's repository
        ``repo_id``, reached through the API at ``api_host``)."""
        if state not in ISSUE_STATES:
            raise ValueError(f"issue state must be open or closed, not {state!r}")
        with self._transaction():
            self.db.execute(
                "INSERT INTO issues (fingerprint, repo, number, url, state, updated_at, closed_at, repo_id, api_host)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (fingerprint, repo) DO UPDATE SET number = excluded.number, url = excluded.url,"
                " state = excluded.state, updated_at = excluded.updated_at, closed_at = excluded.closed_at,"
                " repo_id = excluded.repo_id, api_host = excluded.api_host",
                (fingerprint, repo, number, url, state, utc_text(datetime.now(timezone.utc)), utc_text(closed_at),
                 repo_id, api_host),
            )

    def linked_issue(self, fingerprint: str, repo: str | None = None) -> LinkedIssue | None:
        """The issue linked to ``fingerprint`` (in ``repo``, whose name GitHub reads in any case, or the most recently
        updated one)."""
        row = self.db.execute(
            "SELECT fingerprint, repo, number, url, state, updated_at, closed_at, repo_id, api_host FROM issues"
            " WHERE fingerprint = ? AND (? IS NULL OR repo = ? COLLATE NOCASE) ORDER BY updated_at DESC LIMIT 1",
            (fingerprint, repo, repo),
        ).fetchone()
        if row is None:
            return None
        return LinkedIssue(row[0], row[1], row[2], row[3], row[4], time_from_text(row[5]), time_from_text(row[6]),
                           row[7], row[8])


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (or ``ROLLBACK`` on error) on an autocommit connection."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self) -> None:
        if not self.db.in_transaction:
            self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if not self.db.in_transaction:
            return
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")


def _check_folder(folder: Path) -> None:
    """A one-line error when the state store's folder (or a folder above it) is something other than a folder."""
    for above in (folder, *folder.parents):
        if above.exists() or above.is_symlink():
            if not above.is_dir():
                raise TriageError(f"{folder} cannot be the state folder: {above} is not a directory")
            return


def require_latest(store: StateStore) -> tuple[int, ScanResult]:
    """The last recorded scan and its id; a one-line error when there is none."""
    latest = store.latest_scan()
    if latest is None:
        raise TriageError(f"no scan recorded in {store.path.parent}", hint="run `triage scan` first (without --no-state)")
    return latest
