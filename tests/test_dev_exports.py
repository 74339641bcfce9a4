"""Every real export in ../shared/netra/dev/ scans without error (skipped when ../shared is absent)."""

from __future__ import annotations

import json

import pytest

from conftest import SHARED

DEV = SHARED / "netra" / "dev"
FILES = sorted(DEV.glob("*")) if DEV.is_dir() else []


@pytest.mark.skipif(not FILES, reason="../shared/netra/dev is not present")
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_dev_export_scans_cleanly(cli, path):
    result = cli("scan", "--source", path, "--format", "json", "--min-severity", "DEFAULT", "--no-state")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["entries_read"] > 0
    assert data["entries_skipped"]["count"] == 0
    assert sum(c["count"] for c in data["clusters"]) == data["entries_in_window"]
    assert all(c["samples"] and c["fingerprint"] for c in data["clusters"])
