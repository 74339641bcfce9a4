"""A large NDJSON file or JSON array read on two cores (triage.split) gives what one pass gives, or is read in one
pass; the child never outlives the scan nor writes to the terminal."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from conftest import FIXTURES, ROOT, SHARED, load_generator
from triage import split
from triage.rules import load_rules
from triage.scan import Pass, ScanOptions, scan
from triage.sources import jsonstream, open_source
from triage.sources.files import cut_in_two

gen = load_generator()
START = datetime(2026, 11, 28, 1, 0, tzinfo=timezone.utc)
STDERR = "projects/acme/logs/run.googleapis.com%2Fstderr"


def _spy_on_takes(monkeypatch) -> list:
    """The findings taken from a child, as they are taken."""
    found: list = []
    take = Pass.take

    def spy(self, findings):
        found.append(findings)
        take(self, findings)

    monkeypatch.setattr(Pass, "take", spy)
    return found


@pytest.fixture
def taken(monkeypatch) -> list:
    """Split every file, however small, on a machine of any number of cores; the findings taken from a child."""
    monkeypatch.setattr(split, "MIN_BYTES", 0)
    monkeypatch.setattr(split, "_cores", lambda: 2.0)
    return _spy_on_takes(monkeypatch)


def _scan(path, *, split_files: bool, rules=None):
    result = scan(ScanOptions((str(path),)), rules or load_rules(), open_source, split_files=split_files)
    return replace(result, scanned_at=None)


def _write(path, entries) -> None:
    path.write_bytes(_export(entries, "ndjson"))


def _entry(seconds: float | None, instance: str | None, text: str, severity: str | None = "INFO", revision: str = "") -> dict:
    resource = {"service_name": "api"} | ({"revision_name": revision} if revision else {})
    entry = {"logName": STDERR, "textPayload": text, "resource": {"type": "cloud_run_revision", "labels": resource}}
    if instance is not None:
        entry["labels"] = {"instanceId": instance}
    if seconds is not None:
        entry["timestamp"] = (START + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")
    if severity is not None:
        entry["severity"] = severity
    return entry


BROKEN = {"ndjson": '{"severity": "ERROR", "textPayload": "cut sho',
          "array": '  {\n    "severity": "ERROR",\n    "textPayload": "cut sho\n  }'}


def _export(entries: list, layout: str) -> bytes:
    """``entries`` as NDJSON or as ``gcloud --format=json`` prints them; a string is written as it is."""
    if layout == "ndjson":
        return "".join((e if isinstance(e, str) else json.dumps(e)) + "\n" for e in entries).encode()
    items = [e if isinstance(e, str) else "  " + json.dumps(e, indent=2).replace("\n", "\n  ") for e in entries]
    return ("[\n" + ",\n".join(items) + "\n]\n").encode()


@pytest.mark.parametrize("layout", ["ndjson", "array"])
@pytest.mark.parametrize("descending", [True, False])
@pytest.mark.parametrize("warm_up", [4000, 32000, 500000])
def test_split_finds_what_one_pass_finds(tmp_path, taken, monkeypatch, layout, descending, warm_up):
    monkeypatch.setattr(split, "WARM_UP_BYTES", warm_up)
    monkeypatch.setattr(split, "SEARCH_ENTRIES", 1000)  # fewer than the child reads: the seam is sought near the cut
    entries: list = list(gen.generate(3000, seed=7, descending=descending))
    for at in (2900, 1700, 1):  # bad entries before and after the cut, counted once, the first ones shown in order
        entries.insert(at, BROKEN[layout])
    path = tmp_path / "big.json"
    path.write_bytes(_export(entries, layout))

    one_pass = _scan(path, split_files=False)
    assert _scan(path, split_files=True) == one_pass
    assert len(taken) == 1 and taken[0].counters.read > 500  # the child read its part
    assert one_pass.entries_skipped == 3 and taken[0].counters.skipped == (2 if warm_up < 100000 else 1)
    assert sum(c.count for c in one_pass.clusters) > 300


def test_a_file_given_twice_is_split_like_a_file_given_once(tmp_path, taken):
    path = tmp_path / "big.ndjson"
    path.write_bytes(_export(list(gen.generate(3000, seed=7)), "ndjson"))
    once = _scan(path, split_files=True)
    twice = replace(scan(ScanOptions((str(path), str(path))), load_rules(), open_source, split_files=True), scanned_at=None)
    assert len(taken) == 2  # both scans were split
    assert twice == replace(once, warnings=(f"--source {path} names the same file as {path}: read once", *once.warnings))


def test_a_split_file_has_the_direction_of_the_whole_file(tmp_path, taken, monkeypatch):
    """Which way a file runs (what orders occurrences stamped in the same second) is counted over both halves: a
    file that runs oldest first up to past its middle and newest first from there on, for longer, runs newest
    first, as one pass finds."""
    monkeypatch.setattr(split, "WARM_UP_BYTES", 4000)
    monkeypatch.setattr(split, "SEARCH_ENTRIES", 200)
    times = [*range(2200), *range(5000, 5000 - 2600, -1)]
    entries = [_entry(t, "i-1", f"request {t} handled") if t % 7 else _entry(t // 7, "i-1", "boom", "ERROR") for t in times]
    path = tmp_path / "turns.ndjson"
    _write(path, entries)
    one_pass = _scan(path, split_files=False)
    (boom,) = [c for c in one_pass.clusters if c.template == "boom"]
    assert boom.occurrences[0].order < 0  # newest first: orders run against positions
    assert _scan(path, split_files=True) == one_pass
    assert len(taken) == 1


def test_the_child_reads_on_into_arrays_appended_after_the_first(tmp_path, taken, monkeypatch):
    monkeypatch.setattr(split, "WARM_UP_BYTES", 32000)
    path = tmp_path / "twice.json"  # gcloud … >> twice.json, run twice
    path.write_bytes(_export(list(gen.generate(1500, seed=1)), "array") + _export(list(gen.generate(400, seed=2)), "array"))
    halves = _scan(path, split_files=True)
    assert halves == _scan(path, split_files=False) and halves.entries_read == 1900
    assert len(taken) == 1


def _export_files() -> list:
    files = [FIXTURES / "sample.ndjson", FIXTURES / "sample.json"]
    if SHARED.is_dir():
        files += sorted((SHARED / "netra" / "dev").glob("*.json"))
    return files


@pytest.mark.parametrize("layout", ["as is", "ndjson"])
@pytest.mark.parametrize("source", _export_files(), ids=lambda p: p.name)
def test_split_of_every_export_is_one_pass(tmp_path, taken, monkeypatch, source, layout):
    monkeypatch.setattr(split, "WARM_UP_BYTES", 1000)
    if layout == "as is":
        path = source
    else:
        data = source.read_bytes()
        entries = json.loads(data) if data.lstrip()[:1] == b"[" else [json.loads(line) for line in data.splitlines()]
        path = tmp_path / "export.ndjson"
        path.write_bytes(_export(entries, "ndjson"))
    assert _scan(path, split_files=True) == _scan(path, split_files=False)


@pytest.mark.parametrize("closed", [True, False])
def test_a_run_across_the_seam_means_one_pass(tmp_path, taken, monkeypatch, closed):
    # Instance a's errors carry no time, so their run stays open through b's chatter, past where the child starts
    # (closed: until a's next healthy line, some way past the seam; else to the end).
    monkeypatch.setattr(split, "WARM_UP_BYTES", 1500)
    path = tmp_path / "open.ndjson"
    chatter = [_entry(None, "b", f"request {i} served") for i in range(400)]
    if closed:
        chatter.insert(150, _entry(None, "a", "lease renewed"))
    _write(path, [_entry(None, "a", f"worker {i} lost its lease", "ERROR") for i in range(200)] + chatter)
    assert 200 < path.read_bytes()[: cut_in_two(str(path), 0).offset].count(b"\n") < 340  # the child starts in b's chatter
    assert _scan(path, split_files=True) == _scan(path, split_files=False)
    assert taken == []


def test_a_tie_the_child_breaks_otherwise_means_one_pass(tmp_path, taken, monkeypatch):
    # Two frames of one time: their order is the stream's direction. Before the cut the stream descends; the
    # child sees only ascending steps, so it would order them the other way.
    monkeypatch.setattr(split, "WARM_UP_BYTES", 1500)
    path = tmp_path / "tie.ndjson"
    tail = [_entry(2000 + i, "a", f"request {i} served") for i in range(600)]
    tail[40:40] = [_entry(2039.5, "b", '  File "/app/one.py", line 1, in f', None),
                   _entry(2039.5, "b", '  File "/app/two.py", line 2, in g', None)]
    _write(path, [_entry(1000 - i, "a", f"request {i} served") for i in range(600)] + tail)

    one_pass = _scan(path, split_files=False)
    assert _scan(path, split_files=True) == one_pass
    assert taken == []
    (cluster,) = one_pass.clusters
    assert cluster.samples[0].message.startswith('  File "/app/two.py"')  # newest first: reversed


def test_events_alike_but_for_their_revision_keep_their_order(tmp_path, taken, monkeypatch):
    # Merging the child's findings re-adds its samples: what is kept must not depend on the order of arrival.
    monkeypatch.setattr(split, "WARM_UP_BYTES", 2000)
    entries = [_entry(i, None, f"request {i} served") for i in range(400)]
    entries[380:380] = [_entry(379.5, None, "payment backend unavailable", "ERROR", revision=f"api-0000{n}") for n in (1, 2)]
    path = tmp_path / "tie.ndjson"
    _write(path, entries)
    one_pass = _scan(path, split_files=False)
    assert _scan(path, split_files=True) == one_pass and len(taken) == 1
    assert [s.revision for s in one_pass.clusters[0].samples] == ["api-00002", "api-00001"]


@pytest.mark.parametrize("joint", ["\n]\n[", "][", "\n ]\n [", "\n  ] [", "]" + " " * 200 + "["])
def test_an_array_appended_before_the_cut_is_read_in_one_pass(tmp_path, taken, monkeypatch, joint):
    # The second array's first element is on one line: one pass reads that array as a compact one, which
    # resyncs after a broken element otherwise than the child (reading on with the first array's layout) would.
    monkeypatch.setattr(split, "WARM_UP_BYTES", 3000)
    pretty = [_export([_entry(i, "a", f"request {i} served")], "array")[2:-3].decode() for i in range(300)]
    pretty.insert(290, BROKEN["array"])
    first = _export([_entry(i, "a", f"request {i} served") for i in range(5)], "array").decode()[:-3]
    second = "\n  " + json.dumps(_entry(10, "a", "compact first element")) + ",\n" + ",\n".join(pretty) + "\n]\n"
    monkeypatch.setattr(split, "_COUNT_CHUNK", len(first) + 100)  # the last joint: blanks across a chunk's end
    path = tmp_path / "appended.json"
    path.write_text(first + joint + second)
    assert cut_in_two(str(path), 0).indent == "  "
    assert _scan(path, split_files=True) == _scan(path, split_files=False)
    assert taken == []


def test_elements_too_long_to_read_are_judged_alike_wherever_the_chunks_fall(tmp_path, taken, monkeypatch):
    # The parent's chunks start at the "[", the child's at the cut: an element that outgrows the limit is
    # judged on its first ELEMENT_MAX_CHARS characters only, so both read it alike.
    monkeypatch.setattr(split, "WARM_UP_BYTES", 3000)
    monkeypatch.setattr(jsonstream, "CHUNK_CHARS", 1000)
    monkeypatch.setattr(jsonstream, "ELEMENT_MAX_CHARS", 6000)
    head = [_entry(i, "a", f"request {i} served") for i in range(60)]
    giant = "  " + json.dumps(_entry(70, "a", "E" * 6200, "ERROR"))  # one line: no closing line within the limit
    tail = [_entry(71 + i, "a", f"after {i}", "ERROR") for i in range(3)]
    path = tmp_path / "giant.json"
    for pad in range(0, 1000, 37):  # every alignment of the chunks on the giant, for parent and child
        body = _export(head, "array").decode()[:-3] + ",\n" + "\n" * pad + giant + ",\n" + _export(tail, "array").decode()[2:]
        path.write_text(body)
        assert _scan(path, split_files=True) == _scan(path, split_files=False), pad
    assert len(taken) > 20


@pytest.mark.parametrize("chunk", [64, 1000, 4099])
def test_a_broken_element_is_read_alike_wherever_the_chunks_fall(tmp_path, monkeypatch, chunk):
    # An element closed by the wrong bracket ends with its first line, however far the line goes.
    entries = [_entry(i, "a", f"request {i} served") for i in range(40)]
    items = [_export([e], "array")[2:-3].decode() for e in entries]
    items.insert(20, "  [}" + "z" * 5000)
    path = tmp_path / "broken.json"
    path.write_text("[\n" + ",\n".join(items) + "\n]\n")

    def read():
        return [(type(item).__name__, item.location, getattr(item, "reason", None)) for item in split.read_file(str(path))]

    whole = read()
    monkeypatch.setattr(jsonstream, "CHUNK_CHARS", chunk)
    assert read() == whole
    assert sum(kind == "Record" for kind, _, _ in whole) == 40


def test_a_rule_timeout_met_in_the_warm_up_only_is_no_answer_after_the_seam(tmp_path, taken, monkeypatch):
    # The child's warm-up sees a traceback cut in two by the cut; its timed-out answer must not be remembered.
    monkeypatch.setattr(split, "WARM_UP_BYTES", 3000)
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    (rules_dir / "slow.yaml").write_text(textwrap.dedent("""\
        rules:
          - id: slow-frame
            title: A regex that backtracks without end on a headerless traceback
            priority: P2
            category: test
            match:
              regex: '^\\s+File[\\s\\S]*?(a|aa)+b'
        """))
    frame, exception = '  File "/app/x.py", line 3, in f', "ValueError: " + "a" * 40 + "!"

    def traceback_at(t, header=True):
        head = [_entry(t, "a", "Traceback (most recent call last):", None)] if header else []
        return head + [_entry(t + 0.01, "a", frame, None), _entry(t + 0.02, "a", exception, None)]

    base = [_entry(i, "a", f"request {i} served") for i in range(400)]
    base[380:380] = traceback_at(379.5, header=False)
    path = tmp_path / "timeout.ndjson"
    for at in range(150, 300):  # the header the last line before the cut, its frame the first after it
        _write(path, base[:at] + traceback_at(at - 0.5) + base[at:])
        if path.read_bytes()[: cut_in_two(str(path), 0).offset].count(b"\n") == at + 1:
            break
    rules = load_rules([rules_dir])
    one_pass = _scan(path, split_files=False, rules=rules)
    rules.forget()
    assert _scan(path, split_files=True, rules=rules) == one_pass and len(taken) == 1
    assert len(one_pass.warnings) == 1 and "timed out" in one_pass.warnings[0]


@pytest.mark.parametrize("export", ["errors only", "unreadable second half"])
def test_without_a_seam_near_the_cut_the_child_gives_up_soon(tmp_path, taken, monkeypatch, export):
    # Errors closer than the stitching gap keep some run pending; lines that are no JSON are no records at all.
    # Either way there is no seam.
    monkeypatch.setattr(split, "WARM_UP_BYTES", 8000)
    monkeypatch.setattr(split, "SEARCH_ENTRIES", 50)
    path = tmp_path / "errors.ndjson"
    if export == "errors only":
        _write(path, [_entry(i * 0.02, f"i{i % 10}", f"upstream connect error {i % 7}", "ERROR") for i in range(4000)])
    else:
        _write(path, list(gen.generate(2000, seed=4)))
        with path.open("a") as out:
            out.writelines('{"severity": "ERROR", "textPayload": "cut sho' + "o" * 700 + "\n" for _ in range(2000))
    read = tmp_path / "read"
    feed, parent = Pass.feed, os.getpid()

    def counting(self, records, stitcher, until=None):
        if os.getpid() == parent:
            return feed(self, records, stitcher, until)
        seen = []
        result = feed(self, (seen.append(1) or r for r in records), stitcher, until)
        read.write_text(str(len(seen)))
        return result

    monkeypatch.setattr(Pass, "feed", counting)
    assert _scan(path, split_files=True) == _scan(path, split_files=False) and taken == []
    assert int(read.read_text()) < 200  # of the 2000 past the cut


def test_short_lines_still_leave_the_child_a_seam_past_its_warm_up(tmp_path, taken, monkeypatch):
    monkeypatch.setattr(split, "WARM_UP_BYTES", 8000)  # about 150 of these lines: more than SEARCH_ENTRIES
    monkeypatch.setattr(split, "SEARCH_ENTRIES", 50)
    path = tmp_path / "short.ndjson"
    path.write_text("".join(f'{{"timestamp":"2026-11-28T01:{i // 600:02d}:{i // 10 % 60:02d}Z","textPayload":"ok {i}"}}\n'
                            for i in range(3000)))
    assert _scan(path, split_files=True) == _scan(path, split_files=False)
    assert len(taken) == 1  # the child's half was used, not read again by this process


_CHILD_SCRIPT = """
import json, os, sys
sys.path.insert(0, "tests")
from conftest import load_generator
from triage import split
from triage.scan import Pass, ScanOptions, scan
from triage.rules import load_rules
from triage.sources import open_source
path = sys.argv[1]
with open(path, "w") as f:
    for d in load_generator().generate(6000, seed=3):
        f.write(json.dumps(d) + "\\n")
split.MIN_BYTES, split.WARM_UP_BYTES = 0, 8000
split._cores = lambda: 2.0  # split on a machine of any number of cores
"""


def _run_script(tmp_path, body: str, **kwargs) -> subprocess.Popen:
    script = tmp_path / "script.py"
    script.write_text(_CHILD_SCRIPT + textwrap.dedent(body))
    return subprocess.Popen([sys.executable, str(script), str(tmp_path / "x.ndjson")], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_the_child_ends_with_a_killed_parent(tmp_path):
    busy = tmp_path / "busy"
    parent = _run_script(tmp_path, f"""
        import time
        feed, parent, end = Pass.feed, os.getpid(), split._end
        def slow_feed(self, records, stitcher, until=None):
            if until is None and os.getpid() != parent:  # the child's scan past its seam: it never ends by itself
                open({str(busy)!r}, "w").close()
                time.sleep(60)
            return feed(self, records, stitcher, until)
        def slow_end(child):  # this process holds on to its child, whether or not it reads on alone
            time.sleep(60)
            end(child)
        Pass.feed, split._end = slow_feed, slow_end
        scan(ScanOptions((path,)), load_rules(), open_source, split_files=True)
    """)
    deadline = time.monotonic() + 60
    while not busy.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    (child,) = map(int, subprocess.run(["pgrep", "-P", str(parent.pid)], capture_output=True, text=True).stdout.split())
    parent.kill()
    parent.wait()  # (not its output: the child holds the pipes too while it lives)
    parent.stdout.close()
    parent.stderr.close()
    deadline = time.monotonic() + 20
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = _alive(child)
    if alive:
        os.kill(child, signal.SIGKILL)
    assert not alive


def test_ctrl_c_as_the_child_starts_prints_nothing(tmp_path):
    done = _run_script(tmp_path, """
        import multiprocessing.util, signal
        class Hook: pass
        HOOK = Hook()  # Ctrl-C reaching the child inside multiprocessing's start-up, before the scan runs
        multiprocessing.util.register_after_fork(HOOK, lambda _: os.kill(os.getpid(), signal.SIGINT))
        print(scan(ScanOptions((path,)), load_rules(), open_source, split_files=True).entries_read)
    """)
    out, err = done.communicate(timeout=120)
    assert (done.returncode, out.strip(), err) == (0, "6000", "")


def test_a_scan_in_a_daemonic_worker_reads_in_one_pass(tmp_path):
    done = _run_script(tmp_path, """
        import multiprocessing
        def work(_):
            return scan(ScanOptions((path,)), load_rules(), open_source, split_files=True).entries_read
        with multiprocessing.get_context("fork").Pool(1) as pool:
            print(pool.map(work, [0]))
    """)
    out, err = done.communicate(timeout=120)
    assert (done.returncode, out.strip(), err) == (0, "[6000]", "")


@pytest.mark.parametrize("failure", ["raises", "dies"])
def test_a_failing_child_means_one_pass(tmp_path, taken, monkeypatch, failure):
    def broken(*args):
        if failure == "dies":
            os._exit(3)
        raise RuntimeError("boom")

    monkeypatch.setattr(split, "_rest", broken)
    path = tmp_path / "big.ndjson"
    _write(path, gen.generate(1500, seed=3))
    assert _scan(path, split_files=True) == _scan(path, split_files=False)
    assert taken == []


def test_the_cli_splits_a_large_file_with_the_same_report(tmp_path, cli, monkeypatch):
    path = tmp_path / "big.ndjson"
    _write(path, gen.generate(2000, seed=5))
    args = ("scan", "-s", path, "--format", "json", "--no-state")
    one_pass = cli(*args)
    monkeypatch.setattr(split, "MIN_BYTES", 0)
    monkeypatch.setattr(split, "WARM_UP_BYTES", 8000)
    monkeypatch.setattr(split, "_cores", lambda: 2.0)
    taken = _spy_on_takes(monkeypatch)
    halves = cli(*args)
    assert (halves.exit_code, one_pass.exit_code, len(taken)) == (0, 0, 1)
    drop_time = [line for line in one_pass.stdout.splitlines() if '"scanned_at"' not in line]
    assert [line for line in halves.stdout.splitlines() if '"scanned_at"' not in line] == drop_time


def test_ndjson_and_pretty_arrays_are_cut_past_their_middle(tmp_path):
    entries = list(gen.generate(200, seed=1))
    ndjson, array = tmp_path / "a.ndjson", tmp_path / "a.json"
    ndjson.write_bytes(_export(entries, "ndjson"))
    array.write_bytes(_export(entries, "array"))

    data = ndjson.read_bytes()
    cut = cut_in_two(str(ndjson), 0)
    assert cut.indent is None and len(data) // 2 < cut.offset < len(data) and data[cut.offset - 1 : cut.offset] == b"\n"
    data = array.read_bytes()
    cut = cut_in_two(str(array), 0)
    assert cut.indent == "  " and len(data) // 2 < cut.offset
    assert data[cut.offset - 3 : cut.offset + 2] == b"\n  {\n" and data[: cut.offset].rstrip().endswith(b"},")

    array.write_text(json.dumps(entries, indent=4))
    assert cut_in_two(str(array), 0).indent == "    "
    array.write_text(json.dumps(entries, indent=0))  # read as a compact array: not cut
    assert cut_in_two(str(array), 0) is None

    assert cut_in_two(str(ndjson), len(data) + 1) is None  # small
    others = {
        "gz": gzip.compress(data),
        "compact array": b"[" + b",".join(json.dumps(e).encode() for e in entries) + b"]\n",
        "wrapper": b'{"entries": ' + data + b"}",
        "text": b"".join(b"2026-11-28 01:00:00 | ERROR | x | line %d\n" % i for i in range(500)),
        "utf16": "\ufeff".encode("utf-16-le") + data.decode().encode("utf-16-le"),
    }
    for name, content in others.items():
        path = tmp_path / name
        path.write_bytes(content)
        assert cut_in_two(str(path), 0) is None, name
    assert cut_in_two(str(tmp_path), 0) is None
    assert cut_in_two("-", 0) is None
    assert cut_in_two(str(tmp_path / "missing.ndjson"), 0) is None


@pytest.mark.parametrize("memberships, files, cores", [
    (b"1:cpu:/\n\ngarbage\n0:/\n0::/caf\xe9.slice\n", {"caf\udce9.slice/cpu.max": "100000 100000\n"}, 1.0),
    ("0::/kubepods/pod1/ctr\n", {"kubepods/pod1/ctr/cpu.max": "100000 100000\n"}, 1.0),
    ("0::/kubepods/pod1/ctr\n", {"kubepods/pod1/ctr/cpu.max": "max 100000\n", "kubepods/cpu.max": "150000 100000\n"}, 1.5),
    ("0::/\n", {"cpu.max": "max 100000\n"}, 4.0),
    # cgroup v1, in a container that sees its own cgroup as the root of the mount
    ("4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n0::/\n",
     {"cpu,cpuacct/cpu.cfs_quota_us": "50000\n", "cpu,cpuacct/cpu.cfs_period_us": "100000\n"}, 0.5),
    ("1:cpu:/\n", {"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, 4.0),
    (None, {}, 4.0),
])
def test_a_cpu_quota_caps_the_cores_to_use(tmp_path, monkeypatch, memberships, files, cores):
    root = tmp_path / "cgroup"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    proc = tmp_path / "proc_cgroup"
    if memberships is not None:
        proc.write_bytes(memberships if isinstance(memberships, bytes) else memberships.encode())
    monkeypatch.setattr(split, "PROC_CGROUP", str(proc))
    monkeypatch.setattr(split, "CGROUP_ROOT", str(root))
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert split._cores() == cores
    assert split._can_fork() is (cores >= 1.5)


def test_a_split_scan_collects_garbage_first_and_leaves_a_callers_frozen_objects_frozen(tmp_path, taken, monkeypatch):
    import gc
    import weakref

    monkeypatch.setattr(split, "WARM_UP_BYTES", 8000)
    path = tmp_path / "big.ndjson"
    _write(path, gen.generate(2000, seed=5))

    class Cycle:
        def __init__(self):
            self.me = self

    garbage = Cycle()
    alive = weakref.ref(garbage)
    del garbage  # frozen uncollected, it would wait in the oldest generation for a full collection
    _scan(path, split_files=True)
    assert alive() is None and len(taken) == 1 and gc.get_freeze_count() == 0
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        _scan(path, split_files=True)
        assert gc.get_freeze_count() >= frozen - 10 and len(taken) == 2
    finally:
        gc.unfreeze()


def test_a_ctrl_c_pending_at_the_fork_ends_the_child_too(tmp_path, taken, monkeypatch):
    import multiprocessing

    path = tmp_path / "big.ndjson"
    _write(path, gen.generate(2000, seed=5))
    parent, restore = os.getpid(), signal.pthread_sigmask

    def interrupted(how, mask):
        old = restore(how, mask)
        if how == signal.SIG_SETMASK and os.getpid() == parent:
            raise KeyboardInterrupt  # as a Ctrl-C blocked during the fork is delivered when the mask is restored
        return old

    monkeypatch.setattr(signal, "pthread_sigmask", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _scan(path, split_files=True)
    assert multiprocessing.active_children() == []
