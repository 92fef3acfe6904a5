"""A pytest plugin for the mutation bench: which test runs which lines of one module, and how long it takes.

Lines run while a module is imported (module level, class bodies, default arguments) belong to no
test; the bench runs every guarding test for a mutant there. Lines run in threads are counted for
the test that is running; lines run in subprocesses are not seen at all (the bench then runs every
guarding test for that mutant too).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Generator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest


class LineCoverage:
    """Records, per test node id, the lines of ``target`` run inside functions and the test's duration."""

    def __init__(self, target: str, output: Path) -> None:
        self._target = target
        self._output = output
        self._current: str | None = None
        self.lines: dict[str, set[int]] = {}
        self.seconds: dict[str, float] = {}
        self.failed: list[str] = []

    def _global(self, frame: FrameType, event: str, arg: Any) -> Any:
        code = frame.f_code
        if code.co_filename != self._target or code.co_name == "<module>" or self._current is None:
            return None
        return self._local

    def _local(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event == "line" and self._current is not None:
            self.lines.setdefault(self._current, set()).add(frame.f_lineno)
        return self._local

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None]:
        """Attribute what the test runs to it, and time it (set-up and tear-down included)."""
        self._current = item.nodeid
        sys.settrace(self._global)
        threading.settrace(self._global)
        started = time.perf_counter()
        yield
        self.seconds[item.nodeid] = time.perf_counter() - started
        sys.settrace(None)
        threading.settrace(None)  # type: ignore[arg-type]
        self._current = None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Remember failing tests: a baseline that fails makes every mutant look killed."""
        if report.failed:
            self.failed.append(report.nodeid)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Write what was measured."""
        document = {
            "seconds": self.seconds,
            "lines": {nodeid: sorted(lines) for nodeid, lines in self.lines.items()},
            "failed": self.failed,
        }
        self._output.write_text(json.dumps(document), encoding="utf-8")
