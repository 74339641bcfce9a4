import dataclasses
import sqlite3
from datetime import timedelta

import pytest

from triage.errors import TriageError
from triage.model import ScanResult, Severity, Window
from triage.selection import resolve_fingerprint
from triage.state import SCHEMA_VERSION, StateStore, default_state_dir, require_latest, state_path
from cluster_factory import T0, rule_cluster, scan_result, unmatched_cluster


@pytest.fixture
def store(tmp_path):
    with StateStore.in_dir(tmp_path / "state") as opened:
        yield opened


def test_round_trip_is_exact(store):
    result = scan_result()
    scan_id = store.record_scan(result)
    assert store.latest_scan()[1] == result
    assert store.latest_scan() == (scan_id, result)
    loaded = store.latest_scan()[1].clusters[0]
    assert loaded.rule.five_whys == rule_cluster().rule.five_whys
    assert loaded.occurrences == rule_cluster().occurrences


def test_round_trip_keeps_a_clusters_lowest_severity_and_older_results_read_it_as_unknown():
    from triage.serialize import scan_result_from_dict, scan_result_to_dict

    known = scan_result(dataclasses.replace(unmatched_cluster(), least_severity=Severity.WARNING))
    assert scan_result_from_dict(scan_result_to_dict(known)) == known
    older = scan_result_to_dict(known)
    del older["clusters"][0]["least_severity"]
    assert scan_result_from_dict(older).clusters[0].least_severity is None


def test_round_trip_keeps_a_clusters_regions_and_older_results_read_none(store):
    from triage.serialize import scan_result_from_dict, scan_result_to_dict

    known = scan_result(dataclasses.replace(unmatched_cluster(), regions={"us-central1": 3, "europe-west1": 1}))
    store.record_scan(known)
    assert store.latest_scan()[1] == known
    older = scan_result_to_dict(known)
    del older["clusters"][0]["regions"]
    assert scan_result_from_dict(older).clusters[0].regions == {}


def test_round_trip_keeps_the_stream_source_order_and_severity_of_occurrences_and_older_results_read_none():
    from triage.serialize import scan_result_from_dict, scan_result_to_dict

    cluster = rule_cluster()
    texts = tuple(
        dataclasses.replace(
            o, instance=None, stream="fixtures/sample.log", source="fixtures/sample.log", order=-10 - k,
            severity=(Severity.WARNING, Severity.ERROR)[k % 2],
        )
        for k, o in enumerate(cluster.occurrences)
    )
    known = scan_result(dataclasses.replace(cluster, occurrences=texts))
    assert scan_result_from_dict(scan_result_to_dict(known)) == known
    older = scan_result_to_dict(known)
    older["clusters"][0]["occurrences"] = [o[:7] for o in older["clusters"][0]["occurrences"]]
    assert scan_result_from_dict(older).clusters[0].occurrences == tuple(
        dataclasses.replace(o, severity=None) for o in texts
    )
    for fields, streams in ((5, ["fixtures/sample.log"] * len(texts)), (4, [None] * len(texts))):
        older = scan_result_to_dict(known)
        older["clusters"][0]["occurrences"] = [o[:fields] for o in older["clusters"][0]["occurrences"]]
        occurrences = scan_result_from_dict(older).clusters[0].occurrences
        assert [o.stream for o in occurrences] == streams
        assert [(o.source, o.order, o.severity) for o in occurrences] == [(None, None, None)] * len(texts)
    assert len(texts) > 1


def test_round_trip_keeps_each_samples_severity_and_older_results_read_it_as_unknown(store):
    from triage.serialize import scan_result_from_dict, scan_result_to_dict

    cluster = unmatched_cluster()
    severe = dataclasses.replace(cluster, samples=tuple(dataclasses.replace(s, severity=Severity.ERROR) for s in cluster.samples))
    store.record_scan(scan_result(severe))
    assert store.latest_scan()[1].clusters[0].samples == severe.samples
    older = scan_result_to_dict(scan_result(severe))
    older["clusters"][0]["samples"] = [item[:5] for item in older["clusters"][0]["samples"]]
    assert scan_result_from_dict(older).clusters[0].samples == cluster.samples
    assert {s.severity for s in cluster.samples} == {None}


def test_round_trip_keeps_open_windows_and_missing_times(store):
    cluster = dataclasses.replace(unmatched_cluster(), first_seen=None, last_seen=None)
    result = dataclasses.replace(scan_result(cluster), window=Window(None, None), scanned_at=None, truncated=True)
    store.record_scan(result)
    assert store.latest_scan()[1] == result


def test_round_trip_keeps_the_scope_and_older_scans_read_as_the_default_one():
    from triage.serialize import scan_result_from_dict, scan_result_to_dict

    scoped = dataclasses.replace(scan_result(), services=("api", "web"), min_severity=Severity.ERROR)
    assert scan_result_from_dict(scan_result_to_dict(scoped)) == scoped
    older = {k: v for k, v in scan_result_to_dict(scoped).items() if k not in ("services", "min_severity")}
    assert scan_result_from_dict(older) == scan_result()


def test_every_scan_is_kept_and_history_is_per_cluster(store):
    first = store.record_scan(scan_result(rule_cluster(), scanned_at=T0))
    second = store.record_scan(scan_result(scanned_at=T0 + timedelta(hours=1)))
    assert [s.scan_id for s in store.scans()] == [first, second]
    assert [s.scan_id for s in store.scans(since=T0 + timedelta(minutes=30))] == [second]
    rows = store.cluster_history("a1b2")
    assert [(r.scan_id, r.count, r.rule_id, r.priority) for r in rows] == [(first, 12, "redis-dns-test", "P0"), (second, 12, "redis-dns-test", "P0")]
    assert rows[0].window == scan_result().window
    assert {r.fingerprint for r in store.cluster_history()} == {"a1b2c3d4e5f60718293a", "ffee00112233445566aa"}


def test_last_scan_is_the_latest_recorded(store):
    store.record_scan(scan_result(rule_cluster(), scanned_at=T0 + timedelta(hours=5)))
    store.record_scan(scan_result(unmatched_cluster(), scanned_at=T0))
    assert [c.fingerprint for c in store.latest_scan()[1].clusters] == ["a1b2c3d4e5f60718293a"]


def test_empty_store(store):
    assert store.latest_scan() is None
    with pytest.raises(TriageError, match="no scan recorded"):
        require_latest(store)


def test_prune_drops_old_scans_and_their_history(store):
    store.record_scan(scan_result(scanned_at=T0))
    kept = store.record_scan(scan_result(scanned_at=T0 + timedelta(days=40)))
    store.link_issue("a1b2c3d4e5f60718293a", "acme/ops", 7, "https://github.com/acme/ops/issues/7", "open")
    assert store.prune(timedelta(days=30), now=T0 + timedelta(days=41)) == 1
    assert [s.scan_id for s in store.scans()] == [kept]
    assert {r.scan_id for r in store.cluster_history()} == {kept}
    assert store.linked_issue("a1b2c3d4e5f60718293a") is not None


def test_issue_links_update_in_place(store):
    assert store.linked_issue("a1b2") is None
    store.link_issue("a1b2", "acme/ops", 7, "https://github.com/acme/ops/issues/7", "open")
    store.link_issue("a1b2", "acme/ops", 7, "https://github.com/acme/ops/issues/7", "closed")
    issue = store.linked_issue("a1b2")
    assert (issue.repo, issue.number, issue.state) == ("acme/ops", 7, "closed")
    with pytest.raises(ValueError):
        store.link_issue("a1b2", "acme/ops", 7, "u", "merged")


def test_schema_version_is_set_and_newer_schema_refused(tmp_path):
    path = tmp_path / "state.db"
    with StateStore(path):
        pass
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(TriageError, match="newer than this triage"):
        StateStore(path).open()


def test_not_a_database_is_one_clear_error(tmp_path):
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(TriageError, match="cannot open the state store"):
        StateStore(path).open()


def test_two_connections_share_the_store(tmp_path):
    with StateStore.in_dir(tmp_path) as writer, StateStore.in_dir(tmp_path) as reader:
        writer.record_scan(scan_result())
        assert reader.latest_scan()[1] == scan_result()


def test_default_location_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert state_path() == tmp_path / "triage" / "state.db"
    monkeypatch.delenv("XDG_STATE_HOME")
    assert default_state_dir().parts[-3:] == (".local", "state", "triage")


def _result_with(*fingerprints: str) -> ScanResult:
    return scan_result(*(unmatched_cluster(fp) for fp in fingerprints))


def test_fingerprint_prefix_unique():
    result = _result_with("abc123aaaa", "abd456bbbb")
    assert resolve_fingerprint("abc", result).fingerprint == "abc123aaaa"
    assert resolve_fingerprint("ABD4", result).fingerprint == "abd456bbbb"
    assert resolve_fingerprint("abc123aaaa", result).fingerprint == "abc123aaaa"


def test_fingerprint_prefix_ambiguous_lists_candidates():
    with pytest.raises(TriageError) as err:
        resolve_fingerprint("ab", _result_with("abc123aaaa", "abd456bbbb"))
    assert str(err.value) == "fingerprint 'ab' is ambiguous: abc123aaaa, abd456bbbb"


@pytest.mark.parametrize("prefix", ["zz", "", "abc123aaaaX"])
def test_fingerprint_prefix_unknown(prefix):
    with pytest.raises(TriageError):
        resolve_fingerprint(prefix, _result_with("abc123aaaa"))


def test_a_version_1_store_is_migrated(tmp_path):
    import sqlite3

    from triage.state import _MIGRATIONS, SCHEMA_VERSION, StateStore

    path = tmp_path / "state.db"
    old = sqlite3.connect(path)
    old.executescript(_MIGRATIONS[1] + ";PRAGMA user_version=1;")
    old.execute("INSERT INTO issues VALUES ('fp', 'o/r', 1, 'https://x/1', 'closed', '2026-01-01T00:00:00.000000Z')")
    old.commit()
    old.close()
    with StateStore(path) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 8
        issue = store.linked_issue("fp")
        assert (issue.state, issue.closed_at) == ("closed", None)


def test_years_below_1000_are_stored_with_four_digits(store):
    from datetime import datetime, timezone

    from triage.state import utc_text

    assert utc_text(datetime(1, 1, 1, tzinfo=timezone.utc)) == "0001-01-01T00:00:00.000000Z"
    ancient = dataclasses.replace(rule_cluster(), first_seen=datetime(500, 6, 1, tzinfo=timezone.utc))
    store.record_scan(scan_result(ancient, scanned_at=T0))
    assert [r.first_seen.year for r in store.cluster_history()] == [500]


def test_a_version_2_store_with_unpadded_years_is_repaired(tmp_path):
    from triage.state import _MIGRATIONS

    path = tmp_path / "state.db"
    old = sqlite3.connect(path)
    old.executescript(_MIGRATIONS[1] + ";" + _MIGRATIONS[2] + ";PRAGMA user_version=2;")
    old.execute(
        "INSERT INTO scans VALUES (1, '2026-11-28T02:00:00.000000Z', '999-01-01T00:00:00.000000Z',"
        " '2026-11-28T02:00:00.000000Z', '[]', 0, 0, 0, 0, '{}')"
    )
    old.execute("INSERT INTO scan_clusters VALUES (1, 'fp', NULL, NULL, 'ERROR', 't', 1, '1-01-01T00:00:00.000000Z', NULL)")
    old.commit()
    old.close()
    with StateStore(path) as store:
        assert [s.window.start.isoformat() for s in store.scans()] == ["0999-01-01T00:00:00+00:00"]
        assert store.db.execute("SELECT first_seen, last_seen FROM scan_clusters").fetchall() == [
            ("0001-01-01T00:00:00.000000Z", None)
        ]


def test_a_version_3_store_learns_the_scope_of_its_scans_from_their_results(tmp_path):
    import json
    import sqlite3

    from triage.state import _MIGRATIONS, StateStore

    path = tmp_path / "state.db"
    old = sqlite3.connect(path)
    old.executescript(";".join(_MIGRATIONS[v] for v in (1, 2, 3)) + ";PRAGMA user_version=3;")
    scoped = {"services": ["api", "web"], "min_severity": "ERROR", "project": "acme"}
    for result in (json.dumps(scoped), "{}", json.dumps(scoped)[:20]):  # stored before scopes were kept; damaged
        old.execute("INSERT INTO scans (scanned_at, sources, entries_read, entries_skipped, entries_in_window, truncated,"
                    " result) VALUES ('2026-01-01T00:00:00.000000Z', '[]', 0, 0, 0, 0, ?)", (result,))
    old.commit()
    old.close()
    with StateStore(path) as store:
        first, second, damaged = store.scans()
    assert (first.services, first.min_severity, first.project) == (("api", "web"), Severity.ERROR, "acme")
    assert (second.services, second.min_severity, second.project) == ((), Severity.WARNING, None)
    assert (damaged.services, damaged.min_severity, damaged.project) == ((), Severity.WARNING, None)


@pytest.mark.parametrize("columns_there", [False, True])
def test_a_version_4_store_learns_the_repository_of_new_issue_links_and_keeps_its_old_ones(tmp_path, columns_there):
    """Links recorded before keep no repository id nor API host (trusted as they were); the step adding the columns
    is guarded (a store that has them, from a build that added them before bumping the version, migrates too)."""
    import sqlite3

    from triage.state import _MIGRATIONS, SCHEMA_VERSION, StateStore

    path = tmp_path / "state.db"
    old = sqlite3.connect(path)
    old.executescript(";".join(_MIGRATIONS[v] for v in (1, 2, 3, 4)) + ";PRAGMA user_version=4;")
    if columns_there:
        old.executescript("ALTER TABLE issues ADD COLUMN repo_id INTEGER; ALTER TABLE issues ADD COLUMN api_host TEXT;")
    old.execute("INSERT INTO issues (fingerprint, repo, number, url, state, updated_at) VALUES"
                " ('fp', 'o/r', 1, 'https://x/1', 'open', '2026-01-01T00:00:00.000000Z')")
    old.commit()
    old.close()
    with StateStore(path) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        issue = store.linked_issue("fp")
        assert (issue.number, issue.repo_id, issue.api_host) == (1, None, None)
        store.link_issue("fp", "o/r", 2, "https://x/2", "open", repo_id=4711, api_host="ghe.example.com")
        store.link_issue("fp2", "o/r", 3, "https://x/3", "open")
        assert (store.linked_issue("fp").number, store.linked_issue("fp").repo_id) == (2, 4711)
        assert store.linked_issue("fp", "O/R").api_host == "ghe.example.com"
        assert (store.linked_issue("fp2").repo_id, store.linked_issue("fp2").api_host) == (None, None)


def test_round_trip_keeps_the_resource_type_and_older_results_read_the_default():
    from triage.serialize import scan_result_from_dict, scan_result_to_dict

    known = dataclasses.replace(scan_result(), resource_type=None)
    assert scan_result_from_dict(scan_result_to_dict(known)) == known
    older = scan_result_to_dict(known)
    del older["resource_type"]
    assert scan_result_from_dict(older).resource_type == "cloud_run_revision"
