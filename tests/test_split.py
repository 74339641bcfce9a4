"""A large NDJSON file read on two cores (triage.split) gives what one pass gives, or is read in one pass."""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from conftest import FIXTURES, SHARED, load_generator
from triage import split
from triage.rules import load_rules
from triage.scan import Pass, ScanOptions, scan
from triage.sources import open_source
from triage.sources.files import cut_in_two

gen = load_generator()
START = datetime(2026, 11, 28, 1, 0, tzinfo=timezone.utc)
STDERR = "projects/acme/logs/run.googleapis.com%2Fstderr"


@pytest.fixture
def taken(monkeypatch) -> list:
    """Split every NDJSON file, however small; the list of what was taken from a child."""
    monkeypatch.setattr(split, "MIN_BYTES", 0)
    found: list = []
    take = Pass.take

    def spy(self, findings):
        found.append(findings)
        take(self, findings)

    monkeypatch.setattr(Pass, "take", spy)
    return found


def _scan(path, *, split_files: bool):
    result = scan(ScanOptions((str(path),)), load_rules(), open_source, split_files=split_files)
    return replace(result, scanned_at=None)


def _write(path, entries) -> None:
    path.write_bytes(b"".join(json.dumps(entry).encode() + b"\n" for entry in entries))


def _entry(seconds: float | None, instance: str, text: str, severity: str | None = "INFO") -> dict:
    entry = {"logName": STDERR, "labels": {"instanceId": instance}, "textPayload": text,
             "resource": {"type": "cloud_run_revision", "labels": {"service_name": "api"}}}
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


def test_the_child_reads_on_into_arrays_appended_after_the_first(tmp_path, taken, monkeypatch):
    monkeypatch.setattr(split, "WARM_UP_BYTES", 32000)
    path = tmp_path / "twice.json"  # gcloud … >> twice.json, run twice
    path.write_bytes(_export(list(gen.generate(1500, seed=1)), "array") + _export(list(gen.generate(400, seed=2)), "array"))
    one_pass = _scan(path, split_files=True)
    assert one_pass == _scan(path, split_files=False) and one_pass.entries_read == 1900
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
    halves = cli(*args)
    assert (halves.exit_code, one_pass.exit_code) == (0, 0)
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
