"""Test-only crash points: a process that SIGKILLs itself at a named boundary, to prove what survives.

Off unless the environment variable ``BROADCASTER_CRASH_AT`` names a boundary (read once, on the
first crash point reached; nothing is read at import time). Its value is ``<boundary>`` or
``<boundary>:<seconds>``: at that boundary the process waits that long (the other threads go
on: the delivery lanes keep sending, the player keeps playing) and then kills itself with
SIGKILL, so no shutdown code, no ``finally``, no flush runs: exactly a power cut or ``kill -9``
at that instant. The fault-injection suite (``tests/faults``) and ``bench/faults.py`` use it.

Boundaries (each one's owner after the restart is named in docs/architecture.md):

- server: ``accepted`` (an emergency's approval and airing intent committed, nothing rendered),
  ``rendering`` (about to render it), ``handed_off`` (a batch of signed orders committed, not
  yet queued for sending), ``fan_out`` (orders handed to the lanes, the airing not yet marked);
- agent: ``downloaded`` (audio checked and stored, not yet playing), ``playing`` (the programme
  sounding).

A crash point is one dictionary lookup when off; they sit at boundaries, never in loops.
"""

from __future__ import annotations

import os
import signal
import time

ENV = "BROADCASTER_CRASH_AT"
_plan: dict[str, float] | None = None


def _armed() -> dict[str, float]:
    global _plan
    if _plan is None:
        _plan = {}
        for spec in filter(None, (part.strip() for part in os.environ.get(ENV, "").split(","))):
            name, _, delay = spec.partition(":")
            _plan[name] = float(delay or 0)
    return _plan


def crash_point(boundary: str) -> None:
    """SIGKILL this process here if ``BROADCASTER_CRASH_AT`` names ``boundary`` (after its delay)."""
    plan = _armed()
    if boundary not in plan:
        return
    if plan[boundary] > 0:
        time.sleep(plan[boundary])
    os.kill(os.getpid(), signal.SIGKILL)
