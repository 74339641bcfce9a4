import os
import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

import triage.cli.draft_cmd  # noqa: F401 - registers `draft`
import triage.cli.scan_cmd  # noqa: F401 - registers `scan`
import triage.cli.worklog_cmd  # noqa: F401 - registers `worklog`
import triage.cli.history_cmd  # noqa: F401 - registers `history`
import triage.cli.issue_cmd  # noqa: F401 - registers `issue`
from triage.cli import app
from triage.drafts import parse_marker, render_worklog_section
from triage.errors import TriageError
from triage.model import Severity
from triage.state import StateStore
from triage.worklog import append_section, create_new
from cluster_factory import T0, rule_cluster, scan_result, unmatched_cluster

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "sample.ndjson"
NOW = datetime(2026, 3, 14, 12, 30, tzinfo=timezone(timedelta(hours=1)))
runner = CliRunner()


def test_section_lists_window_counts_and_clusters():
    section = render_worklog_section(scan_result(), NOW, drafts={"a1b2c3d4e5f60718293a": "drafts/a1b2c3d4e5f60718293a.md"})
    assert section.startswith("\n## 2026-03-14 11:30 UTC (2026-03-14 12:30 UTC+01:00)\n")
    assert "- Scan: 2026-03-14T11:01:00Z\n- Window: 2026-03-14T09:00:00Z → 2026-03-14T11:00:00Z\n" in section
    assert "- Entries: 1500 read, 2 skipped, 1400 in window → 2 clusters\n" in section
    assert "| `a1b2c3d4e5` | P0 | 12 | [Redis host name does not resolve (host=cache.internal, port=6379)](drafts/a1b2c3d4e5f60718293a.md) |" in section
    assert "| `ffee001122` | P3* | 4 | Invoice &lt;NUM&gt;" in section


def test_section_names_a_scope_other_than_the_default():
    assert "Scope" not in render_worklog_section(scan_result(), NOW)
    scoped = replace(scan_result(), services=("api",), min_severity=Severity.ERROR)
    assert "→ 2 clusters\n- Scope: only service api · severity floor ERROR\n" in render_worklog_section(scoped, NOW)
    one = replace(scoped, clusters=scoped.clusters[:1], services=("*api*",))
    assert "→ 1 cluster\n- Scope: only service \\*api\\* · severity floor ERROR\n" in render_worklog_section(one, NOW)


def test_section_min_priority_counts_what_it_leaves_out():
    section = render_worklog_section(scan_result(), NOW, floor="P1")
    assert "ffee001122" not in section
    assert section.endswith("1 more cluster below P1 not listed.\n")


@pytest.mark.parametrize(
    "old",
    [
        "# Journal de garde — équipe ☕\n\nnotes…\n".encode(),
        b"# Log\n\nno trailing newline",
        b"# Log\r\n\r\nwindows line endings\r\n",
        b"",
    ],
)
def test_append_keeps_existing_bytes_exactly(tmp_path, old):
    path = tmp_path / "WORKLOG.md"
    path.write_bytes(old)
    append_section(path, "\n## section ünïcode\n\n- item\n", "# Worklog\n")
    new = path.read_bytes()
    assert new.startswith(old)
    added = new[len(old):]
    if b"\r\n" in old:
        assert added == "\r\n## section ünïcode\r\n\r\n- item\r\n".encode()
    elif old and not old.endswith(b"\n"):
        assert added == "\n\n## section ünïcode\n\n- item\n".encode()
    elif not old:  # an empty file gets the heading, like a missing one
        assert added == "# Worklog\n\n## section ünïcode\n\n- item\n".encode()
    else:
        assert added == "\n## section ünïcode\n\n- item\n".encode()
    assert [p.name for p in tmp_path.iterdir()] == ["WORKLOG.md"]  # nothing left beside it


def test_append_through_a_symlink_keeps_the_link(tmp_path):
    (tmp_path / "shared").mkdir()
    real = tmp_path / "shared" / "WORKLOG.md"
    real.write_bytes(b"# Team log\n")
    link = tmp_path / "WORKLOG.md"
    link.symlink_to(real)
    append_section(link, "\n## s\n", "# Worklog\n")
    assert link.is_symlink()
    assert real.read_bytes() == b"# Team log\n\n## s\n"


def test_append_keeps_the_file_itself_so_a_hard_link_sees_the_section(tmp_path):
    path, other = tmp_path / "WORKLOG.md", tmp_path / "team.md"
    path.write_bytes(b"# Team log\n")
    os.link(path, other)
    append_section(path, "## s\n", "# Worklog\n")
    assert other.read_bytes() == path.read_bytes() == b"# Team log\n## s\n"


def _append_many(path: str, runs: int) -> None:
    for run in range(runs):
        append_section(Path(path), f"## {os.getpid()} {run}\n" + "- line\n" * 200, "# Worklog\n")


def test_runs_at_the_same_time_each_add_their_section(tmp_path):
    import multiprocessing

    path = tmp_path / "WORKLOG.md"
    path.write_text("# Worklog\n")
    workers = [multiprocessing.get_context("fork").Process(target=_append_many, args=(str(path), 25)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    text = path.read_text()
    assert text.count("## ") == 100
    assert re.fullmatch(r"# Worklog\n(## \d+ \d+\n(- line\n){200})+", text)  # whole sections, none interleaved


@pytest.mark.parametrize("make", ["fifo", "directory"])
def test_append_refuses_what_is_not_a_regular_file(tmp_path, make):
    path = tmp_path / "WORKLOG.md"
    os.mkfifo(path) if make == "fifo" else path.mkdir()
    with pytest.raises(TriageError, match=r"is not a regular file|cannot open"):
        append_section(path, "## s\n", "# Worklog\n")  # a FIFO without a reader must not block either


@pytest.mark.parametrize("old", ["# Log\nnotes\n".encode("utf-16"), "# Journal\nété\n".encode("latin-1")])
def test_append_refuses_a_worklog_that_is_not_utf8(tmp_path, old):
    path = tmp_path / "WORKLOG.md"
    path.write_bytes(old)
    with pytest.raises(TriageError, match="is not UTF-8 text: not appending to it"):
        append_section(path, "## s → x\n", "# Worklog\n")
    assert path.read_bytes() == old


def test_a_write_that_fails_part_way_leaves_the_file_as_it_was(tmp_path, monkeypatch):
    path = tmp_path / "WORKLOG.md"
    path.write_bytes(b"# Worklog\n")
    real_write, calls = os.write, []

    def write_then_fail(fd, data):
        calls.append(len(data))
        if len(calls) > 1:
            raise OSError(28, "No space left on device")
        return real_write(fd, bytes(data[:5]))

    monkeypatch.setattr(os, "write", write_then_fail)
    with pytest.raises(TriageError, match="cannot write .*No space left on device"):
        append_section(path, "## a long section\n", "# Worklog\n")
    with pytest.raises(TriageError, match="cannot write .*No space left on device"):
        append_section(tmp_path / "NEW.md", "## a long section\n", "# Worklog\n")
    monkeypatch.undo()
    assert path.read_bytes() == b"# Worklog\n"
    assert not (tmp_path / "NEW.md").exists()  # a file it created is not left behind, empty


def test_a_failed_write_keeps_what_another_run_wrote_after_this_one_found_the_file_missing(tmp_path, monkeypatch):
    import triage.worklog

    path = tmp_path / "WORKLOG.md"
    real_open_locked = triage.worklog._open_locked

    def another_run_comes_first(target):
        Path(target).write_text("# Worklog\n## theirs\n")  # between this run's look at the path and its lock
        monkeypatch.setattr(os, "write", _no_space)
        return real_open_locked(target)  # not reopened: the file it found was another run's

    monkeypatch.setattr(triage.worklog, "_open_locked", another_run_comes_first)
    with pytest.raises(TriageError, match="cannot write .*No space left on device"):
        append_section(path, "## ours\n", "# Worklog\n")
    monkeypatch.undo()
    assert path.read_text() == "# Worklog\n## theirs\n"


def _no_space(fd, data):
    raise OSError(28, "No space left on device")


def test_a_run_waiting_for_the_lock_of_a_file_another_run_removed_writes_to_the_path_again(tmp_path):
    import fcntl
    import threading
    import time

    path = tmp_path / "WORKLOG.md"
    path.write_text("")
    holder = os.open(path, os.O_RDWR)
    fcntl.flock(holder, fcntl.LOCK_EX)  # a first run that will fail to write and remove the file it created
    waiter = threading.Thread(target=append_section, args=(path, "## waiter\n", "# Worklog\n"))
    waiter.start()
    time.sleep(0.3)  # the waiter opens the file and waits for its lock
    os.unlink(path)
    os.close(holder)
    waiter.join()
    assert path.read_text() == "# Worklog\n## waiter\n"


def test_a_run_that_opened_the_path_again_and_fails_to_write_leaves_no_empty_file(tmp_path, monkeypatch):
    import triage.worklog

    path = tmp_path / "WORKLOG.md"
    path.write_text("")  # as a first run that failed left it, before it removed it
    real_open_locked = triage.worklog._open_locked

    def removed_while_waiting(target):
        fd, _ = real_open_locked(target)
        os.unlink(target)
        os.close(fd)
        monkeypatch.setattr(os, "write", _no_space)
        return real_open_locked(target)[0], True

    monkeypatch.setattr(triage.worklog, "_open_locked", removed_while_waiting)
    with pytest.raises(TriageError, match="cannot write .*No space left on device"):
        append_section(path, "## ours\n", "# Worklog\n")
    monkeypatch.undo()
    assert not path.exists()


def test_append_creates_a_missing_file_with_a_heading(tmp_path):
    path = tmp_path / "WORKLOG.md"
    append_section(path, "\n## s\n", "# Worklog\n\nStarted.\n")
    assert path.read_text(encoding="utf-8") == "# Worklog\n\nStarted.\n\n## s\n"


def test_new_refuses_to_overwrite(tmp_path):
    path = tmp_path / "WORKLOG.md"
    create_new(path, "# A\n")
    with pytest.raises(TriageError, match="already exists"):
        create_new(path, "# B\n")
    assert path.read_text() == "# A\n"


# --- CLI -------------------------------------------------------------------------------------------------


@pytest.fixture
def state(tmp_path):
    folder = tmp_path / "state"
    with StateStore.in_dir(folder) as store:
        store.record_scan(scan_result(scanned_at=T0))
    return folder


def test_cli_draft_to_stdout_by_prefix(state):
    result = runner.invoke(app, ["draft", "a1b2", "--state-dir", str(state), "--project", "acme-prod"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("# GCP-new | P0 | Redis host name does not resolve")
    assert "?project=acme-prod" in result.stdout
    assert parse_marker(result.stdout)["fingerprint"] == "a1b2c3d4e5f60718293a"


def test_cli_draft_all_to_folder(state, tmp_path):
    out = tmp_path / "drafts"
    result = runner.invoke(app, ["draft", "--all", "--out", str(out), "--state-dir", str(state)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["a1b2c3d4e5f60718293a.md", "ffee00112233445566aa.md", "index.md"]
    assert "(a1b2c3d4e5f60718293a.md)" in (out / "index.md").read_text(encoding="utf-8")


def test_cli_draft_min_priority_filters(state, tmp_path):
    out = tmp_path / "drafts"
    result = runner.invoke(app, ["draft", "--min-priority", "p1", "--out", str(out), "--state-dir", str(state)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["a1b2c3d4e5f60718293a.md", "index.md"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["draft"], "Error: no cluster selected"),
        (["draft", "zz"], "Error: no cluster of the last scan has a fingerprint starting with 'zz'"),
        (["draft", "--all", "--min-priority", "P9"], "Error: unknown --min-priority 'P9'"),
    ],
)
def test_cli_draft_errors_are_one_line(state, args, message):
    result = runner.invoke(app, [*args, "--state-dir", str(state)])
    assert result.exit_code == 2
    assert result.stderr.startswith(message)
    assert "Traceback" not in result.output


def test_cli_draft_of_a_truncated_scan_says_so(tmp_path):
    with StateStore.in_dir(tmp_path) as store:
        store.record_scan(replace(scan_result(scanned_at=T0), truncated=True))
    result = runner.invoke(app, ["draft", "--all", "--state-dir", str(tmp_path)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count("these counts are lower bounds") == result.stdout.count("## Evidence") > 0


@pytest.mark.parametrize(
    "command", [["draft", "--all"], ["worklog", "attach", "WORKLOG.md"], ["history"], ["issue", "file", "--repo", "o/r", "--all"]]
)
def test_cli_readers_without_any_scan_create_nothing(tmp_path, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GH_TOKEN", "ghp_notused")
    result = runner.invoke(app, [*command, "--state-dir", str(tmp_path / "mistyped")])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: no scan recorded in {tmp_path / 'mistyped'}")
    assert not (tmp_path / "mistyped").exists()


def test_cli_readers_of_a_store_without_its_tables_give_one_line(tmp_path):
    import sqlite3

    from triage.state import SCHEMA_VERSION

    (tmp_path / "state").mkdir()
    db = sqlite3.connect(tmp_path / "state" / "state.db")
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    db.close()
    for command in (["draft", "--all"], ["history"], ["worklog", "attach", str(tmp_path / "W.md")]):
        result = runner.invoke(app, [*command, "--state-dir", str(tmp_path / "state")])
        assert result.exit_code == 2, (command, result.stderr)
        assert result.stderr.startswith("Error: the state store cannot be read: no such table: ")


def test_cli_worklog_new_then_attach_with_draft_links(state, tmp_path):
    worklog = tmp_path / "WORKLOG.md"
    assert runner.invoke(app, ["worklog", "new", str(worklog), "--title", "On-call week 11"]).exit_code == 0
    before = worklog.read_bytes()
    assert before.startswith(b"# On-call week 11\n")
    again = runner.invoke(app, ["worklog", "new", str(worklog)])
    assert again.exit_code == 2 and "already exists" in again.stderr
    drafts = tmp_path / "drafts"
    assert runner.invoke(app, ["draft", "--all", "--out", str(drafts), "--state-dir", str(state)]).exit_code == 0
    result = runner.invoke(app, ["worklog", "attach", str(worklog), "--drafts", str(drafts), "--state-dir", str(state)])
    assert result.exit_code == 0, result.output
    after = worklog.read_bytes()
    assert after.startswith(before)
    text = after.decode()
    assert re.search(r"^## \d{4}-\d\d-\d\d \d\d:\d\d UTC \(", text, re.M)
    assert "](drafts/a1b2c3d4e5f60718293a.md) |" in text


def test_cli_worklog_attach_does_not_link_drafts_of_another_scan(state, tmp_path):
    drafts, worklog = tmp_path / "drafts", tmp_path / "W.md"
    assert runner.invoke(app, ["draft", "--all", "--out", str(drafts), "--state-dir", str(state)]).exit_code == 0
    redis, other = rule_cluster(), unmatched_cluster()
    with StateStore.in_dir(state) as store:  # an hour later: the Redis failure happened twice more
        store.record_scan(scan_result(replace(redis, count=redis.count + 2), other, scanned_at=T0 + timedelta(hours=3)))
    result = runner.invoke(app, ["worklog", "attach", str(worklog), "--drafts", str(drafts), "--state-dir", str(state)])
    assert result.exit_code == 0, result.output
    text = worklog.read_text()
    assert f"](drafts/{other.fingerprint}.md) |" in text and f"drafts/{redis.fingerprint}.md" not in text
    assert result.stderr.startswith(
        f"Note: 1 draft(s) in {drafts} are of another scan (their counts or times differ): not linked; draft them again"
        f" (`triage draft --all --out {drafts} --state-dir {state}`) to link them\n")


def test_cli_scan_records_unless_no_state(tmp_path):
    if not FIXTURE.exists():
        pytest.skip("fixture missing")
    state_dir = tmp_path / "state"
    skipped = runner.invoke(app, ["scan", "-s", str(FIXTURE), "--no-state", "--state-dir", str(state_dir), "-f", "json"])
    assert skipped.exit_code == 0, skipped.output
    assert not state_dir.exists()
    recorded = runner.invoke(app, ["scan", "-s", str(FIXTURE), "--state-dir", str(state_dir), "-f", "json"])
    assert recorded.exit_code == 0, recorded.output
    with StateStore.in_dir(state_dir) as store:
        assert len(store.latest_scan()[1].clusters) > 0


def test_cli_scan_warns_when_it_cannot_record(tmp_path):
    if not FIXTURE.exists():
        pytest.skip("fixture missing")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = runner.invoke(app, ["scan", "-s", str(FIXTURE), "--state-dir", str(blocker / "sub"), "-f", "json"])
    assert result.exit_code == 0
    assert result.stderr.startswith(
        f"Warning: scan not recorded: {blocker / 'sub'} cannot be the state folder: {blocker} is not a directory\n")
    for command in (["draft", "--all"], ["history"], ["worklog", "attach", str(tmp_path / "W.md")]):
        for folder in (blocker, blocker / "sub"):  # not "no scan recorded … run `triage scan` first"
            result = runner.invoke(app, [*command, "--state-dir", str(folder)])
            assert (result.exit_code, result.stderr) == (
                2, f"Error: {folder} cannot be the state folder: {blocker} is not a directory\n"), command


def test_new_worklog_gets_the_usual_mode_and_an_empty_one_its_heading(tmp_path):
    from triage.worklog import append_section

    fresh, empty = tmp_path / "fresh.md", tmp_path / "empty.md"
    empty.write_bytes(b"")
    for path in (fresh, empty):
        append_section(path, "## section\n", "# Worklog\n")
        assert path.read_text() == "# Worklog\n## section\n"
    umask = os.umask(0)
    os.umask(umask)
    assert fresh.stat().st_mode & 0o777 == 0o666 & ~umask


def test_state_store_file_is_private(tmp_path):
    from triage.state import StateStore

    with StateStore.in_dir(tmp_path) as store:
        assert store.path.stat().st_mode & 0o777 == 0o600
