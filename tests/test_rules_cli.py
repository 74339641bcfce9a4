"""`triage rules list` and `triage rules test` through the CLI."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

import triage.cli.rules_cmd  # noqa: F401 - registers the `rules` commands
import triage.cli.scan_cmd  # noqa: F401 - registers `scan`
from triage.cli import app
from triage.rules import load_rules

DATA = Path(__file__).parent / "rules_data"
runner = CliRunner()


def test_rules_test_passes_on_default_pack() -> None:
    result = runner.invoke(app, ["rules", "test"])
    assert result.exit_code == 0, result.output
    rules = len(load_rules().rules)
    assert result.output.startswith(f"{rules} rules, ")
    assert result.output.rstrip().endswith(" passed, 0 failed")


def test_rules_test_fails_on_broken_examples() -> None:
    file = DATA / "failing_examples.yaml"
    result = runner.invoke(app, ["rules", "test", str(file)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert f"{file}:18 narrow-timeout: example matched by broad-error first: 'error: timeout after 5s'" in lines
    assert lines[-1] == "3 rules, 4 examples: 2 passed, 2 failed"


def test_rules_test_passes_on_a_good_file() -> None:
    result = runner.invoke(app, ["rules", "test", str(DATA / "passing.yaml")])
    assert result.exit_code == 0
    assert result.output == "1 rule, 3 examples: 3 passed, 0 failed\n"


def test_rules_test_load_error_exits_2_without_traceback() -> None:
    result = runner.invoke(app, ["rules", "test", str(DATA / "bad_priority.yaml")])
    assert result.exit_code == 2
    assert "bad-priority: bad priority 'P5'" in result.output
    assert "Traceback" not in result.output


def test_rules_test_on_a_directory(tmp_path: Path) -> None:
    shutil.copy(DATA / "passing.yaml", tmp_path / "passing.yaml")
    result = runner.invoke(app, ["rules", "test", str(tmp_path)])
    assert result.exit_code == 0
    assert "1 rule, 3 examples: 3 passed, 0 failed" in result.output


def test_rules_that_hold_no_rule_are_an_error_in_every_command(tmp_path: Path) -> None:
    (tmp_path / "empty.yaml").write_text("# rules to come\n")
    for args in (["rules", "test", str(tmp_path)], ["rules", "list", "--rules", str(tmp_path / "empty.yaml")],
                 ["scan", "-s", str(DATA / "passing.yaml"), "--rules", str(tmp_path)]):
        result = runner.invoke(app, args)
        assert (result.exit_code, result.output) == (2, f"Error: no rule in {args[-1]}\n"), args


def test_rules_list_prints_a_plain_table(monkeypatch) -> None:
    monkeypatch.chdir(DATA.parent.parent)
    file = DATA / "passing.yaml"
    result = runner.invoke(app, ["rules", "list", "--rules", str(file)])
    assert result.exit_code == 0
    header, row = result.output.splitlines()
    assert header.split() == ["id", "priority", "category", "title", "file"]
    assert row.split("  ")[0] == "passing-rule"
    assert row.endswith(" tests/rules_data/passing.yaml:2")  # relative to the working directory
    assert "P2" in row and "Passing rule" in row


def test_rules_list_default_pack_in_match_order() -> None:
    result = runner.invoke(app, ["rules", "list"])
    assert result.exit_code == 0
    ids = [line.split()[0] for line in result.output.splitlines()[1:]]
    assert ids == [rule.id for rule in load_rules().rules]
    assert "redis-dns-resolution" in ids


def test_every_load_problem_is_reported_at_once(tmp_path, cli) -> None:
    (tmp_path / "a.yaml").write_text(
        "- id: one\n  title: t\n  priority: P9\n  category: c\n  match: {contains: x}\n"
        "- id: two\n  title: t\n  priority: P1\n  match: {contains: x}\n"
    )
    (tmp_path / "b.yaml").write_text("- id: [unclosed\n")
    result = runner.invoke(app, ["rules", "test", str(tmp_path)])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 3 and all(line.startswith(f"Error: {tmp_path}/") for line in lines)
    assert [line.split(": ", 2)[1].split(" ")[0] for line in lines] == [f"{tmp_path}/a.yaml:3", f"{tmp_path}/a.yaml:6", f"{tmp_path}/b.yaml:2"]
    scan = cli("scan", "-s", tmp_path / "none.json", "--rules", tmp_path)
    assert scan.exit_code == 2
    assert scan.stderr.endswith("(and 2 more problem(s): see `triage rules test`)\n") and scan.stderr.count("\n") == 1


def test_rules_list_and_test_use_the_rules_of_triage_toml_as_scan_does(tmp_path, monkeypatch) -> None:
    shutil.copy(DATA / "passing.yaml", tmp_path / "mine.yaml")
    (tmp_path / "triage.toml").write_text('rules = ["mine.yaml"]\n')
    monkeypatch.chdir(tmp_path)
    listed = runner.invoke(app, ["rules", "list"])
    assert listed.exit_code == 0, listed.output
    assert [line.split()[0] for line in listed.output.splitlines()[1:]] == [rule.id for rule in load_rules([DATA / "passing.yaml"]).rules]
    assert runner.invoke(app, ["rules", "test"]).output == "1 rule, 3 examples: 3 passed, 0 failed\n"
    (tmp_path / "triage.toml").write_text('rules = "mine.yaml"\n')
    broken = runner.invoke(app, ["rules", "list"])
    assert (broken.exit_code, broken.output) == (2, f"Error: {tmp_path / 'triage.toml'}: rules must be a list of non-empty strings\n")
