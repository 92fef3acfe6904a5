"""CPU seconds spent by each party of a benchmark (client, servers, database) and by the whole machine.

On a shared 2-core machine a latency figure means little without knowing who had the CPU: this
reads /proc before and after a timed run.
"""

from __future__ import annotations

import os
import resource
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2:].split()  # fields from the third on (the name may hold spaces)


def process_cpu_s(pid: int, *, with_reaped_children: bool = False) -> float:
    """User + system CPU seconds of ``pid`` (and of its children it already waited for)."""
    try:
        fields = _stat(pid)
    except FileNotFoundError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if with_reaped_children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / _TICK


def children(pid: int) -> list[int]:
    """The live children of ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(_stat(int(entry.name))[1]) == pid:
                    found.append(int(entry.name))
            except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
                continue
    return found


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of a server process and its children, live or exited (PostgreSQL's backends)."""
    return process_cpu_s(pid, with_reaped_children=True) + sum(process_cpu_s(child) for child in children(pid))


def machine_busy_s() -> float:
    """CPU seconds the whole machine spent busy (every process, ours or not)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / _TICK


class CpuMeter:
    """CPU used from now on by this process (``me``: the client, say) and its children, by named process trees,
    and by the machine."""

    def __init__(self, trees: dict[str, list[int]] | None = None, *, me: str = "client") -> None:
        self.trees = trees or {}
        self.me = me
        self._start = self._sample()

    def _sample(self) -> dict[str, float]:
        own = resource.getrusage(resource.RUSAGE_SELF)
        reaped = resource.getrusage(resource.RUSAGE_CHILDREN)  # ffmpeg and the like, once finished
        sample = {self.me: own.ru_utime + own.ru_stime + reaped.ru_utime + reaped.ru_stime,
                  "machine": machine_busy_s()}
        for name, pids in self.trees.items():
            sample[name] = sum(tree_cpu_s(pid) for pid in pids)
        return sample

    def read(self) -> dict[str, float]:
        """CPU seconds used since this meter was made, by party; ``machine`` counts everyone (2 cores: 2 s per s)."""
        end = self._sample()
        return {name: round(end[name] - self._start[name], 1) for name in end}
