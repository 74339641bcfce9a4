"""Scan the dev exports in ../shared/netra/dev/ and print the incidents found (for the issue note).

Each export is scanned on its own (they are separate captures), with the default rule pack, then
linked with :func:`triage.incidents.link_incidents`. Prints, per file: clusters, incidents (id,
root, chain with counts, instances, revisions) and the time linking took. Nothing is written.

    python benchmarks/incidents_dev.py [--dir ../shared/netra/dev] [--lag 5] [--min-share 0.6]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from triage.incidents import link_incidents, short_title
from triage.model import Severity
from triage.rules import load_rules
from triage.scan import ScanOptions, scan
from triage.sources.files import read_file

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "netra" / "dev"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--lag", type=float, default=5.0)
    parser.add_argument("--min-share", type=float, default=0.6)
    args = parser.parse_args()
    if not args.dir.is_dir():
        print(f"skipped: {args.dir} is absent")
        return 0
    rules = load_rules(None)
    total = 0
    for path in sorted(p for p in args.dir.iterdir() if p.is_file()):
        result = scan(ScanOptions((str(path),), min_severity=Severity.WARNING), rules, read_file)
        started = time.perf_counter()
        incidents = link_incidents(result.clusters, lag_s=args.lag, min_share=args.min_share)
        elapsed = time.perf_counter() - started
        occurrences = sum(len(c.occurrences) for c in result.clusters)
        print(
            f"\n== {path.name}: {result.entries_read} entries, {len(result.clusters)} clusters, "
            f"{occurrences} occurrences → {len(incidents)} incident(s) in {elapsed * 1000:.1f} ms"
        )
        by_fp = {c.fingerprint: c for c in result.clusters}
        for incident in incidents:
            root = by_fp[incident.root]
            print(f"  {incident.id}  root {incident.root[:10]} [{root.severity.name}, {root.rule_id or 'mined'}] {short_title(root, 70)}")
            print(f"    chain: {incident.summary}")
            print(f"    {len(incident.instances)} instance(s), revisions {', '.join(incident.revisions) or '-'}, "
                  f"{incident.first_seen:%Y-%m-%d %H:%M:%S} → {incident.last_seen:%H:%M:%S}")
        total += len(incidents)
    print(f"\n{total} incident(s) in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
