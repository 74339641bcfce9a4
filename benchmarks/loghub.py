"""Loghub-2k grouping benchmark: triage's clustering next to Drain3 with defaults.

Usage (from the repository root):

    .venv/bin/python benchmarks/loghub.py [DATA_DIR]

DATA_DIR defaults to ../shared/benchmarks/loghub2k (corrected labels: each system's
``<S>_2k.log_structured_corrected.csv``; ``Content`` is the message, ``EventTemplate`` the truth).
One default configuration for all systems. Prints, per system and on average, grouping accuracy GA
(a message is right iff its predicted group is exactly its true group) and FGA (F1 over exact
groups), and the wall time of each parser. Drain3 (the ``bench`` extra) is skipped if not installed.
"""

from __future__ import annotations

import csv
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Callable, Sequence

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from triage.clustering import clear_caches, group_messages  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "benchmarks" / "loghub2k"


def load(path: Path) -> tuple[list[str], list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [row["Content"] for row in rows], [row["EventTemplate"] for row in rows]


def scores(predicted: Sequence[str], truth: Sequence[str]) -> tuple[float, float]:
    """(GA, FGA) of predicted group keys against true group keys."""
    predicted_groups: dict[str, set[int]] = defaultdict(set)
    true_groups: dict[str, set[int]] = defaultdict(set)
    for index, (key, true_key) in enumerate(zip(predicted, truth)):
        predicted_groups[key].add(index)
        true_groups[true_key].add(index)
    true_sets = {frozenset(members) for members in true_groups.values()}
    exact = [members for members in predicted_groups.values() if frozenset(members) in true_sets]
    ga = sum(len(members) for members in exact) / len(truth)
    precision = len(exact) / len(predicted_groups)
    recall = len(exact) / len(true_groups)
    fga = 2 * precision * recall / (precision + recall) if exact else 0.0
    return ga, fga


def drain3_parser() -> Callable[[list[str]], list[str]] | None:
    try:
        from drain3 import TemplateMiner
        from drain3.template_miner_config import TemplateMinerConfig
    except ImportError:
        return None
    import logging

    logging.getLogger("drain3").setLevel(logging.ERROR)

    def parse(messages: list[str]) -> list[str]:
        miner = TemplateMiner(config=TemplateMinerConfig())
        ids = [miner.add_log_message(message)["cluster_id"] for message in messages]
        return [str(cluster_id) for cluster_id in ids]

    return parse


def _cold_group_messages(messages: list[str]) -> list[str]:
    """triage's grouping from empty caches, as Drain3 starts from an empty miner: every run is a first run."""
    clear_caches()
    return group_messages(messages)


def timed(parse: Callable[[list[str]], list[str]], messages: list[str], runs: int = 3) -> tuple[list[str], float]:
    """The keys and the best wall time of ``runs`` runs (the machine is shared: the best is the least noisy)."""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        keys = parse(messages)
        best = min(best, time.perf_counter() - start)
    return keys, best


def main(argv: list[str]) -> int:
    data = Path(argv[0]) if argv else DEFAULT_DATA
    if not data.is_dir():
        print(f"skipped: Loghub-2k data not found at {data}")
        return 0
    parsers: dict[str, Callable[[list[str]], list[str]]] = {"triage": _cold_group_messages}
    drain = drain3_parser()
    if drain is None:
        print("note: drain3 not installed (pip install -e '.[bench]'); comparing triage only")
    else:
        parsers["drain3"] = drain
    names = list(parsers)
    header = f"{'system':<12}" + "".join(f"{name + ' GA':>11}{'FGA':>7}{'s':>7}" for name in names)
    print(header)
    totals = {name: [0.0, 0.0, 0.0] for name in names}
    systems = sorted(path for path in data.iterdir() if path.is_dir())
    for system in systems:
        files = sorted(system.glob("*_structured_corrected.csv"))
        if not files:
            continue
        messages, truth = load(files[0])
        line = f"{system.name:<12}"
        for name in names:
            keys, seconds = timed(parsers[name], messages)
            ga, fga = scores(keys, truth)
            for slot, value in enumerate((ga, fga, seconds)):
                totals[name][slot] += value
            line += f"{ga:>11.3f}{fga:>7.3f}{seconds:>7.2f}"
        print(line)
    count = len(systems)
    line = f"{'average':<12}"
    for name in names:
        ga, fga, seconds = totals[name]
        line += f"{ga / count:>11.3f}{fga / count:>7.3f}{seconds:>7.3f}"
    print(line + "   (time column of the average row: total seconds)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
