"""Start-up that cleans up after itself: a process whose start-up fails is killed, not left running."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def killed_on_failure(process: subprocess.Popen[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    """Kill and reap ``process`` if the block raises (a wait for /health that timed out, an interrupt).

    Why: a fixture whose set-up raises never reaches its teardown, so whatever it started would outlive
    the test run.
    """
    try:
        yield process
    except BaseException:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        raise
