import itertools
import json
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from triage.model import Entry, Severity
from triage.stitch import Stitcher, stitch

T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
US = timedelta(microseconds=7)
DEV = Path(__file__).resolve().parents[2] / "shared" / "netra" / "dev"

TRACEBACK = [
    "Traceback (most recent call last):",
    '  File "/srv/app/handlers.py", line 42, in handle',
    "    result = compute(payload)",
    "             ^^^^^^^^^^^^^^^^",
    '  File "/srv/app/compute.py", line 7, in compute',
    '    raise ValueError("bad payload")',
    "ValueError: bad payload",
]
SECOND = [
    "Traceback (most recent call last):",
    '  File "/srv/app/handlers.py", line 45, in handle',
    "    raise HandlerFailed(request_id) from exc",
    "app.errors.HandlerFailed: request r-17 failed",
]
DURING = "During handling of the above exception, another exception occurred:"
CAUSE = "The above exception was the direct cause of the following exception:"


def entry(message, ts=T0, *, instance="inst-a", severity=Severity.DEFAULT, inferred=False, n=0, **kw):
    return Entry(
        timestamp=ts,
        severity=severity,
        message=message,
        service="api",
        instance=instance,
        log_name="run.googleapis.com/stderr",
        severity_inferred=inferred,
        insert_id=f"id-{instance}-{n:04d}",
        raw={"n": n},
        **kw,
    )


def emitted(lines, start=T0, step=US, **kw):
    """One entry per line, in emit (ascending) order."""
    return [entry(line, start + i * step, n=i, **kw) for i, line in enumerate(lines)]


def lines_of(entries):
    return Counter(line for e in entries for line in e.message.split("\n"))


def test_split_traceback_ascending_and_descending_give_the_same_single_event():
    ascending = emitted(TRACEBACK)
    up = list(stitch(ascending))
    down = list(stitch(reversed(ascending)))
    assert up == down
    [event] = up
    assert event.message == "\n".join(TRACEBACK)
    assert event.timestamp == T0
    assert event.severity is Severity.ERROR and event.severity_inferred
    assert event.insert_id == ascending[0].insert_id and event.raw == {"n": 0}


def test_equal_timestamps_in_either_file_order_give_emit_order():
    same_time = emitted(TRACEBACK, step=timedelta(0))
    for stream in (same_time, same_time[::-1]):
        [event] = stitch(stream)
        assert event.message == "\n".join(TRACEBACK)


def test_equal_timestamps_follow_the_stream_direction_when_structure_cannot_tell():
    first = entry("\n".join(TRACEBACK), severity=Severity.ERROR, n=1)
    joiner = entry(DURING, n=2)
    second = entry("\n".join(SECOND), severity=Severity.ERROR, n=3)
    before = entry("request started", T0 - timedelta(seconds=5), instance="other")
    after = entry("request finished", T0 + timedelta(seconds=5), instance="other")
    expected = "\n".join([*TRACEBACK, DURING, *SECOND])
    [_, event, _] = stitch([before, first, joiner, second, after])
    assert event.message == expected
    [_, event, _] = stitch([after, second, joiner, first, before])
    assert event.message == expected


def test_two_interleaved_instances_stay_separate():
    a = emitted(TRACEBACK, instance="inst-a")
    b = emitted(SECOND, start=T0 + US * 3, instance="inst-b")
    mixed = [e for pair in itertools.zip_longest(a, b) for e in pair if e is not None]
    for stream in (mixed, mixed[::-1]):
        events = {e.instance: e.message for e in stitch(stream)}
        assert events == {"inst-a": "\n".join(TRACEBACK), "inst-b": "\n".join(SECOND)}


def test_entries_without_instance_are_grouped_by_service_and_log():
    a = [entry(line, T0, instance=None, n=i) for i, line in enumerate(TRACEBACK)]
    b = [
        Entry(T0, Severity.DEFAULT, line, service="worker", log_name="stderr", insert_id=str(i))
        for i, line in enumerate(SECOND)
    ]
    mixed = [e for pair in itertools.zip_longest(a, b) for e in pair if e is not None]
    assert sorted(e.message for e in stitch(mixed)) == sorted(["\n".join(TRACEBACK), "\n".join(SECOND)])


@pytest.mark.parametrize("joiner", [DURING, CAUSE])
def test_chained_exception_of_error_entries_and_a_joiner_becomes_one_event(joiner):
    first = entry("\n".join(TRACEBACK), T0, severity=Severity.ERROR, n=1)
    middle = entry(joiner, T0 + timedelta(milliseconds=2), n=2)
    second = entry("\n".join(SECOND), T0 + timedelta(milliseconds=2), severity=Severity.ERROR, n=3)
    expected = "\n".join([*TRACEBACK, joiner, *SECOND])
    for stream in ([first, middle, second], [second, middle, first]):
        [event] = stitch(stream)
        assert event.message == expected
        assert event.severity is Severity.ERROR and not event.severity_inferred
        assert event.timestamp == T0 and event.insert_id == first.insert_id


@pytest.mark.parametrize("joiner", [DURING, CAUSE])
def test_chain_split_line_by_line_becomes_one_event(joiner):
    lines = [*TRACEBACK, joiner, *SECOND]
    ascending = emitted(lines)
    for stream in (ascending, ascending[::-1]):
        out = list(stitch(stream))
        assert [e.message for e in out] == ["\n".join(lines)]


def test_joiner_attaches_to_error_entries_without_traceback_text():
    first = entry("database unreachable: timeout", severity=Severity.ERROR, n=1)
    middle = entry(CAUSE, n=2)
    second = entry("startup failed: database", severity=Severity.CRITICAL, n=3)
    [event] = stitch([first, middle, second])
    assert event.message.split("\n") == [first.message, CAUSE, second.message]
    assert event.severity is Severity.CRITICAL and not event.severity_inferred


def test_unrelated_entries_pass_through_unchanged_and_in_order():
    stream = [
        entry("2025-03-01 12:00:00 | INFO | app:run:1 | started", T0, n=1),
        entry("/srv/app/cache.py:12: DeprecationWarning: use aclose()", T0 + US, severity=Severity.WARNING, n=2),
        entry("  await client.close()", T0 + 2 * US, n=3),
        entry("INFO:     Application startup complete.", T0 + 3 * US, n=4),
        entry("   - Local:        http://localhost:3000", T0 + 4 * US, instance="web", n=5),
        entry("worker exited with code 3", T0 + 5 * US, severity=Severity.ERROR, n=6),
        entry("GET /health 200", T0 + 6 * US, n=7),
        entry("ValueError: shown in a message, not a traceback", T0 + 7 * US, n=8),
    ]
    for given in (stream, stream[::-1]):
        out = list(stitch(given))
        assert len(out) == len(given) and all(a is b for a, b in zip(out, given))


def test_a_traceback_among_other_entries_keeps_its_place():
    before = entry("request started", T0 - timedelta(seconds=1), n=100)
    after = entry("request finished", T0 + timedelta(seconds=1), n=101)
    stream = [before, *emitted(TRACEBACK), after]
    for given in (stream, stream[::-1]):
        out = [e.message for e in stitch(given)]
        expected = [before.message, "\n".join(TRACEBACK), after.message]
        assert out == (expected if given is stream else expected[::-1])


def test_a_traceback_at_the_end_of_the_stream_is_flushed():
    stream = [entry("request started", T0 - timedelta(milliseconds=1), n=100), *emitted(TRACEBACK)]
    assert [e.message for e in stitch(iter(stream))] == ["request started", "\n".join(TRACEBACK)]


def test_an_incomplete_traceback_still_becomes_one_event():
    lines = TRACEBACK[:5]
    for stream in (emitted(lines), emitted(lines)[::-1]):
        [event] = stitch(stream)
        assert event.message == "\n".join(lines)


def test_plain_file_shape_without_timestamps_is_stitched():
    block = entry("\n".join(TRACEBACK[:-1]), None, n=1)
    last = entry(TRACEBACK[-1], None, n=2)
    tail = entry("next request", None, n=3)
    out = list(stitch([block, last, tail]))
    assert [e.message for e in out] == ["\n".join(TRACEBACK), "next request"]
    assert out[0].timestamp is None


def test_a_time_gap_splits_events():
    lines = [*TRACEBACK, *SECOND]
    stream = emitted(TRACEBACK) + emitted(SECOND, start=T0 + timedelta(seconds=5))
    expected = ["\n".join(TRACEBACK), "\n".join(SECOND)]
    assert [e.message for e in stitch(stream)] == expected
    assert [e.message for e in stitch(stream[::-1])] == expected[::-1]
    # frames separated by a gap are not glued together either
    torn = emitted(TRACEBACK[:4]) + emitted(TRACEBACK[4:], start=T0 + timedelta(seconds=5))
    out = list(stitch(torn))
    assert len(out) == 2 and lines_of(out) == lines_of(torn)
    assert lines_of(stitch(stream)) == Counter(lines)


def test_back_to_back_tracebacks_without_joiner_stay_separate():
    stream = emitted([*TRACEBACK, *SECOND])
    expected = ["\n".join(TRACEBACK), "\n".join(SECOND)]
    assert [e.message for e in stitch(stream)] == expected
    assert [e.message for e in stitch(stream[::-1])] == expected[::-1]


def test_member_severity_is_kept_when_declared():
    stream = emitted(TRACEBACK)
    stream[-1] = entry(TRACEBACK[-1], stream[-1].timestamp, severity=Severity.CRITICAL, n=99)
    [event] = stitch(stream)
    assert event.severity is Severity.CRITICAL and not event.severity_inferred


def test_an_infinite_stream_passes_through_lazily():
    unrelated = (entry(f"GET /items/{i} 200", None, instance=f"i{i % 7}", n=i) for i in itertools.count())
    out = list(itertools.islice(stitch(unrelated), 100_000))
    assert len(out) == 100_000 and out[-1].message == "GET /items/99999 200"


def test_pending_lines_are_bounded():
    frames = (entry(f'  File "/srv/app/m{i}.py", line {i}, in f', None, n=i) for i in itertools.count())
    out = list(itertools.islice(stitch(frames, max_lines=50), 3))
    assert [e.message.count("\n") for e in out] == [49, 49, 49]


def test_entries_queued_behind_a_pending_traceback_are_bounded():
    header = entry(TRACEBACK[0], None, instance="crashing")
    others = (entry(f"GET /items/{i} 200", None, instance="busy", n=i) for i in itertools.count())
    out = list(itertools.islice(stitch(itertools.chain([header], others), max_lines=100), 1000))
    assert out[0] is header and out[-1].message == "GET /items/998 200"


def _fed_and_skipped(entries, skipped_at: int, skipped_instance: str):
    """Stitch ``entries``, with an entry of ``skipped_instance``'s stream only skipped at ``skipped_at``."""
    stitcher, out = Stitcher(), []
    for i, e in enumerate(entries):
        if i == skipped_at:
            data = {"labels": {"instanceId": skipped_instance}, "logName": "projects/p/logs/run.googleapis.com%2Fstderr"}
            out += stitcher.skip(e.timestamp, data)
        out += stitcher.feed(e)
    return out + stitcher.close()


def test_skipping_an_entry_ends_its_streams_run_as_feeding_it_would():
    lines = emitted(TRACEBACK)
    healthy = entry("request served", T0 + 3 * US, severity=Severity.INFO, n=99)
    fed = list(stitch(lines[:3] + [healthy] + lines[3:]))
    assert [e for e in fed if e is not healthy] == _fed_and_skipped(lines, 3, "inst-a")
    assert len(fed) == 4  # the cut run: its head, the healthy line, a stray caret line, the last frames


def test_skipping_an_entry_of_another_stream_leaves_the_run_alone():
    [event] = _fed_and_skipped(emitted(TRACEBACK), 3, "inst-b")
    assert event.message == "\n".join(TRACEBACK)


def _real_entries(path: Path):
    for i, record in enumerate(json.loads(path.read_text())):
        text = record.get("textPayload")
        if not isinstance(text, str) or not text.strip():
            continue
        yield Entry(
            timestamp=datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00")),
            severity=Severity.parse(record["severity"]) if record.get("severity") else Severity.DEFAULT,
            message=text,
            service=record.get("resource", {}).get("labels", {}).get("service_name"),
            instance=record.get("labels", {}).get("instanceId"),
            log_name=record.get("logName"),
            insert_id=record.get("insertId"),
            location=f"{path.name}#{i}",
        )


@pytest.mark.skipif(not DEV.is_dir(), reason="../shared/netra/dev not available")
def test_real_exports_leave_no_standalone_joiner_or_frame():
    files = sorted(DEV.glob("*.json"))
    assert files
    for path in files:
        given = list(_real_entries(path))
        out = list(stitch(given))
        assert lines_of(out) == lines_of(given), path.name
        assert not [e for e in out if e.message.startswith(("During handling of the above exception", '  File "'))]


def _loguru(text, ts, n, severity=Severity.DEFAULT):
    """An entry of a loguru line as Cloud Run stores it (raw text with markup, message cleaned)."""
    from dataclasses import replace

    from triage.entries import clean_text

    return replace(entry(clean_text(text), ts, n=n, severity=severity), raw={"textPayload": text})


HEAD = '2025-08-25 16:24:10.285 | ERROR    | app.health:check:150 | <red>Connectivity test failed: database "netra_dev'
REST = '" does not exist</red>'


@pytest.mark.parametrize("descending", [False, True])
def test_a_message_cloud_run_split_at_a_line_break_is_joined_again(descending):
    parts = [_loguru(HEAD, T0, 0, Severity.ERROR), entry("other stream", T0 + US, instance="inst-b", n=1),
             _loguru(REST, T0 + 2 * US, 2)]
    out = list(stitch(parts[::-1] if descending else parts))
    joined = [e for e in out if e.instance == "inst-a"]
    assert [e.message for e in joined] == [
        '2025-08-25 16:24:10.285 | ERROR    | app.health:check:150 | Connectivity test failed: database "netra_dev\\n"'
        " does not exist"
    ]
    assert (joined[0].severity, joined[0].timestamp) == (Severity.ERROR, T0)
    assert len(out) == 2


def test_parts_that_do_not_pair_stay_as_they_are():
    alone = [_loguru(REST, T0, 0), entry("next line", T0 + US, n=1)]
    assert [e.message for e in stitch(alone)] == ['" does not exist', "next line"]
    head_only = [_loguru(HEAD, T0, 0, Severity.ERROR), _loguru("<green>all good</green>", T0 + US, 1)]
    assert len(list(stitch(head_only))) == 2


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("prompt sent: <s>[INST] summarise", "completion rejected: stop token </s> missing"),  # model tokens
        ("<b>bold start", "end of bold</b> here"),  # HTML
        (HEAD, "2025-08-25 16:24:10.290 | WARNING | app:x:1 | cache miss</green>"),  # another colour
    ],
)
def test_only_a_colour_closed_as_it_was_opened_joins(first, second):
    parts = [_loguru(first, T0, 0), _loguru(second, T0 + US, 1, Severity.ERROR)]
    assert len(list(stitch(parts))) == 2


def test_a_traceback_with_markup_in_it_stays_one_traceback():
    lines = ["Traceback (most recent call last):", '  File "/app/v.py", line 3, in render', '    return "<b>" + name',
             "TypeError: can only concatenate str (not \"int\") to str"]
    parts = [_loguru(line, T0 + i * US, i) for i, line in enumerate(lines)]
    [event] = stitch(parts)  # one event (its message cleaned of what looks like markup, as every message is)
    assert event.message.startswith(lines[0]) and event.message.endswith(lines[-1])


def test_a_two_entry_traceback_in_colour_is_stitched_as_a_traceback():
    parts = [_loguru('<red>Traceback (most recent call last):\n  File "/app/v.py", line 3, in f\n    g()', T0, 0),
             _loguru("KeyError: 'user_id'</red>", T0 + US, 1)]
    [event] = stitch(parts)
    assert event.message.endswith("    g()\nKeyError: 'user_id'") and event.severity is Severity.ERROR


def test_the_joined_message_takes_the_higher_level():
    parts = [_loguru("<red>upstream said: bad", T0, 0, Severity.INFO), _loguru("gateway</red>", T0 + US, 1, Severity.ERROR)]
    [event] = stitch(parts)
    assert (event.message, event.severity) == ("upstream said: bad\\ngateway", Severity.ERROR)


def test_messages_far_apart_in_time_are_not_joined_even_when_their_colours_pair():
    parts = [_loguru("<green>request started", T0, 0), _loguru("payment declined</green>", T0 + timedelta(milliseconds=40), 1,
                                                              Severity.ERROR)]
    assert [e.message for e in stitch(parts)] == ["request started", "payment declined"]
