"""triage.toml / [tool.triage]: parsing, validation, and command-line options overriding the file."""

from __future__ import annotations

import json

import pytest

from conftest import FIXTURES
from triage.config import Config, load_config
from triage.errors import TriageError

NOW = "2026-03-01T12:00:00Z"


def test_no_file_gives_empty_config(tmp_path):
    assert load_config(tmp_path) == Config()
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert load_config(tmp_path) == Config()


def test_triage_toml_all_keys(tmp_path):
    (tmp_path / "triage.toml").write_text(
        'project = "p1"\nservices = ["api", "worker"]\nsince = "2h"\nmin_severity = "ERROR"\n'
        'rules = ["rules", "extra/more.yaml"]\ngithub_repo = "acme/app"\nkeep = "30d"\nresource_type = "cloud_run_job"\n'
    )
    assert load_config(tmp_path) == Config(
        project="p1", services=("api", "worker"), since="2h", min_severity="ERROR",
        rules=(tmp_path / "rules", tmp_path / "extra" / "more.yaml"), github_repo="acme/app", keep="30d",
        resource_type="cloud_run_job",
    )


def test_pyproject_table_is_the_fallback_and_triage_toml_wins(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.triage]\nproject = "from-pyproject"\n')
    assert load_config(tmp_path).project == "from-pyproject"
    (tmp_path / "triage.toml").write_text('project = "from-triage-toml"\n')
    assert load_config(tmp_path).project == "from-triage-toml"


@pytest.mark.parametrize(
    "text, message",
    [
        ('projekt = "p"\n', "triage.toml: unknown key projekt (known keys: github_repo, keep, min_severity, project, "
                             "resource_type, rules, services, since)"),
        ('services = "api"\n', "triage.toml: services must be a list of non-empty strings"),
        ("project = 3\n", "triage.toml: project must be a non-empty string"),
        ('since = "yesterday"\n', "triage.toml: since: invalid duration 'yesterday' (e.g. 1h, 30d)"),
        ('keep = "forever"\n', "triage.toml: keep: invalid duration 'forever' (e.g. 1h, 30d)"),
        ('min_severity = "LOUD"\n', "triage.toml: min_severity: unknown severity 'LOUD'"),
        ('github_repo = "app"\n', "triage.toml: github_repo must look like owner/name, not 'app'"),
        ('project = "p\n', "triage.toml: invalid TOML: "),
    ],
)
def test_bad_config_is_one_line_with_the_file_name(tmp_path, text, message):
    (tmp_path / "triage.toml").write_text(text)
    with pytest.raises(TriageError) as caught:
        load_config(tmp_path)
    assert str(caught.value).startswith(f"{tmp_path / message.split(':')[0]}:{message.split(':', 1)[1]}")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("raw", ['project = "caf\xe9"\n'.encode("latin-1"), 'project = "p"\n'.encode("utf-16")])
def test_a_config_that_is_not_utf8_is_one_line(tmp_path, raw):
    (tmp_path / "triage.toml").write_bytes(raw)
    with pytest.raises(TriageError, match=r"triage.toml: not UTF-8 text \(TOML is UTF-8: save it as UTF-8\)$"):
        load_config(tmp_path)


def test_a_config_with_a_utf8_byte_order_mark_is_read(tmp_path):
    (tmp_path / "triage.toml").write_bytes(b"\xef\xbb\xbfproject = \"acme\"\n")
    assert load_config(tmp_path).project == "acme"


def test_bad_pyproject_table_names_the_key_path(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.triage]\nservice = ["api"]\n')
    with pytest.raises(TriageError, match=r"pyproject.toml: unknown key tool.triage.service"):
        load_config(tmp_path)


@pytest.fixture
def in_project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT", "TRIAGE_LOGGING_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    return tmp_path


def test_config_scopes_the_filter_and_the_command_line_overrides_it(cli, in_project):
    (in_project / "triage.toml").write_text(
        'services = ["api"]\nsince = "2h"\nmin_severity = "ERROR"\nresource_type = "cloud_run_job"\n'
    )
    from_file = cli("scan", "--show-filter", "--now", NOW)
    assert from_file.exit_code == 0, from_file.output
    assert from_file.stdout.startswith(
        'timestamp>="2026-03-01T10:00:00Z" AND timestamp<"2026-03-01T12:00:00Z" AND resource.type="cloud_run_job" '
        'AND resource.labels.job_name="api" AND (severity>=ERROR OR '
    )
    overridden = cli("scan", "--show-filter", "--now", NOW, "--since", "15m", "--service", "web",
                     "--min-severity", "WARNING", "--resource-type", "any")
    assert overridden.stdout.startswith(
        'timestamp>="2026-03-01T11:45:00Z" AND timestamp<"2026-03-01T12:00:00Z" AND '
        '(resource.labels.service_name="web" OR resource.labels.job_name="web") AND (severity>=WARNING OR '
    )


def test_a_scope_from_the_config_is_shown_in_every_report(cli, in_project):
    (in_project / "triage.toml").write_text('services = ["auth-service"]\nmin_severity = "ERROR"\n')
    args = ("scan", "-s", FIXTURES / "sample.json", "--no-state")
    table = cli(*args).stdout.splitlines()
    assert table[2] == "Scope: only service auth-service · severity floor ERROR"
    assert "\nScope: only service auth-service · severity floor ERROR\n" in cli(*args, "-f", "markdown").stdout
    assert json.loads(cli(*args, "-f", "json").stdout)["scope"] == {"services": ["auth-service"], "min_severity": "ERROR"}
    overridden = cli(*args, "--min-severity", "WARNING", "--service", "api-backend", "--service", "web-frontend")
    assert overridden.stdout.splitlines()[2] == "Scope: only services api-backend, web-frontend"
    marked = cli(*args, "--service", "*api*", "-f", "markdown").stdout
    assert "\nScope: only service \\*api\\* · severity floor ERROR\n" in marked  # Markdown, escaped
    (in_project / "triage.toml").unlink()
    default = cli(*args)
    assert "Scope" not in default.stdout and json.loads(cli(*args, "-f", "json").stdout)["scope"] == {
        "services": [], "min_severity": "WARNING"}


def test_bad_config_stops_the_scan_with_one_line(cli, in_project):
    (in_project / "triage.toml").write_text("since = 5\n")
    result = cli("scan", "--show-filter")
    assert result.exit_code == 2
    assert result.stderr == f"Error: {in_project / 'triage.toml'}: since must be a non-empty string\n"
