"""File readers: shape detection, streaming, and bad input skipped and counted with file:line."""

from __future__ import annotations

import gzip
import io
import json
import os

import pytest

from triage.errors import SourceError
from triage.model import Problem
from triage.sources import Record
from triage.sources import jsonstream
from triage.sources.files import read_file

ENTRY_A = {"timestamp": "2026-11-28T01:00:00Z", "severity": "ERROR", "textPayload": "boom A"}
ENTRY_B = {"timestamp": "2026-11-28T01:00:01Z", "textPayload": "line with ] and }\n  {"}


def records(path) -> list:
    return list(read_file(str(path)))


def payloads(items) -> list:
    return [r.data.get("textPayload") or r.data.get("text_payload") for r in items if isinstance(r, Record)]


def problems(items) -> list[Problem]:
    return [p for p in items if isinstance(p, Problem)]


@pytest.mark.parametrize("indent", [None, 2, 4])
def test_json_array_in_any_layout(tmp_path, indent):
    path = tmp_path / "a.json"
    path.write_text(json.dumps([ENTRY_A, ENTRY_B], indent=indent))
    items = records(path)
    assert payloads(items) == ["boom A", ENTRY_B["textPayload"]]
    assert problems(items) == []


def test_json_array_locations_are_line_numbers(tmp_path):
    path = tmp_path / "a.json"
    path.write_text(json.dumps([ENTRY_A, ENTRY_B], indent=2))
    first, second = records(path)
    assert first.location == f"{path}:2"
    assert second.location == f"{path}:7"


def test_json_array_streams_across_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(jsonstream, "CHUNK_CHARS", 64)
    entries = [dict(ENTRY_A, textPayload=f"message {i} " + "x" * 50) for i in range(200)]
    for indent in (None, 2):
        path = tmp_path / f"big{indent}.json"
        path.write_text(json.dumps(entries, indent=indent))
        assert payloads(records(path)) == [e["textPayload"] for e in entries]


def test_truncated_array_keeps_complete_entries(tmp_path):
    path = tmp_path / "t.json"
    text = json.dumps([ENTRY_A, ENTRY_A, ENTRY_B], indent=2)
    path.write_text(text[: text.rindex("textPayload")])
    items = records(path)
    assert payloads(items) == ["boom A", "boom A"]
    [problem] = problems(items)
    assert problem.location == f"{path}:12"
    assert "truncated" in problem.reason and problem.cut


def test_malformed_element_in_indented_array_is_skipped(tmp_path):
    path = tmp_path / "m.json"
    text = json.dumps([ENTRY_A, {"x": 1}, ENTRY_A], indent=2).replace('"x": 1', '"x": 1,,')
    path.write_text(text)
    items = records(path)
    assert payloads(items) == ["boom A", "boom A"]
    assert [p.location for p in problems(items)] == [f"{path}:7"]


def test_ndjson_bad_lines_are_counted_with_line_numbers(tmp_path):
    path = tmp_path / "n.ndjson"
    lines = [json.dumps(ENTRY_A).encode(), b"{not json", b"", b"\xff\xfe garbage", b"[1, 2]", json.dumps(ENTRY_A).encode()]
    path.write_bytes(b"\n".join(lines) + b"\n")
    items = records(path)
    assert payloads(items) == ["boom A", "boom A"]
    assert [(p.location, p.reason) for p in problems(items)] == [
        (f"{path}:2", "malformed JSON line"),
        (f"{path}:4", "undecodable bytes"),
        (f"{path}:5", "expected a JSON object, found list"),
    ]


def test_ndjson_with_classic_mac_line_ends_is_read_line_by_line(tmp_path):
    path = tmp_path / "n.ndjson"
    lines = [json.dumps(ENTRY_A).encode(), b"{not json", json.dumps(ENTRY_A).encode()]
    path.write_bytes(b"\r".join(lines) + b"\r")
    items = records(path)
    assert payloads(items) == ["boom A", "boom A"]
    assert [(p.location, p.reason) for p in problems(items)] == [(f"{path}:2", "malformed JSON line")]


def test_gzip_is_detected_by_content(tmp_path):
    path = tmp_path / "logs.data"
    path.write_bytes(gzip.compress((json.dumps(ENTRY_A) + "\n").encode()))
    assert payloads(records(path)) == ["boom A"]


def test_wrapped_client_dump_streams_its_entry_list(tmp_path):
    path = tmp_path / "c.json"
    dump = {"project": "p", "count": 2, "entries": [{"text_payload": "one"}, {"text_payload": "two"}]}
    path.write_text(json.dumps(dump, indent=2))
    assert payloads(records(path)) == ["one", "two"]


def test_object_without_entry_list_is_a_problem(tmp_path):
    path = tmp_path / "o.json"
    path.write_text(json.dumps({"a": {"b": 1}}, indent=2))
    [problem] = records(path)
    assert problem.reason == "JSON object holds no list of log entries"


def test_gcloud_table_rows_and_continuations(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text(
        "TIMESTAMP                    SEVERITY  TEXT_PAYLOAD\n"
        "2026-11-28T01:00:02.000001Z  ERROR     Traceback (most recent call last):\n"
        '                                         File "/app/main.py", line 3, in <module>\n'
        "2026-11-28T01:00:01.000001Z  WARNING\n"
        "2026-11-28T01:00:00.000001Z            2026-11-28 01:00:00.000 | INFO | x:y:1 | hello\n"
    )
    items = records(path)
    assert [r.data for r in items] == [
        {"timestamp": "2026-11-28T01:00:02.000001Z", "severity": "ERROR",
         "textPayload": 'Traceback (most recent call last):\n  File "/app/main.py", line 3, in <module>'},
        {"timestamp": "2026-11-28T01:00:01.000001Z", "severity": "WARNING"},
        {"timestamp": "2026-11-28T01:00:00.000001Z", "textPayload": "2026-11-28 01:00:00.000 | INFO | x:y:1 | hello"},
    ]
    assert [r.location for r in items] == [f"{path}:2", f"{path}:4", f"{path}:5"]


def test_gcloud_value_rows(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("2026-11-28T01:00:00Z\tERROR\tfirst line\nsecond line\n2026-11-28T01:00:01Z\t\tplain\n")
    items = records(path)
    assert [r.data for r in items] == [
        {"timestamp": "2026-11-28T01:00:00Z", "severity": "ERROR", "textPayload": "first line\nsecond line"},
        {"timestamp": "2026-11-28T01:00:01Z", "textPayload": "plain"},
    ]


def test_plain_lines_join_indented_continuations_and_read_times(tmp_path):
    path = tmp_path / "app.log"
    path.write_bytes(
        b"[2026-11-28 01:00:00 +0000] [12] [ERROR] Worker (pid:13) exited with code 3\n"
        b"Traceback (most recent call last):\n"
        b'  File "/app/x.py", line 1, in <module>\n'
        b"\xff\xfe\n"
        b"KeyError: 'k'\n"
        b"2026-11-28 01:00:01.123 | WARNING | a:b:2 | slow\n"
        b"Traceback (most recent call last):\n"
    )
    items = records(path)
    error_time = "2026-11-28 01:00:00 +0000"
    assert [r.data for r in items if isinstance(r, Record)] == [
        {"textPayload": "[2026-11-28 01:00:00 +0000] [12] [ERROR] Worker (pid:13) exited with code 3", "timestamp": error_time},
        # logger.exception's traceback comes with its ERROR line: it takes that line's time
        {"textPayload": 'Traceback (most recent call last):\n  File "/app/x.py", line 1, in <module>', "timestamp": error_time},
        {"textPayload": "KeyError: 'k'", "timestamp": error_time},
        {"textPayload": "2026-11-28 01:00:01.123 | WARNING | a:b:2 | slow", "timestamp": "2026-11-28 01:00:01.123"},
        {"textPayload": "Traceback (most recent call last):"},  # after a warning: printed when, no one knows
    ]
    assert [p.location for p in problems(items)] == [f"{path}:4"]


@pytest.mark.parametrize("prefix", ['["main"]', "[]", '["api", "v2"]'])
def test_a_plain_log_whose_lines_start_with_a_json_like_prefix_is_text(tmp_path, prefix):
    path = tmp_path / "app.log"
    path.write_text(f"{prefix} ERROR first failure\n{prefix} ERROR second failure\n")
    assert [r.data["textPayload"] for r in records(path)] == [
        f"{prefix} ERROR first failure", f"{prefix} ERROR second failure"]


@pytest.mark.parametrize("text", ['[\n  "not an entry"\n]\n', '["a",\n "b"]\n', "[]\n"])
def test_a_json_array_that_is_no_log_is_still_read_as_one(tmp_path, text):
    path = tmp_path / "export.json"
    path.write_text(text)
    assert all(not isinstance(item, Record) for item in records(path))


def test_only_the_traceback_of_an_error_line_takes_its_time(tmp_path):
    path = tmp_path / "app.log"
    path.write_text(
        "2026-11-28 10:00:00.000 | ERROR    | api.jobs:run:9 | job failed\n"
        "Traceback (most recent call last):\n"
        '  File "/app/jobs.py", line 12, in run\n'
        "KeyError: 'k'\n"
        "During handling of the above exception, another exception occurred:\n"
        "Traceback (most recent call last):\n"
        '  File "/app/jobs.py", line 14, in run\n'
        "RuntimeError: job aborted\n"
        "Traceback (most recent call last):\n"  # another traceback, printed whenever: no time
        '  File "/app/main.py", line 3, in <module>\n'
        "MemoryError\n"
        "2026-11-28 10:05:00.000 | ERROR    | api.web:call:4 | request failed\n"
        'INFO:     10.0.0.1:5 - "GET /health HTTP/1.1" 200\n'  # uvicorn's own untimed lines
        "ERROR:    Exception in ASGI application\n"
        "Traceback (most recent call last):\n"
    )
    times = [(r.data["textPayload"].split("\n")[0][:30], r.data.get("timestamp")) for r in records(path)]
    at_ten, at_five = "2026-11-28 10:00:00.000", "2026-11-28 10:05:00.000"
    assert times == [
        ("2026-11-28 10:00:00.000 | ERRO", at_ten), ("Traceback (most recent call la", at_ten), ("KeyError: 'k'", at_ten),
        ("During handling of the above e", at_ten), ("Traceback (most recent call la", at_ten),
        ("RuntimeError: job aborted", at_ten),
        ("Traceback (most recent call la", None), ("MemoryError", None),
        ("2026-11-28 10:05:00.000 | ERRO", at_five), ('INFO:     10.0.0.1:5 - "GET /h', None),
        ("ERROR:    Exception in ASGI ap", None), ("Traceback (most recent call la", None),
    ]


def test_a_traceback_after_an_error_line_stays_in_its_window_and_one_after_chatter_is_reported(cli, tmp_path):
    path = tmp_path / "app.log"
    path.write_text(
        "2026-11-28 00:10:00,001 - api.jobs - INFO - nightly job started\n"
        "Traceback (most recent call last):\n"
        '  File "/app/jobs.py", line 12, in run\n'
        "ValueError: printed long after, uncaught\n"
        "2026-11-28 01:46:13,287 - api.auth - ERROR - token refresh failed\n"
        "Traceback (most recent call last):\n"
        '  File "/app/auth/tokens.py", line 112, in refresh_access_token\n'
        "KeyError: 'key-2026-11'\n"
    )
    result = cli("scan", "-s", path, "--no-state", "--since", "1h", "--now", "2026-11-28T02:00:00Z", "-f", "json")
    assert "left out 1 failure entry with no readable time" in result.stderr  # the uncaught one
    clusters = json.loads(result.stdout)["clusters"]
    keyerror = [c for c in clusters if "KeyError" in c["title"]]
    assert [(c["count"], c["first_seen"]) for c in keyerror] == [(1, "2026-11-28T01:46:13.287000Z")]


@pytest.mark.parametrize(
    "content, reason",
    [(b"", "empty file"), (b"  \n\n", "empty file"), (b"\x00\x01\x02binary\x00", "binary data, not a log export")],
)
def test_unreadable_files_are_one_problem(tmp_path, content, reason):
    path = tmp_path / "f"
    path.write_bytes(content)
    assert records(path) == [Problem(f"{path}:1", reason)]


def test_empty_array_has_no_entries_and_no_problems(tmp_path):
    path = tmp_path / "e.json"
    path.write_text("[]\n")
    assert records(path) == []


def test_missing_file_and_directory_raise_source_errors(tmp_path):
    with pytest.raises(SourceError, match="no such file"):
        records(tmp_path / "nope.json")
    with pytest.raises(SourceError, match="is a directory"):
        records(tmp_path)


def test_a_path_that_cannot_even_be_looked_at_is_a_source_error(tmp_path):
    with pytest.raises(SourceError, match=r"cannot read \(File name too long\)"):
        records(tmp_path / ("a" * 300 + ".json"))


def test_a_closed_standard_input_is_a_source_error(monkeypatch):
    monkeypatch.setattr("sys.stdin", None)
    with pytest.raises(SourceError, match="^-: standard input is closed$"):
        list(read_file("-"))


def test_stdin(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO((json.dumps(ENTRY_A) + "\n").encode())))
    [record] = list(read_file("-"))
    assert record.location == "<stdin>:1"


def test_stdin_is_left_open_for_a_second_read(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO((json.dumps(ENTRY_A) + "\n").encode())))
    assert payloads(read_file("-")) == ["boom A"]
    assert list(read_file("-")) == [Problem("<stdin>:1", "empty file")]


def test_truncated_gzip_keeps_what_came_before_the_cut(tmp_path):
    path = tmp_path / "t.ndjson.gz"
    data = gzip.compress(b"".join((json.dumps(dict(ENTRY_A, textPayload=f"m{i}")) + "\n").encode() for i in range(3000)))
    path.write_bytes(data[: len(data) // 2])
    items = records(path)
    assert len(payloads(items)) > 1000
    assert problems(items)[-1].reason.startswith("stopped reading: Compressed file ended") and problems(items)[-1].cut
    assert not problems(items)[0].cut  # the line the cut broke is skipped like any malformed line


def test_an_array_cut_with_its_gzip_stream_is_one_cut(tmp_path):
    path = tmp_path / "t.json.gz"
    data = gzip.compress(json.dumps([dict(ENTRY_A, textPayload=f"m{i}") for i in range(3000)], indent=2).encode())
    path.write_bytes(data[: len(data) // 2])
    cuts = [problem for problem in problems(records(path)) if problem.cut]
    assert [problem.reason[:40] for problem in cuts] == ["stopped reading: Compressed file ended b"]


def test_corrupt_deflate_data_is_one_problem(tmp_path):
    path = tmp_path / "c.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + bytes(range(256)) * 4)
    [problem] = records(path)
    assert problem.location == str(path) and problem.reason.startswith("stopped reading: Error -3")


@pytest.mark.parametrize("text", ['[1, "a", {"textPayload": "boom A"}]', '[\n  1,\n  {"textPayload": "boom A"}\n]', '[[{"x": 1}], {"textPayload": "boom A"}]'])
def test_json_array_of_non_objects_is_skipped_and_counted(tmp_path, text):
    path = tmp_path / "a.json"
    path.write_text(text)
    items = records(path)
    assert payloads(items) == ["boom A"]
    assert all(p.reason.startswith("expected a JSON object") for p in problems(items)) and problems(items)


def test_one_line_wrapper_yields_its_entries(tmp_path):
    path = tmp_path / "w.json"
    page = {"entries": [{"textPayload": "one"}, {"textPayload": "two"}, 3], "nextPageToken": "t"}
    path.write_text(json.dumps(page) + "\n" + json.dumps(dict(page, entries=[{"textPayload": "three"}])) + "\n")
    items = records(path)
    assert payloads(items) == ["one", "two", "three"]
    assert [p.location for p in problems(items)] == [f"{path}:1"]


@pytest.mark.parametrize("first", [b'{"textPayload": "cut sho', b'{"textPayload": "caf\xe9"}'])
def test_ndjson_with_a_bad_first_line_loses_only_that_line(tmp_path, first):
    path = tmp_path / "n.ndjson"
    path.write_bytes(b"\n" + first + b"\n" + (json.dumps(ENTRY_A) + "\n").encode() * 2)
    items = records(path)
    assert payloads(items) == ["boom A", "boom A"]
    assert [p.location for p in problems(items)] == [f"{path}:2"]
    assert [r.location for r in items if isinstance(r, Record)] == [f"{path}:3", f"{path}:4"]


def test_wrapper_opening_its_list_on_the_first_line_with_one_entry_per_line(tmp_path):
    path = tmp_path / "w.json"
    path.write_text('{"entries": [\n{"textPayload": "one"},\n{"textPayload": "two"}\n]}\n')
    assert payloads(records(path)) == ["one", "two"]


@pytest.mark.parametrize("indent", ["", "  "])
def test_json_array_with_one_compact_element_per_line(tmp_path, indent):
    path = tmp_path / "a.json"
    path.write_text("[\n" + ",\n".join(indent + json.dumps(e) for e in (ENTRY_A, ENTRY_B)) + "\n]\n")
    items = records(path)
    assert payloads(items) == ["boom A", ENTRY_B["textPayload"]]
    assert [r.location for r in items] == [f"{path}:2", f"{path}:3"]


@pytest.mark.parametrize(
    "content",
    [
        '{"textPayload": "bad \\udc80 thing \\ud83d\\ude00"}\n',
        '[{"textPayload": "bad \\udc80 thing \\ud83d\\ude00"}]',
        '[\n  {\n    "textPayload": "bad \\udc80 thing \\ud83d\\ude00"\n  }\n]\n',
    ],
)
def test_escaped_lone_surrogates_become_replacement_characters(tmp_path, content):
    path = tmp_path / "s.json"
    path.write_text(content)
    assert payloads(records(path)) == ["bad \ufffd thing \U0001f600"]


def test_arrays_appended_after_the_array_are_read_and_other_data_is_reported(tmp_path):
    path = tmp_path / "double.json"
    path.write_text(json.dumps([ENTRY_A], indent=2) + "\n" + json.dumps([ENTRY_A, ENTRY_A]) + "\n" + "junk\n")
    items = records(path)
    assert payloads(items) == ["boom A"] * 3
    assert [r.location for r in items if isinstance(r, Record)] == [f"{path}:2", f"{path}:8", f"{path}:8"]
    assert [(p.location, p.reason) for p in problems(items)] == [
        (f"{path}:9", "data after the JSON array's closing ']' was not read")]


def test_a_dump_written_on_one_line_streams_past_the_line_cap(tmp_path, monkeypatch):
    from triage.sources import files

    monkeypatch.setattr(files, "ENTRY_LINE_MAX", 256)  # longer than an entry, as the real cap is
    monkeypatch.setattr(jsonstream, "CHUNK_CHARS", 64)
    monkeypatch.setattr(files, "read_ndjson", lambda *args: pytest.fail("the whole line was read into memory"))
    entries = [dict(ENTRY_A, textPayload=f"failure {i} é") for i in range(50)]
    path = tmp_path / "oneline.json"
    path.write_text(json.dumps({"project": "p", "entries": entries}), encoding="utf-8")
    items = records(path)
    assert payloads(items) == [f"failure {i} é" for i in range(50)]
    assert problems(items) == []


def test_plain_lines_that_start_with_a_brace_are_not_json(tmp_path):
    path = tmp_path / "workers.log"
    path.write_text("{worker-1} ERROR queue stalled\n{worker-2} ERROR queue stalled\n")
    assert payloads(records(path)) == ["{worker-1} ERROR queue stalled", "{worker-2} ERROR queue stalled"]


def entry(text: str) -> dict:
    return {"severity": "ERROR", "textPayload": text}


@pytest.mark.parametrize("chunk", [64, 1 << 20])
@pytest.mark.parametrize(
    "content, locations",
    [
        ('[{"textPayload": "one"},{"textPayload": "two" oops},{"textPayload": "three"},{"textPayload": "four"}]', [1]),
        ('{"project": "p", "entries": [\n{"textPayload": "one"},\n{"textPayload": "tw\n{"textPayload": "three"},\n'
         '{"textPayload": "four"}\n]}\n', [3]),
        ('[\n{"textPayload": "one"},\n{"textPayload": {"x": 1},\n{"textPayload": "three"},\n{"textPayload": "four"}\n]',
         [3]),
        ('{"project": "p", "entries": [\n{"textPayload": "one"},\n{"textPayload": "x", "resource": {"labels": {\n'
         '{"textPayload": "three"},\n{"textPayload": "four"}\n]}\n', [3]),
    ],
)
def test_malformed_element_in_compact_array_is_skipped_and_reading_goes_on(tmp_path, monkeypatch, chunk, content, locations):
    monkeypatch.setattr(jsonstream, "CHUNK_CHARS", chunk)
    path = tmp_path / "c.json"
    path.write_text(content)
    items = records(path)
    assert payloads(items) == ["one", "three", "four"]
    assert [p.location for p in problems(items)] == [f"{path}:{line}" for line in locations]
    assert all(p.reason.startswith("malformed JSON entry") for p in problems(items))


def test_malformed_element_keeps_the_buffer_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(jsonstream, "CHUNK_CHARS", 256)
    monkeypatch.setattr(jsonstream, "ELEMENT_MAX_CHARS", 512)
    lines = [json.dumps(entry(f"m{i}")) for i in range(2000)]
    lines[1] = lines[1][:20]
    path = tmp_path / "big.json"
    path.write_text("[\n" + ",\n".join(lines) + "\n]\n")
    longest = 0
    real_more = jsonstream._Buffer.more

    def more(self):
        nonlocal longest
        longest = max(longest, len(self.text))
        return real_more(self)

    monkeypatch.setattr(jsonstream._Buffer, "more", more)
    items = records(path)
    assert len(payloads(items)) == 1999
    assert [p.location for p in problems(items)] == [f"{path}:3"]
    assert longest < 1024


DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    "content, location",
    [
        (f'[{{"jsonPayload": {{"x": {DEEP}}}}}, {{"textPayload": "after"}}]', 1),
        (f'{{"entries": [\n{{"jsonPayload": {{"x": {DEEP}}}}},\n{{"textPayload": "after"}}\n]}}', 2),
        (f'{{"meta": {DEEP}, "entries": [{{"textPayload": "after"}}, {DEEP}]}}', 1),
    ],
)
def test_deep_nesting_is_a_counted_skip(tmp_path, content, location):
    path = tmp_path / "deep.json"
    path.write_text(content)
    items = records(path)
    assert payloads(items) == ["after"]
    [problem] = problems(items)
    assert problem.location == f"{path}:{location}"


@pytest.mark.parametrize(
    "content",
    [
        '{"project": "p", "warnings": [], "entries": [\n{"text_payload": "boom"},\n{"text_payload": "bang"}\n]}\n',
        '{"warnings": ["x"], "entries": [{"text_payload": "boom"}, {"text_payload": "bang"}]}\n',
        '{"warnings": ["x"], "items": [\n{"text_payload": "boom"},\n{"text_payload": "bang"}\n], "more": [{"a": 1}]}\n',
        '{"counts": [[1]], "logs": [{"text_payload": "boom"}, {"text_payload": "bang"}], "next": [{"a": 1}]}\n',
        '{"counts": [[1]], "data": [\n{"text_payload": "boom"},\n{"text_payload": "bang"}\n], "next": [{"a": 1}]}\n',
        # a list of other objects before the entries is metadata
        '{"meta": [{"a": 1}], "entries": [{"text_payload": "boom"}, {"text_payload": "bang"}]}\n',
        '{"meta": [\n{"a": 1}\n], "entries": [\n{"text_payload": "boom"},\n{"text_payload": "bang"}\n]}\n',
        '{"meta": [\n{"a": 1}\n], "data": [\n{"text_payload": "boom"},\n{"text_payload": "bang"}\n]}\n',
    ],
)
def test_wrapper_entry_list_is_the_named_one_or_the_first_list_of_entries(tmp_path, content):
    path = tmp_path / "w.json"
    path.write_text(content)
    items = records(path)
    assert (payloads(items), problems(items)) == (["boom", "bang"], [])


def test_wrapper_with_only_lists_of_scalars_is_a_problem(tmp_path):
    path = tmp_path / "w.json"
    path.write_text('{"warnings": [\n"x"\n], "ids": []}\n')
    assert records(path) == [Problem(f"{path}:1", "JSON object holds no list of log entries")]


def test_a_one_line_object_without_a_list_of_entries_is_a_record(tmp_path):
    """On one line it reads as an app's own JSON line (NDJSON of one line), not as a wrapper."""
    path = tmp_path / "w.json"
    path.write_text('{"warnings": ["x"], "ids": []}\n')
    assert [(type(item), item.data) for item in records(path)] == [(Record, {"warnings": ["x"], "ids": []})]


def test_wrappers_appended_after_the_wrapper_are_read(tmp_path):
    path = tmp_path / "w.json"
    page = '{"entries": [\n{"textPayload": "one"}\n], "nextPageToken": "t"}\n'
    path.write_text(page + page.replace("one", "two") + "junk\n")
    items = records(path)
    assert payloads(items) == ["one", "two"]
    assert [(p.location, p.reason) for p in problems(items)] == [
        (f"{path}:7", "data after the JSON object's closing '}' was not read")]


def test_pretty_printed_array_with_indent_0(tmp_path):
    entries = [dict(entry(f"e{i}"), jsonPayload={"a": {"b": [1, {"c": 2}]}}) for i in range(3)]
    path = tmp_path / "a.json"
    path.write_text(json.dumps(entries, indent=0))
    items = records(path)
    assert payloads(items) == ["e0", "e1", "e2"]
    assert [r.location for r in items] == [f"{path}:2", f"{path}:16", f"{path}:30"]


def test_indented_array_counts_each_non_object_once(tmp_path):
    path = tmp_path / "a.json"
    path.write_text(json.dumps([entry("e0"), 42, entry("e1"), "s", entry("e2"), [1], entry("e3")], indent=2))
    items = records(path)
    assert payloads(items) == ["e0", "e1", "e2", "e3"]
    assert [(p.location, p.reason) for p in problems(items)] == [
        (f"{path}:6", "expected a JSON object, found int"),
        (f"{path}:11", "expected a JSON object, found str"),
        (f"{path}:16", "expected a JSON object, found list"),
    ]


@pytest.mark.parametrize("layout, location", [(2, 6), (None, 1), ("lines", 3), ("first line", 2)])
def test_undecodable_bytes_in_an_array_are_a_counted_skip(tmp_path, layout, location):
    entries = [entry("e0"), entry("e1"), entry("e2")]
    if layout == "lines":
        text = '{"entries": [\n' + ",\n".join(json.dumps(e) for e in entries) + "\n]}\n"
    elif layout == "first line":  # the bad entry is among the lines read to tell the layout
        text = '{"entries": [\n' + ",\n".join(json.dumps(e) for e in entries[1:] + entries[:1]) + "\n]}\n"
    else:
        text = json.dumps(entries, indent=layout)
    path = tmp_path / "u.json"
    path.write_bytes(text.encode().replace(b'"e1"', b'"e1 \xff\xfe"'))
    items = records(path)
    assert sorted(payloads(items)) == ["e0", "e2"]
    assert [(p.location, p.reason) for p in problems(items)] == [(f"{path}:{location}", "undecodable bytes")]


# ----------------------------------------------------------------------------- bad input costs only itself


def test_ndjson_whose_first_two_lines_are_broken_loses_only_those_lines(tmp_path):
    path = tmp_path / "n.ndjson"
    good = [json.dumps({"severity": "ERROR", "textPayload": f"msg {i}"}) for i in range(1, 6)]
    path.write_text('{"severity":"ERROR","textPay\n{"bad": \n' + "\n".join(good) + "\n")
    items = records(path)
    assert payloads(items) == [f"msg {i}" for i in range(1, 6)]
    assert [r.location for r in items if isinstance(r, Record)] == [f"{path}:{n}" for n in range(3, 8)]
    assert [(p.location, p.reason) for p in problems(items)] == [
        (f"{path}:1", "malformed JSON line"), (f"{path}:2", "malformed JSON line")]


def test_text_whose_first_line_starts_with_a_json_object_is_read_as_text(tmp_path):
    path = tmp_path / "app.log"
    path.write_text('{"a": 1} leading object then text\n2026-11-28 01:00:30.640 | ERROR    | a:b:1 | boom\n')
    assert [(r.location, r.data) for r in records(path)] == [
        (f"{path}:1", {"textPayload": '{"a": 1} leading object then text'}),
        (f"{path}:2", {"textPayload": "2026-11-28 01:00:30.640 | ERROR    | a:b:1 | boom",
                       "timestamp": "2026-11-28 01:00:30.640"}),
    ]


def test_wrapper_whose_first_line_holds_members_before_the_list(tmp_path):
    path = tmp_path / "w.json"
    path.write_text('{"project": "p", "count": 1, "entries": [\n{"textPayload": "one"}\n]}\n')
    items = records(path)
    assert payloads(items) == ["one"] and problems(items) == []


@pytest.mark.parametrize("position", [0, 1, 3])
@pytest.mark.parametrize("long_entry", [
    {"severity": "ERROR", "textPayload": "B" * (1 << 20)},
    {"tags": [{"id": 1}], "message": "B" * (1 << 20)},  # an app's line: its list holds no LogEntry
])
def test_a_line_longer_than_the_line_cap_is_one_record_wherever_it_is(tmp_path, position, long_entry):
    path = tmp_path / "long.ndjson"
    lines = [json.dumps({"severity": "ERROR", "textPayload": f"m{i}"}) for i in range(5)]
    lines.insert(position, json.dumps(long_entry))
    path.write_text("\n".join(lines) + "\n")
    items = records(path)
    assert problems(items) == []
    assert [r.location for r in items] == [f"{path}:{n}" for n in range(1, 7)]
    assert items[position].data == long_entry


def test_app_json_lines_holding_lists_are_records_not_wrappers(tmp_path):
    path = tmp_path / "app.ndjson"
    lines = [{"message": f"boom {i}", "level": "error", "tags": ["a", "b"]} for i in (1, 2, 3)]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    items = records(path)
    assert [(r.location, r.data) for r in items] == [(f"{path}:{n}", line) for n, line in enumerate(lines, 1)]


def test_an_empty_list_wraps_nothing(tmp_path):
    path = tmp_path / "e.ndjson"
    path.write_text('{"entries": []}\n' + json.dumps(ENTRY_A) + "\n")
    assert [r.data for r in records(path)] == [{"entries": []}, ENTRY_A]


@pytest.mark.parametrize(
    "padding, line", [(b"\x00" * 100, 1), (b"\x00" * 9000 + b"\n\n", 3), (b"\x00" * (3 << 20), 1)], ids=["100", "9000+2", "3M"])
def test_the_nul_run_of_a_log_rotated_with_copytruncate_is_skipped(tmp_path, padding, line):
    path = tmp_path / "r.log"
    path.write_bytes(padding + b"2026-11-28 01:00:00.000 | ERROR    | a:b:1 | boom\n")
    assert [(r.location, r.data["timestamp"]) for r in records(path)] == [(f"{path}:{line}", "2026-11-28 01:00:00.000")]


@pytest.mark.parametrize(
    "name, first, second",
    [("r.log", b"2026-11-28 01:00:00.000 | ERROR    | a:b:1 | one\n", b"2026-11-28 01:00:01.000 | ERROR    | a:b:1 | two\n"),
     ("r.ndjson", b'{"timestamp": "2026-11-28T01:00:00Z", "textPayload": "one"}\n',
      b'{"timestamp": "2026-11-28T01:00:01Z", "textPayload": "two"}\n')],
)
def test_a_nul_run_after_the_first_lines_costs_nothing(tmp_path, name, first, second):
    """copytruncate while the log is written: the writer's next line lands after a run of NUL bytes."""
    path = tmp_path / name
    path.write_bytes(first + b"\x00" * 300 + second)
    items = records(path)
    assert problems(items) == []
    assert [r.data["timestamp"][:19].replace("T", " ") for r in items] == ["2026-11-28 01:00:00", "2026-11-28 01:00:01"]


def test_a_nul_byte_inside_a_text_line_does_not_make_the_file_binary(tmp_path):
    path = tmp_path / "n.log"
    path.write_bytes(b"2026-11-28 01:00:00.000 | ERROR    | a:b:1 | bad \x00 byte\nnext line\n")
    assert payloads(records(path)) == ["2026-11-28 01:00:00.000 | ERROR    | a:b:1 | bad \x00 byte", "next line"]


def test_random_bytes_are_one_problem(tmp_path):
    import random

    path = tmp_path / "junk.bin"
    path.write_bytes(random.Random(7).randbytes(100_000))
    assert records(path) == [Problem(f"{path}:1", "binary data, not a log export")]


def test_white_space_longer_than_the_sniff_window_before_the_data(tmp_path):
    path = tmp_path / "ws.json"
    path.write_text(" " * 9000 + "\n\n" + json.dumps([ENTRY_A, ENTRY_B], indent=2))
    items = records(path)
    assert payloads(items) == ["boom A", ENTRY_B["textPayload"]]
    assert [r.location for r in items] == [f"{path}:4", f"{path}:9"]


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
@pytest.mark.parametrize("indent", [None, 2])
def test_utf16_with_a_byte_order_mark_is_decoded(tmp_path, codec, indent):
    entries = [dict(ENTRY_A, textPayload="café 😀"), ENTRY_B]
    text = json.dumps(entries, indent=indent, ensure_ascii=False)
    bom = {"utf-16": b"", "utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}[codec]
    path = tmp_path / "ps.json"
    path.write_bytes(bom + text.encode(codec))
    items = records(path)
    assert payloads(items) == ["café 😀", ENTRY_B["textPayload"]] and problems(items) == []


def test_utf16_ndjson_with_a_lone_surrogate_and_an_odd_last_byte(tmp_path):
    path = tmp_path / "ps.ndjson"
    good = (json.dumps(ENTRY_A) + "\r\n").encode("utf-16-le")
    lone = '{"textPayload": "x'.encode("utf-16-le") + b"\x00\xd8" + '"}\r\n'.encode("utf-16-le")
    path.write_bytes(b"\xff\xfe" + good + lone + good + b"x")
    items = records(path)
    assert payloads(items) == ["boom A", "boom A"]
    assert [(p.location, p.reason) for p in problems(items)] == [
        (f"{path}:2", "undecodable bytes"), (str(path), "stopped reading: UTF-16 text ends in the middle of a character")]


def test_a_read_error_at_the_first_bytes_is_a_source_error(monkeypatch):
    from triage.sources import files

    class Failing(io.RawIOBase):
        def readable(self):
            return True

        def readinto(self, buffer):
            raise OSError(5, "Input/output error")

    monkeypatch.setattr(files, "_open_binary", lambda spec: Failing())
    with pytest.raises(SourceError, match=r"^dev: cannot read \(Input/output error\)$"):
        list(read_file("dev"))


@pytest.mark.skipif(not os.path.exists("/proc/self/mem"), reason="needs Linux /proc")
def test_an_unreadable_file_is_one_error_line(cli):
    result = cli("scan", "--no-state", "-s", "/proc/self/mem")
    assert result.exit_code == 2
    assert result.stderr == "Error: /proc/self/mem: cannot read (Input/output error)\n"


def test_stdin_given_twice_is_a_usage_error(cli):
    result = cli("scan", "--no-state", "-s", "-", "-s", "-", input=json.dumps(ENTRY_A) + "\n")
    assert result.exit_code == 2
    assert result.stderr == "Error: --source - is given more than once: standard input can be read only once\n"


def test_table_lines_before_the_first_row_are_counted(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes(
        b"TIMESTAMP                    SEV\xc5RITY  TEXT_PAYLOAD\n"  # a flipped bit costs that title only
        b"                                       orphan continuation\n"
        b"                             ERROR     row without a time\n"
        b"2026-11-28T01:00:02.000001Z  ERROR     boom\n"
    )
    items = records(path)
    assert [(r.location, r.data) for r in items if isinstance(r, Record)] == [
        (f"{path}:4", {"timestamp": "2026-11-28T01:00:02.000001Z", "sev\ufffdrity": "ERROR", "textPayload": "boom"})]
    assert [(p.location, p.reason) for p in problems(items)] == [(f"{path}:2", "text before the first table row")]


def test_plain_lines_coloured_by_loguru_keep_their_time(tmp_path):
    path = tmp_path / "c.log"
    line = "\x1b[32m2026-11-28 01:10:30.001\x1b[0m | \x1b[31mERROR   \x1b[0m | api:f:1 | Redis down"
    path.write_text(line + "\n")
    assert [r.data for r in records(path)] == [{"textPayload": line, "timestamp": "2026-11-28 01:10:30.001"}]


def test_coloured_lines_of_the_sample_log_fall_in_the_window(cli):
    from conftest import FIXTURES

    result = cli("scan", "--no-state", "-f", "json", "-s", FIXTURES / "sample.log",
                 "--from", "2026-11-28T00:00:00Z", "--until", "2026-11-29T00:00:00Z")
    [redis] = [c for c in json.loads(result.stdout)["clusters"] if c["rule"] == "redis-dns-resolution"]
    assert redis["count"] == 7


GCLOUD_ENTRY = {"insertId": "i1", "logName": "projects/p/logs/stderr", **ENTRY_A}
PREAMBLE_CASES = {
    "array": lambda: json.dumps([GCLOUD_ENTRY, GCLOUD_ENTRY], indent=2) + "\n",
    # gcloud logging read --format="json(timestamp,severity,textPayload)": no insertId, no logName
    "projected": lambda: json.dumps([{key: ENTRY_A[key] for key in ("timestamp", "severity", "textPayload")}] * 2, indent=2),
    "table": lambda: ("TIMESTAMP             SEVERITY  TEXT_PAYLOAD\n2026-11-28T01:00:00Z  ERROR     boom A\n"
                      "2026-11-28T01:00:01Z  ERROR     boom A\n"),
}


@pytest.mark.parametrize("shape", PREAMBLE_CASES)
@pytest.mark.parametrize("preamble", ["WARNING: Some requests were throttled.\n", "# export of api\n\n",
                                      '0Z","severity":"ERROR","textPayload":"cut by tail -c"}\n'])
def test_lines_before_an_export_are_counted_and_the_export_is_read(tmp_path, shape, preamble):
    path = tmp_path / "export"
    path.write_text(preamble + PREAMBLE_CASES[shape]())
    items = records(path)
    assert payloads(items) == ["boom A", "boom A"]
    assert [(p.location, p.reason) for p in problems(items)] == [
        (f"{path}:1", "a line before the export starts (a warning, a header, a cut line?)")
    ]
    first = next(r for r in items if isinstance(r, Record))
    assert first.location == f"{path}:{preamble.count(chr(10)) + 2}"


@pytest.mark.parametrize("preamble", ["WARNING: Some requests were throttled.", '0Z","textPayload":"cut by tail -c"}'])
def test_ndjson_after_a_line_of_text_is_read_line_by_line(tmp_path, preamble):
    path = tmp_path / "export"
    path.write_text(preamble + "\n" + (json.dumps(ENTRY_A) + "\n") * 2)
    assert [r.data for r in records(path)] == [{"textPayload": preamble}, ENTRY_A, ENTRY_A]


@pytest.mark.parametrize(
    "text",
    [
        "Starting…\nresults:\n[]\n2026-11-28 01:00:00,000 ERROR db down\n2026-11-28 01:00:01,000 ERROR db down\n",
        "loaded\n[{'id': 1}]\n[1, 2, 3]\n[\"a\", \"b\"]\nERROR boom\n",
        "banner\n2026-11-28T01:00:00Z\tstarted\nplain line one\nplain line two\nplain line three\n",
        "ERROR TIMESTAMP MISMATCH\n2026-11-28 01:00:01 ERROR db down\n",
        "boot\n" + "[" + "\n" + "  1,\n  2\n]\nERROR done\n",
        'Starting worker\nloaded\n[{"timestamp": "2026-01-01T00:00:00Z", "value": 3}]\nERROR db down\n',  # app data
        "boot\nTIMESTAMP skew detected 3s\n2026-01-01 00:00:01 ERROR db down\n",
        "starting\n2026-01-01T00:00:00Z\tstarted\n2026-01-01T00:00:01Z\tready\nERROR db down\nERROR again\n",
        # a log that prints an array of entry-like objects, with no time before it: the log goes on after it
        "Starting worker\nloaded:\n" + json.dumps([{"timestamp": "2026-01-01T00:00:00Z", "severity": "INFO"}], indent=2)
        + "\nERROR app: database unreachable\n",
        # a log that prints a gcloud-shaped array: the log goes on after it
        "[2026-01-01 00:00:00 +0000] [1] [INFO] dump:\n" + json.dumps([{"insertId": "a", "logName": "l"}], indent=2)
        + "\n[2026-01-01 00:00:01 +0000] [7] [ERROR] Worker failed to boot.\n",
    ],
)
def test_text_that_only_looks_like_a_preamble_stays_text(tmp_path, text):
    path = tmp_path / "app.log"
    path.write_text(text)
    items = records(path)
    assert problems(items) == []
    assert "".join(r.data["textPayload"] + "\n" for r in items) == text.replace("\n  ", "\n  ")


def test_json_lines_among_text_lines_are_read_as_json(tmp_path):
    path = tmp_path / "mixed.log"
    lines = ["app starting", json.dumps(ENTRY_A), '{worker-1} a log prefix, not JSON', json.dumps({"entries": [ENTRY_A]})]
    path.write_text("\n".join(lines) + "\n")
    items = records(path)
    assert [r.data for r in items] == [{"textPayload": "app starting"}, ENTRY_A, {"textPayload": lines[2]}, ENTRY_A]
    assert [r.location for r in items] == [f"{path}:{n}" for n in (1, 2, 3, 4)]


def test_a_text_entry_holds_at_most_max_entry_lines(tmp_path):
    from triage.sources.text import MAX_ENTRY_LINES

    path = tmp_path / "indented.log"
    path.write_text("start\n" + "  continued\n" * (MAX_ENTRY_LINES * 2 + 5))  # memory stays flat
    sizes = [r.data["textPayload"].count("\n") + 1 for r in records(path)]
    assert sizes == [MAX_ENTRY_LINES, MAX_ENTRY_LINES, 6]


WRITE_REQUEST = {  # a WriteLogEntries request body: logName, resource and labels are its entries' defaults
    "logName": "projects/p/logs/run.googleapis.com%2Fstderr",
    "resource": {"type": "cloud_run_revision", "labels": {"service_name": "api"}},
    "labels": {"env": "prod", "instanceId": "i-1"},
    "entries": [ENTRY_A, {**ENTRY_A, "labels": {"instanceId": "i-2"}, "resource": {"labels": {"service_name": "web"}}}],
}


@pytest.mark.parametrize("indent", [None, 2])
def test_a_write_request_gives_its_entries_their_defaults(tmp_path, indent):
    path = tmp_path / "request.json"
    path.write_text(json.dumps(WRITE_REQUEST, indent=indent) + "\n")
    first, second = records(path)
    assert first.data == {**ENTRY_A, "logName": WRITE_REQUEST["logName"], "resource": WRITE_REQUEST["resource"],
                          "labels": {"env": "prod", "instanceId": "i-1"}}
    assert second.data["labels"] == {"env": "prod", "instanceId": "i-2"}  # the entry's own win
    assert second.data["resource"] == {"labels": {"service_name": "web"}}


@pytest.mark.parametrize(
    ("wrapper", "entries"),
    [
        ({"project": "p", "labels": {"env": "prod"}, "entries": [ENTRY_A, ENTRY_A]}, 0),  # no WriteLogEntries request
        ({"result": {"entries": [ENTRY_A, ENTRY_A, ENTRY_A]}}, 3),
        ({"message": "export done", "entries": [ENTRY_A]}, 0),  # an app's JSON line that holds entries: a record
        ({"labels": {"k": "v"}, "items_seen": [ENTRY_A]}, 0),  # a list not named like an entry list, beside labels
        ({"labels": {"k": "v"}, "items": [{"severity": "high", "id": 1}]}, 0),  # an app's line: items, not entries
        ({"level": "error", "event": "sync failed", "result": {"items": [{"severity": "high", "id": 1}]}}, 0),
        ({"level": "error", "resource": "orders", "entries": [{"timestamp": "2026-01-01T00:00:00Z", "amount": 5}]}, 0),
        ({"data": {"entries": [{"timestamp": "2026-01-01T00:00:00Z", "qty": 3}]}}, 0),
    ],
)
def test_one_line_wrappers_with_metadata_or_nested(tmp_path, wrapper, entries):
    path = tmp_path / "w.ndjson"
    path.write_text(json.dumps(wrapper) + "\n")
    items = records(path)
    assert problems(items) == []
    assert [r.data for r in items] == ([{**ENTRY_A, **({"labels": wrapper["labels"]} if "labels" in wrapper else {})}]
                                       * entries or [wrapper])


@pytest.mark.parametrize("damage", [('"boom 3"', '"boom 3'), ('"boom 3"', '{"boom 3"'), ('}]}}', '}]}')])
def test_a_broken_element_of_an_array_on_one_line_costs_that_element_only(tmp_path, damage):
    nested = {"jsonPayload": {"message": "ok", "items": [{"id": 1}, {"textPayload": "nested", "id": 2}]}}
    entries = [{**ENTRY_A, "textPayload": f"boom {i}", **(nested if i % 2 else {})} for i in range(8)]
    path = tmp_path / "one-line.json"
    text = json.dumps(entries)
    at = text.index('"boom 3"')  # element 3 is damaged: a quote or a brace lost, a brace too many
    path.write_text(text[:at] + text[at:].replace(*damage, 1))
    items = records(path)
    assert payloads(items) == [f"boom {i}" for i in range(8) if i != 3]
    assert [p.reason for p in problems(items)] == ["malformed JSON entry"]


def test_an_element_cut_inside_a_string_of_an_array_on_one_line_costs_that_element_only(tmp_path):
    parts = [json.dumps({**ENTRY_A, "textPayload": f"boom {i}", "insertId": f"i{i}"}) for i in range(6)]
    parts[3] = parts[3][: parts[3].index("boom 3") + 3]  # cut inside its text: its string runs on into the next
    path = tmp_path / "one-line.json"
    path.write_text("[" + ", ".join(parts) + "]")
    items = records(path)
    assert payloads(items) == ["boom 0", "boom 1", "boom 2", "boom 4", "boom 5"]
    assert [p.reason for p in problems(items)] == ["malformed JSON entry"]


def test_a_table_whose_timestamp_is_not_the_first_column(tmp_path):
    path = tmp_path / "table.txt"
    path.write_text("SEVERITY  TIMESTAMP                 TEXT_PAYLOAD\n"
                    "ERROR     2026-11-28T01:00:00.000Z  boom A\n"
                    "WARNING   2026-11-28T01:00:01.000Z  slow\n")
    assert [r.data for r in records(path)] == [
        {"severity": "ERROR", "timestamp": "2026-11-28T01:00:00.000Z", "textPayload": "boom A"},
        {"severity": "WARNING", "timestamp": "2026-11-28T01:00:01.000Z", "textPayload": "slow"},
    ]


def test_a_row_with_a_blank_cell_before_its_timestamp_is_a_row_of_its_own(tmp_path):
    # gcloud leaves a cell blank for a field an entry lacks: a stdout line's severity, a request's text
    path = tmp_path / "table.txt"
    path.write_text("SEVERITY  TIMESTAMP                 TEXT_PAYLOAD\n"
                    "ERROR     2026-11-28T01:00:00.000Z  boom A\n"
                    "          2026-11-28T01:00:01.000Z  plain stdout line\n"
                    "                                    continued\n"
                    "ValueError: raw line of a traceback\n")
    assert [r.data for r in records(path)] == [
        {"severity": "ERROR", "timestamp": "2026-11-28T01:00:00.000Z", "textPayload": "boom A"},
        {"timestamp": "2026-11-28T01:00:01.000Z",
         "textPayload": "plain stdout line\ncontinued\nValueError: raw line of a traceback"},
    ]
    path.write_text("TEXT_PAYLOAD  TIMESTAMP             SEVERITY\n"
                    "boom A        2026-11-28T01:00:00Z  ERROR\n"
                    "              2026-11-28T01:00:01Z  ERROR\n")
    assert [r.data for r in records(path)] == [
        {"textPayload": "boom A", "timestamp": "2026-11-28T01:00:00Z", "severity": "ERROR"},
        {"timestamp": "2026-11-28T01:00:01Z", "severity": "ERROR"},
    ]


def test_value_rows_without_a_severity_field(tmp_path):
    path = tmp_path / "value.txt"
    path.write_text("2026-11-28T01:00:00Z\tERROR\tboom A\n2026-11-28T01:00:01Z\tRedis said: no\tmore\n"
                    "2026-11-28T01:00:02Z\t12345\n2026-11-28T01:00:03Z\t500\tboom B\n")
    assert [r.data for r in records(path)] == [
        {"timestamp": "2026-11-28T01:00:00Z", "severity": "ERROR", "textPayload": "boom A"},
        {"timestamp": "2026-11-28T01:00:01Z", "textPayload": "Redis said: no\tmore"},
        {"timestamp": "2026-11-28T01:00:02Z", "textPayload": "12345"},  # no LogSeverity number
        {"timestamp": "2026-11-28T01:00:03Z", "severity": "500", "textPayload": "boom B"},
    ]


def test_a_broken_element_of_an_array_of_one_element_per_line_ends_with_its_line(tmp_path):
    nested = {**ENTRY_A, "jsonPayload": {"history": [{"textPayload": "nested a"}, {"textPayload": "nested b"}]}}
    lines = [json.dumps(e) for e in [ENTRY_A, nested, *[ENTRY_A] * 3]]
    lines[1] = lines[1][:-1]  # its closing brace lost
    path = tmp_path / "per-line.json"
    path.write_text("[\n" + ",\n".join(lines) + "\n]\n")
    items = records(path)
    assert payloads(items) == ["boom A"] * 4  # no record made of a nested object, none lost after it
    assert [p.location for p in problems(items)] == [f"{path}:3"]


def test_a_value_entry_keeps_all_its_lines(tmp_path):
    from triage.sources.text import MAX_ENTRY_LINES

    path = tmp_path / "value.txt"
    path.write_text("2026-11-28T01:00:00Z\tERROR\tTraceback (most recent call last):\n" + "  line\n" * MAX_ENTRY_LINES)
    [record] = records(path)
    assert record.data["textPayload"].count("\n") == MAX_ENTRY_LINES


def test_a_broken_first_element_does_not_resume_inside_its_own_nested_objects(tmp_path):
    broken = '[{"insertId": "a", "jsonPayload": {"batch": [{"x": 1}, {"textPayload": "inner"}, {"z": 3}], "note": "cut he'
    lines = [broken] + [json.dumps({"insertId": f"i{n}", **ENTRY_A}) + "," for n in range(3)]
    path = tmp_path / "cut.json"
    path.write_text("\n".join(lines)[:-1] + "\n]\n")
    items = records(path)
    assert payloads(items) == ["boom A"] * 3
    assert len(problems(items)) == 1


def test_a_timed_line_before_a_gcloud_array_that_ends_the_file_is_a_preamble(tmp_path):
    path = tmp_path / "export.json"
    path.write_text("2026-11-30T23:13:35+00:00\n" + json.dumps([GCLOUD_ENTRY] * 3, indent=2) + "\n")
    items = records(path)
    assert payloads(items) == ["boom A"] * 3 and len(problems(items)) == 1


def test_a_resync_finds_entries_that_begin_with_another_of_gclouds_first_keys(tmp_path):
    request = {"httpRequest": {"status": 500}, "insertId": "r1", "logName": "l", "textPayload": "req"}
    entries = [dict(GCLOUD_ENTRY, insertId=f"i{n}") for n in range(4)]
    text = json.dumps([request, *entries])
    path = tmp_path / "one-line.json"
    path.write_text(text.replace('"req"', '"req', 1))  # the request log, first, is broken
    items = records(path)
    assert payloads(items) == ["boom A"] * 4 and len(problems(items)) == 1


def test_a_container_log_of_json_lines_then_a_crash_printed_as_text_is_read_as_text(tmp_path):
    path = tmp_path / "container.log"
    path.write_text(
        '{"severity": "INFO", "message": "server started", "time": "2026-11-30T10:00:00Z"}\n'
        "2026-11-30 10:00:10,000 ERROR app: database unreachable\n"
        "Traceback (most recent call last):\n"
        '  File "/app/a.py", line 3, in f\n'
        "ValueError: boom\n"
    )
    items = records(path)
    assert problems(items) == []
    assert items[0].data["message"] == "server started"  # its JSON line read as NDJSON reads it
    assert "\n".join(r.data["textPayload"] for r in items[1:]) == (
        "2026-11-30 10:00:10,000 ERROR app: database unreachable\n"
        'Traceback (most recent call last):\n  File "/app/a.py", line 3, in f\nValueError: boom'
    )


@pytest.mark.parametrize("banner", ["TIMESTAMP skew detected on node-1", "TIMESTAMP SKEW DETECTED"])
def test_a_log_whose_first_line_starts_with_the_word_timestamp_is_no_table(tmp_path, banner):
    path = tmp_path / "app.log"
    path.write_text(f"{banner}\n2026-11-30 10:00:01,000 ERROR app: failure one\n")
    assert [r.data["textPayload"] for r in records(path)] == [banner, "2026-11-30 10:00:01,000 ERROR app: failure one"]


def test_a_table_with_times_in_another_format_has_its_rows(tmp_path):
    path = tmp_path / "table.txt"  # table(timestamp.date('%Y-%m-%d %H:%M:%S'),severity,textPayload)
    path.write_text("TIMESTAMP            SEVERITY  TEXT_PAYLOAD\n2026-11-30 10:00:05  ERROR     boom one\n"
                    "                               continued\n2026-11-30 10:00:06  ERROR     boom two\n")
    assert [r.data for r in records(path)] == [
        {"timestamp": "2026-11-30 10:00:05", "severity": "ERROR", "textPayload": "boom one\ncontinued"},
        {"timestamp": "2026-11-30 10:00:06", "severity": "ERROR", "textPayload": "boom two"},
    ]


def test_a_table_level_column_is_read_as_the_payloads_level(tmp_path):
    path = tmp_path / "table.txt"
    path.write_text("TIMESTAMP             LEVEL  MESSAGE\n2026-11-30T10:00:01Z  ERROR  failure one\n")
    assert [r.data for r in records(path)] == [
        {"timestamp": "2026-11-30T10:00:01Z", "jsonPayload": {"level": "ERROR", "message": "failure one"}}]


def test_an_array_of_entries_on_one_ndjson_line_is_read_entry_by_entry(tmp_path):
    path = tmp_path / "mixed.ndjson"
    lines = [ENTRY_A, {"entries": [ENTRY_A]}, [ENTRY_A, ENTRY_A, 3], [], [1], [2, ENTRY_A]]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    items = records(path)
    assert payloads(items) == ["boom A"] * 5
    assert [(p.location, p.reason) for p in problems(items)] == [
        (f"{path}:3", "expected a JSON object, found int"),
        (f"{path}:4", "expected a JSON object, found list"),
        (f"{path}:5", "expected a JSON object, found list"),
        (f"{path}:6", "expected a JSON object, found int"),
    ]
    text = tmp_path / "mixed.log"  # read as a plain log: its array lines are read alike
    text.write_text("2026-11-28 01:00:00,000 INFO app: started\n" + json.dumps([ENTRY_A, ENTRY_A]) + "\n")
    assert payloads(records(text)) == ["2026-11-28 01:00:00,000 INFO app: started", "boom A", "boom A"]


def test_an_element_on_one_line_of_a_pretty_printed_array_is_read_alone(tmp_path):
    entries = [{**ENTRY_A, "insertId": f"i{n}"} for n in range(6)]
    elements = ["  " + json.dumps(e, indent=2).replace("\n", "\n  ") for e in entries]
    elements[2] = "  " + json.dumps(entries[2])  # written compactly by a script
    elements.insert(4, "  {}")
    path = tmp_path / "mixed.json"
    path.write_text("[\n" + ",\n".join(elements) + "\n]\n")
    items = records(path)
    assert problems(items) == []
    assert [r.data.get("insertId") for r in items] == ["i0", "i1", "i2", "i3", None, "i4", "i5"]
