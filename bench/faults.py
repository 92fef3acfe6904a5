"""Fault-injection benchmark: many trials per fault, counted from the agents' own play logs.

Run: .venv/bin/python bench/faults.py [--trials 20] [--faults accepted,playing,...]
     (writes bench/results/faults.json)

Each fault of ``tests/faults/trials.py`` (SIGKILL of the server at accepted / rendering /
handed_off / fan_out, a session killed during fan-out and restarted while it plays, SIGKILL of an
agent after its download and while playing, the programme damaged in the server's cache and on an
agent's card, the SQLite write lock held by another process, a full disk) runs ``--trials`` times
on real processes with two clusters. Per fault, the clusters' outcomes are counted: aired once,
aired twice, lost, failed with a reason. Targets: 0 lost and 0 twice.

The full-disk fault mounts a small tmpfs, which needs root; without root it is skipped and the
results say so.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.results_file import write_results  # noqa: E402
from tests.fakes.small_disk import small_disk  # noqa: E402
from tests.faults.trials import FAULTS, FaultWorld, Outcome, run_trial  # noqa: E402

KEYS = ("once", "twice", "lost", "failed")


def run_fault(fault: str, trials: int, root: Path) -> dict[str, Any]:
    """``trials`` trials of one fault in a fresh world; the clusters' outcomes counted."""
    counts: Counter[str] = Counter()
    cut_short = errors = 0
    notes: list[str] = []
    started = time.monotonic()

    def trial_loop(world: FaultWorld) -> None:
        nonlocal cut_short, errors
        for number in range(1, trials + 1):
            try:
                outcome: Outcome = run_trial(world, fault, number)
            except Exception:  # noqa: BLE001 - a trial that breaks is reported, and the run goes on
                errors += 1
                notes.append(traceback.format_exc(limit=3)[-600:])
                continue
            counts.update(outcome.counts())
            cut_short += outcome.cut_short
            if set(outcome.per_cluster.values()) - {"once"}:
                notes.append(f"trial {number}: {outcome.per_cluster} {outcome.notes}")
            print(f"{fault} #{number}: {dict(outcome.counts())}", flush=True)

    if fault == "disk_full":
        with small_disk(root / "disk", size_mb=48) as disk:
            world = FaultWorld(root, disk=disk).start()
            try:
                trial_loop(world)
            finally:
                world.stop()
    else:
        world = FaultWorld(root).start()
        try:
            trial_loop(world)
        finally:
            world.stop()
    return {**{key: counts.get(key, 0) for key in KEYS}, "cut_short": cut_short, "trials": trials,
            "clusters_per_trial": 2, "trial_errors": errors, "seconds": round(time.monotonic() - started),
            "notes": notes[:10]}


def main() -> None:
    """Run the faults asked for and write bench/results/faults.json."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--faults", default=",".join(FAULTS))
    args = parser.parse_args()
    results: dict[str, Any] = {}
    for fault in args.faults.split(","):
        if fault == "disk_full" and os.geteuid() != 0:
            results[fault] = {"skipped": "filling a disk needs a small tmpfs, and mounting one needs root"}
            continue
        with tempfile.TemporaryDirectory(prefix=f"faults-{fault}-") as tmp:
            results[fault] = run_fault(fault, args.trials, Path(tmp))
    measured = [r for r in results.values() if "skipped" not in r]
    results["total"] = {key: sum(r[key] for r in measured) for key in (*KEYS, "cut_short", "trial_errors")}
    results["targets"] = {"lost": 0, "twice": 0}
    write_results("faults", results)


if __name__ == "__main__":
    main()
