"""Fault-injection benchmark: many trials per fault, counted from the agents' own play logs.

Run: .venv/bin/python bench/faults.py [--trials 20] [--faults accepted,playing,fan_out@pull,...]
     (writes bench/results/faults.json; ``--name faults-part1`` writes a part instead, and
     ``--merge faults-part1,faults-part2`` joins parts into faults.json, so a long run can be split)

Each fault of ``tests/faults/trials.py`` (SIGKILL of the server at accepted / rendering /
handed_off / fan_out, a session killed during fan-out and restarted while it plays, SIGKILL of an
agent after its download and while playing, the programme damaged in the server's cache and on an
agent's card, the SQLite write lock held by another process, a full disk) runs ``--trials`` times
on real processes with two clusters. Per fault, the clusters' outcomes are counted: aired once,
aired twice, lost, failed with a reason. Targets: 0 lost and 0 twice.

The clusters of the world use the ``http`` transport (the server pushes to each agent); a fault
written ``<fault>@pull`` runs the same trial with clusters on the ``pull`` transport (the agents
dial out and fetch their orders from the same outbox).

The full-disk fault mounts a small tmpfs, which needs root; without root it is skipped and the
results say so.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.results_file import RESULTS_DIR, write_results  # noqa: E402
from tests.fakes.small_disk import small_disk  # noqa: E402
from tests.faults.trials import FAULTS, FaultWorld, Outcome, run_trial  # noqa: E402

KEYS = ("once", "twice", "lost", "failed")


def run_fault(variant: str, trials: int, root: Path,
              progress: Callable[[dict[str, Any]], None] = lambda _: None) -> dict[str, Any]:
    """``trials`` trials of one fault (``fault`` or ``fault@transport``) in a fresh world; outcomes counted.

    ``progress`` gets the counts so far after every trial (a long run cut short still leaves them).
    """
    fault, _, transport = variant.partition("@")
    transport = transport or "http"
    load_before = os.getloadavg()
    counts: Counter[str] = Counter()
    done = cut_short = errors = 0
    notes: list[str] = []
    started = time.monotonic()

    def summary() -> dict[str, Any]:
        return {**{key: counts.get(key, 0) for key in KEYS}, "cut_short": cut_short, "trials": done,
                "clusters_per_trial": 2, "transport": transport, "trial_errors": errors,
                "seconds": round(time.monotonic() - started),
                "loadavg_before": [round(x, 2) for x in load_before],
                "loadavg_after": [round(x, 2) for x in os.getloadavg()], "notes": notes[:10]}

    def trial_loop(world: FaultWorld) -> None:
        nonlocal done, cut_short, errors
        for number in range(1, trials + 1):
            try:
                outcome: Outcome = run_trial(world, fault, number)
            except Exception:  # noqa: BLE001 - a trial that breaks is reported, and the run goes on
                errors += 1
                notes.append(traceback.format_exc(limit=3)[-600:])
                continue
            finally:
                done += 1
            counts.update(outcome.counts())
            cut_short += outcome.cut_short
            if set(outcome.per_cluster.values()) - {"once"}:
                notes.append(f"trial {number}: {outcome.per_cluster} {outcome.notes}")
            print(f"{variant} #{number}: {dict(outcome.counts())}", flush=True)
            progress(summary())

    def in_world(**options: Any) -> None:
        world = FaultWorld(root, transport=transport, **options)
        try:  # a world that fails to start is still stopped: no server or agent left running
            trial_loop(world.start())
        finally:
            world.stop()

    if fault == "disk_full":
        with small_disk(root / "disk", size_mb=48) as disk:
            in_world(disk=disk)
    else:
        in_world()
    return summary()


def summed(results: dict[str, Any]) -> dict[str, Any]:
    """The faults' results with their total and the targets."""
    faults = {name: r for name, r in results.items() if name not in ("total", "targets")}
    measured = [r for r in faults.values() if "skipped" not in r]
    total = {key: sum(r[key] for r in measured) for key in ("trials", *KEYS, "cut_short", "trial_errors", "seconds")}
    return {**faults, "total": total, "targets": {"lost": 0, "twice": 0}}


def merge(parts: list[str]) -> None:
    """Join result parts (bench/results/<part>.json) into bench/results/faults.json."""
    results: dict[str, Any] = {}
    for part in parts:
        results |= json.loads((RESULTS_DIR / f"{part}.json").read_text(encoding="utf-8"))["results"]
    write_results("faults", summed(results))


def main() -> None:
    """Run the faults asked for and write bench/results/faults.json."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--faults", default=",".join(FAULTS))
    parser.add_argument("--name", default="faults", help="results file name (a part, to --merge later)")
    parser.add_argument("--merge", default="", help="comma-separated parts to join into faults.json")
    args = parser.parse_args()
    if args.merge:
        merge(args.merge.split(","))
        return
    results: dict[str, Any] = {}
    for fault in args.faults.split(","):
        if fault == "disk_full" and os.geteuid() != 0:
            results[fault] = {"skipped": "filling a disk needs a small tmpfs, and mounting one needs root"}
            continue
        with tempfile.TemporaryDirectory(prefix=f"faults-{fault.replace('@', '-')}-") as tmp:
            results[fault] = run_fault(fault, args.trials, Path(tmp),
                                       lambda so_far, name=fault: write_partial(args.name, results | {name: so_far}))
    write_results(args.name, summed(results))


def write_partial(name: str, results: dict[str, Any]) -> None:
    """The counts so far, quietly (the run goes on)."""
    with contextlib.redirect_stdout(io.StringIO()):
        write_results(name, summed(results))


if __name__ == "__main__":
    main()
