"""The README documents every command and option the CLI has (so the docs cannot drift from --help)."""

from __future__ import annotations

import typer

from conftest import ROOT
from triage.cli import _register, app

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _commands(group, prefix: str = ""):
    for name, command in group.commands.items():
        path = f"{prefix} {name}".strip()
        if hasattr(command, "commands"):  # a command group
            yield from _commands(command, path)
        else:
            yield path, command


def test_every_command_and_option_is_in_the_readme():
    _register()
    missing = []
    for path, command in _commands(typer.main.get_command(app)):
        if f"triage {path}" not in README:
            missing.append(f"triage {path}")
        for param in command.params:
            if param.param_type_name == "option":
                for opt in param.opts:
                    if opt.startswith("--") and opt != "--help" and not any(f"{c}{opt}" in README for c in "` ["):
                        missing.append(f"triage {path} {opt}")
    assert missing == []


def test_quickstart_and_ci_agree():
    block = README.split("## Quickstart", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    commands = [line for line in block.splitlines() if line.strip()]
    assert len(commands) == 2
    assert commands[0].endswith("triage scan --source fixtures/sample.json")
    assert commands[1] in (ROOT / ".ci" / "run").read_text()
