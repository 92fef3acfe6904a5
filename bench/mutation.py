"""Mutation bench: do the tests that guard a safety-critical module notice when its code is changed?

Run: nice -n 19 .venv/bin/python bench/mutation.py [module ...] [--jobs N]
     (no module: every module in bench/mutation_config.py; writes bench/results/mutation.json,
     keeping the other modules' last results)
     --survivors: run only the last run's survivors of an unchanged module again (after adding tests)

For each module: the guarding tests run once with a line tracer (bench/mutation_coverage.py), then
each mutant (bench/mutants.py) runs the guarding tests that reach its lines, fastest first, stopping
at the first failure. Each run is a fork of this process (pytest and the libraries already imported,
the project not), with the mutant served by an import hook (bench/mutation_site/sitecustomize.py)
that the agent and server subprocesses the tests start load too. A test that hangs is stopped by
pytest-timeout (counted as a timeout, which also detects the mutant); a run that outlives its
deadline is killed with its process group.

A mutant is *killed* if a test fails, *survived* if all pass. Score = (killed + timeouts) /
(mutants − equivalent); the equivalent mutants are listed, each with why, in bench/mutation_config.py.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pytest  # noqa: E402

from bench.mutants import Mutant, mutants_of  # noqa: E402
from bench.mutation_config import EQUIVALENT, MODULES  # noqa: E402
from bench.mutation_coverage import LineCoverage  # noqa: E402
from bench.results_file import RESULTS_DIR, write_results  # noqa: E402

SITE_DIR = ROOT / "bench" / "mutation_site"
HOOK_VARIABLE = "BROADCASTER_MUTANT"
PYTEST_OPTIONS = ["-p", "no:cacheprovider", "-p", "no:xdist", "-o", "addopts=", "-q", "--no-header", "-rN"]
TIMEOUT_MARK = "Timeout +++"


def _preload() -> None:
    """Import the heavy third-party libraries once, so that each forked run starts warm."""
    for name in ("sqlalchemy", "sqlalchemy.orm", "fastapi", "starlette.testclient", "pydantic", "httpx",
                 "cryptography.hazmat.primitives.asymmetric.ed25519", "apscheduler.schedulers.background",
                 "alembic", "yaml", "pytest_asyncio", "pytest_timeout", "numpy",
                 "scipy.signal"):  # (scipy.signal: a traced import of it takes minutes on a busy machine)
        with contextlib.suppress(ImportError):
            __import__(name)


@dataclass
class Run:
    """One forked pytest run in progress."""

    pid: int
    deadline: float
    log: Path
    started: float = field(default_factory=time.monotonic)


def _fork_pytest(args: list[str], log: Path, timeout: float, mutant_file: Path | None = None,
                 plugin: object | None = None) -> Run:
    """Start pytest in a forked child (its own process group), output to ``log``."""
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 99
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.setsid()
            descriptor = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(descriptor, 1)
            os.dup2(descriptor, 2)
            os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SITE_DIR), os.environ.get("PYTHONPATH")]))
            if mutant_file is not None:
                os.environ[HOOK_VARIABLE] = str(mutant_file)
                sys.path.insert(0, str(SITE_DIR))
                import sitecustomize  # noqa: F401 - bench/mutation_site: installs the hook from the variable
            code = int(pytest.main(args, plugins=[plugin] if plugin else None))
        except BaseException:  # noqa: BLE001 - report anything, then leave without running the parent's code
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    return Run(pid, time.monotonic() + timeout, log)


def _wait(run: Run, block: bool) -> int | None:
    """The run's exit code, -1 if it passed its deadline (then killed), None if still running."""
    while True:
        pid, status = os.waitpid(run.pid, os.WNOHANG)
        if pid:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > run.deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(run.pid, signal.SIGKILL)
            os.waitpid(run.pid, 0)
            return -1
        if not block:
            return None
        time.sleep(0.05)


@dataclass
class Baseline:
    """What the guarding tests reach of the module, and how long each takes."""

    seconds: dict[str, float]
    lines: dict[str, set[int]]

    def tests_for(self, mutant: Mutant) -> tuple[list[str], bool]:
        """The tests reaching the mutant's lines, fastest first; all of them if none does (and False)."""
        span = set(range(mutant.line, mutant.end_line + 1))
        reaching = [nodeid for nodeid, lines in self.lines.items() if lines & span]
        chosen = reaching or list(self.seconds)
        return sorted(chosen, key=lambda nodeid: self.seconds.get(nodeid, 0.0)), bool(reaching)


def _baseline(module: str, config: dict[str, Any], workdir: Path) -> Baseline:
    """Run the guarding tests once, traced; fail loudly if they do not pass on the real module."""
    output = workdir / "coverage.json"
    plugin = LineCoverage(str(ROOT / config["file"]), output)
    log = workdir / "baseline.log"
    run = _fork_pytest([*PYTEST_OPTIONS, *config["tests"]], log, timeout=3600, plugin=plugin)
    code = _wait(run, block=True)
    measured = json.loads(output.read_text(encoding="utf-8")) if output.exists() else {"failed": ["?"]}
    if code != 0 or measured["failed"]:
        raise SystemExit(f"{module}: the guarding tests fail without any mutant (exit {code}); see:\n"
                         + log.read_text(encoding="utf-8")[-4000:])
    return Baseline(measured["seconds"], {nodeid: set(lines) for nodeid, lines in measured["lines"].items()})


def _module_name(file: str) -> str:
    return file.removesuffix(".py").replace("/", ".")


def _classify(code: int | None, log: Path) -> str:
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    if code == -1 or TIMEOUT_MARK in text:
        return "timeout"
    if code == 0:
        return "survived"
    if code in (1, 2, 3):  # failed tests, a collection error (the mutant breaks an import), an internal error
        return "killed"
    if code == 4 and "ERROR collecting" in text:
        # The mutant breaks the import of a test file named by node id: pytest then also reports the
        # node ids as not found (a usage error, 4), but the tests did notice.
        return "killed"
    return "error"


def _start(index: int, mutant: Mutant, file: str, baseline: Baseline, workdir: Path,
           patience: float = 1.0) -> tuple[Run, bool]:
    """Fork the guarding tests that reach the mutant, with the mutant served in place of the module.

    ``patience`` stretches the time limits (a second try of a mutant that ran out of time).
    """
    mutant_dir = workdir / f"m{index}"
    mutant_dir.mkdir(exist_ok=True)
    (mutant_dir / "source.py").write_text(mutant.source, encoding="utf-8")
    description = {"module": _module_name(file), "path": str(ROOT / file), "source_file": str(mutant_dir / "source.py")}
    (mutant_dir / "mutant.json").write_text(json.dumps(description), encoding="utf-8")
    tests, reached = baseline.tests_for(mutant)
    slowest = max((baseline.seconds.get(test, 1.0) for test in tests), default=1.0)
    per_test = max(20.0, 10 * slowest) * patience
    deadline = (60 + 3 * sum(baseline.seconds.get(test, 1.0) for test in tests)) * patience + per_test
    run = _fork_pytest([*PYTEST_OPTIONS, "-x", f"--timeout={per_test:.0f}", *tests], mutant_dir / "log", deadline,
                       mutant_dir / "mutant.json")
    return run, reached


def _run_mutants(mutants: list[Mutant], file: str, baseline: Baseline, workdir: Path, jobs: int,
                 equivalent: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """Run every mutant (``jobs`` at a time) and sort them by outcome."""
    outcomes: dict[str, list[dict[str, Any]]] = {"killed": [], "survived": [], "timeout": [], "error": [],
                                                 "equivalent": []}
    pending = list(enumerate(mutants))
    running: dict[int, tuple[Run, Mutant, bool]] = {}
    retried: set[int] = set()
    try:
        while pending or running:
            while pending and len(running) < jobs:
                index, mutant = pending.pop(0)
                run, reached = _start(index, mutant, file, baseline, workdir, 4.0 if index in retried else 1.0)
                running[index] = (run, mutant, reached)
            for index, (run, mutant, reached) in list(running.items()):
                code = _wait(run, block=False)
                if code is None:
                    continue
                del running[index]
                outcome = _classify(code, run.log)
                if outcome == "timeout" and index not in retried:
                    # On a loaded machine a niced run can starve past its limits without any hang:
                    # try once more at the end, with four times the time, before counting a timeout.
                    retried.add(index)
                    pending.append((index, mutant))
                    print("t", end="", flush=True)
                    continue
                entry = {"line": mutant.line, "function": mutant.function, "operator": mutant.operator,
                         "mutation": mutant.description, "key": mutant.key, "reached_in_process": reached}
                if outcome == "survived" and mutant.key in equivalent:
                    outcome = "equivalent"
                    entry["why"] = equivalent[mutant.key]
                outcomes[outcome].append(entry)
                mark = {"killed": ".", "survived": "S", "timeout": "T", "error": "E", "equivalent": "="}[outcome]
                print(mark if outcome != "survived" else f"S[{mutant.line}]", end="", flush=True)
            time.sleep(0.05)
    finally:
        for run, _, _ in running.values():  # interrupted: leave no test run behind
            with contextlib.suppress(ProcessLookupError):
                os.killpg(run.pid, signal.SIGKILL)
        print(flush=True)
    return outcomes


def run_module(module: str, jobs: int, limit: int | None, only: set[str] | None = None) -> dict[str, Any]:
    """Mutate one module, run its tests against every mutant (or those keyed in ``only``), return its entry."""
    config = MODULES[module]
    source = (ROOT / config["file"]).read_text(encoding="utf-8")
    mutants = [m for m in mutants_of(source) if only is None or m.key in only][:limit]
    equivalent = EQUIVALENT.get(module, {})
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mutation-") as temp:
        baseline = _baseline(module, config, Path(temp))
        print(f"{module}: {len(mutants)} mutants, {len(baseline.seconds)} guarding tests "
              f"({sum(baseline.seconds.values()):.1f} s traced)", flush=True)
        outcomes = _run_mutants(mutants, config["file"], baseline, Path(temp), jobs, equivalent)
    unused = sorted(set(equivalent) - {entry["key"] for entry in outcomes["equivalent"]})
    detected = len(outcomes["killed"]) + len(outcomes["timeout"])
    judged = len(mutants) - len(outcomes["equivalent"])
    return {
        "file": config["file"],
        "source_sha256": hashlib.sha256(source.encode("utf-8")).hexdigest()[:16],
        "commit": _git_head(),
        "tests": config["tests"],
        "mutants": len(mutants),
        "killed": len(outcomes["killed"]),
        "survived": len(outcomes["survived"]),
        "timeouts": len(outcomes["timeout"]),
        "equivalent": len(outcomes["equivalent"]),
        "errors": len(outcomes["error"]),
        "killed_percent": round(100 * detected / judged, 1) if judged else 100.0,
        "seconds": round(time.monotonic() - started, 1),
        "surviving_mutants": [{"file": config["file"], **entry} for entry in outcomes["survived"]],
        "equivalent_mutants": [{"file": config["file"], **entry} for entry in outcomes["equivalent"]],
        "error_mutants": [{"file": config["file"], **entry} for entry in outcomes["error"]],
        "stale_equivalence_judgements": unused,
    }


def rejudge(module: str, entry: dict[str, Any]) -> dict[str, Any]:
    """The module's last result with the survivors judged again against EQUIVALENT (no mutant is run).

    Only for the source that was measured: a changed module must be run again.
    """
    source = (ROOT / MODULES[module]["file"]).read_text(encoding="utf-8")
    if hashlib.sha256(source.encode("utf-8")).hexdigest()[:16] != entry["source_sha256"]:
        raise SystemExit(f"{module}: the source changed since it was measured; run it again")
    equivalent = EQUIVALENT.get(module, {})
    pool = [{k: v for k, v in m.items() if k != "why"} for m in entry["surviving_mutants"] + entry["equivalent_mutants"]]
    judged = [{**m, "why": equivalent[m["key"]]} for m in pool if m["key"] in equivalent]
    survivors = [m for m in pool if m["key"] not in equivalent]
    counted = entry["mutants"] - len(judged)
    detected = entry["killed"] + entry["timeouts"]
    return {**entry, "survived": len(survivors), "equivalent": len(judged),
            "killed_percent": round(100 * detected / counted, 1) if counted else 100.0,
            "surviving_mutants": survivors, "equivalent_mutants": judged,
            "stale_equivalence_judgements": sorted(set(equivalent) - {m["key"] for m in judged})}


def rerun_survivors(module: str, jobs: int, entry: dict[str, Any]) -> dict[str, Any]:
    """The module's last result with only its surviving (and equivalent-judged) mutants run again.

    For tests added after a run: a mutant they kill was a survivor, and the tests that killed the
    others are still there. Only for the source that was measured; ``reruns`` say what ran again.
    """
    source = (ROOT / MODULES[module]["file"]).read_text(encoding="utf-8")
    if hashlib.sha256(source.encode("utf-8")).hexdigest()[:16] != entry["source_sha256"]:
        raise SystemExit(f"{module}: the source changed since it was measured; run it again")
    keys = {m["key"] for m in entry["surviving_mutants"] + entry["equivalent_mutants"]}
    again = run_module(module, jobs, None, only=keys)
    if again["mutants"] != len(keys):
        raise SystemExit(f"{module}: {len(keys) - again['mutants']} survivors no longer match a mutant; run it again")
    killed, timeouts = entry["killed"] + again["killed"], entry["timeouts"] + again["timeouts"]
    counted = entry["mutants"] - again["equivalent"]
    return {**again, "mutants": entry["mutants"], "killed": killed, "timeouts": timeouts,
            "errors": entry["errors"] + again["errors"],
            "killed_percent": round(100 * (killed + timeouts) / counted, 1) if counted else 100.0,
            "seconds": round(entry["seconds"] + again["seconds"], 1),
            "error_mutants": entry["error_mutants"] + again["error_mutants"],
            # Every rerun since the full run, oldest first (a full run's note comes along with the first).
            "reruns": [*entry.get("reruns", []), {
                "of_commit": entry["commit"], "mutants": again["mutants"], "killed": again["killed"],
                "timeouts": again["timeouts"], "seconds": again["seconds"],
                **({"note": entry["note"]} if "note" in entry else {})}]}


def _git_head() -> str:
    result = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return result.stdout.strip()


def _previous_results() -> dict[str, Any]:
    path = RESULTS_DIR / "mutation.json"
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8")).get("results", {}).get("modules", {})


def main() -> None:
    """Mutate the chosen modules (default: all configured) and merge their results into mutation.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help=f"modules to mutate (default all: {', '.join(MODULES)})")
    parser.add_argument("--jobs", type=int, default=1, help="mutants run at once (default 1: the cores are shared)")
    parser.add_argument("--limit", type=int, help="only the first N mutants of each module (to try the bench)")
    parser.add_argument("--list", action="store_true", help="print the mutants and stop")
    parser.add_argument("--rejudge", action="store_true",
                        help="apply the current EQUIVALENT judgements to the last results of an unchanged module")
    parser.add_argument("--survivors", action="store_true",
                        help="run only the last run's surviving mutants of an unchanged module again (after new "
                             "tests), keeping its other outcomes")
    arguments = parser.parse_args()
    niceness = os.nice(0)
    if niceness < 19:
        os.nice(19 - niceness)  # a bench: never in the way of other work
    os.chdir(ROOT)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that running test processes are killed too
    chosen = arguments.modules or list(MODULES)
    unknown = [module for module in chosen if module not in MODULES]
    if unknown:
        raise SystemExit(f"unknown module(s): {', '.join(unknown)}; configured: {', '.join(MODULES)}")
    if arguments.list:
        for module in chosen:
            for mutant in mutants_of((ROOT / MODULES[module]["file"]).read_text(encoding="utf-8")):
                print(f"{MODULES[module]['file']}:{mutant.line} {mutant.operator}: {mutant.key}")
        return
    measured: dict[str, Any] = {}
    if not arguments.rejudge:
        _preload()
    for module in chosen:
        if arguments.rejudge:
            measured[module] = entry = rejudge(module, _previous_results()[module])
        elif arguments.survivors:
            measured[module] = entry = rerun_survivors(module, arguments.jobs, _previous_results()[module])
        else:
            measured[module] = entry = run_module(module, arguments.jobs, arguments.limit)
        print(f"{module}: {entry['mutants']} mutants, {entry['killed']} killed, {entry['survived']} survived, "
              f"{entry['timeouts']} timeouts, {entry['equivalent']} equivalent → {entry['killed_percent']}%",
              flush=True)
    # Read the others' results only now: a run of another module may have finished meanwhile.
    modules = {**_previous_results(), **measured}
    summary = {module: {key: modules[module][key] for key in
                        ("mutants", "killed", "survived", "timeouts", "equivalent", "killed_percent")}
               for module in modules}
    write_results("mutation", {"summary": summary, "modules": modules})


if __name__ == "__main__":
    main()
