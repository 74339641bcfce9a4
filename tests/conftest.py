"""Shared test helpers: the fully registered CLI, fixture paths, and a private state directory."""

from __future__ import annotations

import contextlib
import http.server
import importlib.util
import sys
import threading
from pathlib import Path
from typing import Iterator

import pytest
from typer.testing import CliRunner

from triage.cli import _register, app

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
SHARED = ROOT.parent / "shared"


@contextlib.contextmanager
def serving(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """``http://127.0.0.1:PORT`` of a loopback server answering with ``handler``, for the block's time."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def load_generator():
    """benchmarks/generate.py as a module."""
    spec = importlib.util.spec_from_file_location("bench_generate", ROOT / "benchmarks" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _private_state(tmp_path_factory, monkeypatch):
    """Never touch the user's ~/.local/state: every test gets its own XDG_STATE_HOME."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))


@pytest.fixture(scope="session")
def cli():
    """Invoke `triage …` in-process: ``cli("scan", "-s", path)`` → click Result."""
    _register()
    runner = CliRunner()

    def invoke(*args: str, **kwargs):
        return runner.invoke(app, [str(a) for a in args], **kwargs)

    return invoke
