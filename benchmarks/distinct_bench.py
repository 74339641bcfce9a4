"""Time and memory of `triage scan` when every failure is different (no two messages share a template).

    python benchmarks/distinct_bench.py                 # 5k, 20k and 50k distinct failures
    python benchmarks/distinct_bench.py --n 200000

Writes benchmarks/out/distinct_N.ndjson: N ERROR entries on one instance, 0.1 s apart, each message made
of two random words (which no mask turns into a placeholder), then scans it in a fresh process as
scan_bench.py does and prints the scan time and peak RSS, of the scan and of its children (a large export is read
on two cores). Scale in clusters, rather than in entries, is what this measures: grouping, incidents, redaction and
the report per cluster.
"""

from __future__ import annotations

import argparse
import json
import random
import string
from datetime import datetime, timedelta, timezone

from scan_bench import _SCAN, OUT, _run_once

START = datetime(2026, 11, 28, 1, 0, tzinfo=timezone.utc)


def _write(n: int):
    OUT.mkdir(exist_ok=True)
    path = OUT / f"distinct_{n}.ndjson"
    if path.exists():
        return path
    rng = random.Random(0)

    def word() -> str:
        return "".join(rng.choice(string.ascii_lowercase) for _ in range(8))

    with open(path, "w") as out:
        for i in range(n):
            entry = {
                "timestamp": (START + timedelta(seconds=i / 10)).isoformat().replace("+00:00", "Z"),
                "severity": "ERROR",
                "textPayload": f"failed to load profile {word()} because {word()} is missing",
                "labels": {"instanceId": "00a1b2c3d4"},
                "resource": {"type": "cloud_run_revision", "labels": {"service_name": "api-backend"}},
            }
            out.write(json.dumps(entry) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, action="append", help="distinct failures (repeatable); default 5k, 20k, 50k")
    args = parser.parse_args()
    print(f"{'failures':>9} {'scan s':>7} {'scan RSS':>9} {'child RSS':>10}")
    for n in args.n or [5_000, 20_000, 50_000]:
        seconds, rss, child_rss = _run_once(_SCAN, str(_write(n)))
        print(f"{n:>9} {seconds:>7.2f} {rss:>7.0f}MB {child_rss:>8.0f}MB")


if __name__ == "__main__":
    main()
