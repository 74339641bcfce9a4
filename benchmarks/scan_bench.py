"""Throughput and memory of `triage scan` next to the bare JSON-parse floor of the same file.

    python benchmarks/scan_bench.py                 # 50k, 200k and 400k entries, JSON array and NDJSON
    python benchmarks/scan_bench.py --n 200000 --format json
    python benchmarks/scan_bench.py --n 20000 --format ndjson --instructions   # needs valgrind; about 2 minutes

For each size it writes a generated export to benchmarks/out/, then runs, each in a fresh process:
- floor: ``orjson.loads`` of every entry (whole array, or line by line for NDJSON), nothing else;
- scan: the full ``triage scan --format json`` pipeline (default rules, clustering, report);
and prints entries/s, the scan/floor ratio and peak RSS (ru_maxrss) of the scan and of its child (a large NDJSON
file or pretty-printed array is read on two cores, see triage.split); times are the best of two runs, floor and
scan taking turns (a shared machine's speed drifts within minutes). It also times ``triage --help``.

``--instructions`` counts instead, under callgrind, the instructions per entry of the floor and of the scan in one
pass (not split: the work both cores share), each less those of the same process that stops before its work, after
a run that compiles what it imports: figures that do not move with the machine's load, to compare two versions of
the code.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
ROOT = HERE.parent

# Each snippet stops before its work when its last argument is "setup" (what --instructions subtracts); the scan
# reads in one pass when an argument is "one-pass".
_FLOOR = """
import orjson, resource, sys, time
path, fmt = sys.argv[1], sys.argv[2]
if sys.argv[3:] == ["setup"]:
    sys.exit()
t = time.perf_counter()
with open(path, "rb") as f:
    if fmt == "json":
        n = len(orjson.loads(f.read()))
    else:
        n = sum(1 for line in f if orjson.loads(line) is not None)
print(n, time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

_SCAN = """
import resource, sys, time
from typer.testing import CliRunner
from triage.cli import app, _register
_register()
if "one-pass" in sys.argv[2:]:
    import triage.split
    triage.split.MIN_BYTES = float("inf")
if "setup" in sys.argv[2:]:
    sys.exit()
t = time.perf_counter()
result = CliRunner().invoke(app, ["scan", "--source", sys.argv[1], "--format", "json", "--no-state"])
elapsed = time.perf_counter() - t
assert result.exit_code == 0, result.output[-2000:]
print(0, elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""
_COLLECTED = re.compile(r"Collected : (\d+)")


# Imports read compiled bytecode, as an installed triage does (a sandbox may set PYTHONDONTWRITEBYTECODE, which
# makes every run compile triage's modules again).
_ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def _run_once(code: str, *args: str) -> tuple[float, float, float]:
    """Time, and peak RSS (MB) of the process and of its children (a large export is read on two cores:
    triage.split), of one fresh process."""
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True, env=_ENV).stdout
    _, seconds, rss_kib, *child_kib = out.split()
    return float(seconds), int(rss_kib) / 1024, int(child_kib[0]) / 1024 if child_kib else 0.0


def _best(runs: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    """Best time, largest peak RSS of the process and of its children."""
    return min(r[0] for r in runs), max(r[1] for r in runs), max(r[2] for r in runs)


def _instructions(code: str, *args: str) -> int:
    """Instructions callgrind counts in the process of ``code``."""
    err = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-c", code, *args],
        capture_output=True, text=True, check=True, env=_ENV,
    ).stderr
    return int(_COLLECTED.search(err)[1])


def _instructions_per_entry(code: str, n: int, *args: str) -> float:
    _run_once(code, *args)  # compiles what the snippet imports, so that neither count below holds that
    return (_instructions(code, *args) - _instructions(code, *args, "setup")) / n


def _generate(n: int, fmt: str) -> Path:
    OUT.mkdir(exist_ok=True)
    path = OUT / f"gen_{n}.{fmt}"
    if not path.exists():
        subprocess.run(
            [sys.executable, str(HERE / "generate.py"), "--n", str(n), "--format", fmt, "--out", str(path)], check=True
        )
    return path


def _help_seconds() -> float:
    exe = Path(sys.executable).with_name("triage")
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run([str(exe), "--help"], capture_output=True, check=True, env=_ENV)
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, action="append", help="entries (repeatable); default 50k, 200k, 400k")
    parser.add_argument("--format", choices=("json", "ndjson"), action="append")
    parser.add_argument("--instructions", action="store_true", help="count instructions under callgrind instead")
    args = parser.parse_args()
    sizes = args.n or [50_000, 200_000, 400_000]
    formats = args.format or ["json", "ndjson"]
    if args.instructions:
        _count(sizes, formats)
        return
    print(
        f"{'format':7} {'entries':>8} {'MB':>6} {'floor s':>8} {'scan s':>7} {'ratio':>6} {'entries/s':>10} "
        f"{'floor RSS':>10} {'scan RSS':>9} {'child RSS':>10}"
    )
    for fmt in formats:
        for n in sizes:
            path = _generate(n, fmt)
            floors, scans = [], []
            for _ in range(2):  # taking turns: the first of each also warms the page cache
                floors.append(_run_once(_FLOOR, str(path), fmt))
                scans.append(_run_once(_SCAN, str(path)))
            (floor_s, floor_rss, _), (scan_s, scan_rss, child_rss) = _best(floors), _best(scans)
            size_mb = path.stat().st_size / 1e6
            print(
                f"{fmt:7} {n:>8} {size_mb:>6.0f} {floor_s:>8.2f} {scan_s:>7.2f} {scan_s / floor_s:>6.2f} "
                f"{n / scan_s:>10,.0f} {floor_rss:>8.0f}MB {scan_rss:>7.0f}MB {child_rss:>8.0f}MB"
            )
    print(f"triage --help: {_help_seconds():.3f} s (best of 3)")
    print(json.dumps({"python": sys.version.split()[0]}))


def _count(sizes: list[int], formats: list[str]) -> None:
    print(f"{'format':7} {'entries':>8} {'floor instr/entry':>18} {'scan instr/entry':>17} {'ratio':>6}")
    for fmt in formats:
        for n in sizes:
            path = _generate(n, fmt)
            floor = _instructions_per_entry(_FLOOR, n, str(path), fmt)
            scan = _instructions_per_entry(_SCAN, n, str(path), "one-pass")
            print(f"{fmt:7} {n:>8} {floor:>18,.0f} {scan:>17,.0f} {scan / floor:>6.2f}")


if __name__ == "__main__":
    main()
