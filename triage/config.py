"""Project settings: ``triage.toml`` in the working directory, else ``[tool.triage]`` in ``./pyproject.toml``.

Command-line options override every key. Keys::

    project = "my-project"            # Cloud Logging project
    services = ["api", "worker"]      # Cloud Run services to scan
    since = "1h"                      # default window of a Cloud Logging scan
    min_severity = "WARNING"
    rules = ["rules/", "extra.yaml"]  # rule files or directories, relative to the config file
    github_repo = "owner/name"
    keep = "30d"                      # how long scan history is kept
    resource_type = "cloud_run_revision"
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from .errors import UsageError
from .model import Severity
from .window import parse_duration, parse_keep

CONFIG_FILE = "triage.toml"
PYPROJECT_FILE = "pyproject.toml"


@dataclass(frozen=True)
class Config:
    """Settings read from the config file; None or empty when not set."""

    project: str | None = None
    services: tuple[str, ...] = ()
    since: str | None = None
    min_severity: str | None = None
    rules: tuple[Path, ...] = ()
    github_repo: str | None = None
    keep: str | None = None
    resource_type: str | None = None


_TEXT_KEYS = ("project", "since", "min_severity", "github_repo", "keep", "resource_type")
_LIST_KEYS = ("services", "rules")


def load_config(cwd: Path) -> Config:
    """The config of ``cwd``; an empty :class:`Config` when there is no file. Raises :class:`UsageError`."""
    path = cwd / CONFIG_FILE
    if path.is_file():
        return _parse(_read_toml(path), path)
    pyproject = cwd / PYPROJECT_FILE
    if pyproject.is_file():
        tool = _read_toml(pyproject).get("tool")
        table = tool.get("triage") if isinstance(tool, dict) else None
        if table is not None:
            if not isinstance(table, dict):
                raise UsageError(f"{pyproject}: [tool.triage] must be a table")
            return _parse(table, pyproject, "tool.triage.")
    return Config()


def _read_toml(path: Path) -> dict[str, Any]:
    """The TOML of ``path``, UTF-8 with or without a byte-order mark (Notepad writes one)."""
    try:
        with open(path, "rb") as handle:
            return tomllib.loads(handle.read().decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text (TOML is UTF-8: save it as UTF-8)") from None
    except tomllib.TOMLDecodeError as err:
        raise UsageError(f"{path}: invalid TOML: {err}") from None
    except OSError as err:
        raise UsageError(f"{path}: cannot read ({err.strerror or err})") from None


def _parse(table: Mapping[str, Any], path: Path, prefix: str = "") -> Config:
    unknown = sorted(set(table) - set(_TEXT_KEYS) - set(_LIST_KEYS))
    if unknown:
        known = ", ".join(sorted(_TEXT_KEYS + _LIST_KEYS))
        raise UsageError(f"{path}: unknown key {prefix}{unknown[0]} (known keys: {known})")
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key in _TEXT_KEYS and not (isinstance(value, str) and value.strip()):
            raise UsageError(f"{path}: {prefix}{key} must be a non-empty string")
        if key in _LIST_KEYS and not (isinstance(value, list) and all(isinstance(v, str) and v for v in value)):
            raise UsageError(f"{path}: {prefix}{key} must be a list of non-empty strings")
        values[key] = value
    config = Config(
        project=values["project"].strip() if "project" in values else None,
        services=tuple(values.get("services", ())),
        since=values.get("since"),
        min_severity=values.get("min_severity"),
        rules=tuple(path.parent / rule for rule in values.get("rules", ())),
        github_repo=values["github_repo"].strip() if "github_repo" in values else None,
        keep=values.get("keep"),
        resource_type=values.get("resource_type"),
    )
    _check_values(config, path, prefix)
    return config


def _check_values(config: Config, path: Path, prefix: str) -> None:
    for key, parse in (("since", parse_duration), ("keep", parse_keep)):
        text = getattr(config, key)
        if text is not None:
            try:
                parse(text)
            except UsageError:
                raise UsageError(f"{path}: {prefix}{key}: invalid duration {text!r} (e.g. 1h, 30d)") from None
    if config.min_severity is not None:
        try:
            Severity.parse(config.min_severity)
        except ValueError:
            raise UsageError(f"{path}: {prefix}min_severity: unknown severity {config.min_severity!r}") from None
    if config.github_repo is not None and config.github_repo.count("/") != 1:
        raise UsageError(f"{path}: {prefix}github_repo must look like owner/name, not {config.github_repo!r}")
