"""Fixtures of the fault-injection suite: a started ``FaultWorld`` per test module (see trials.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults.trials import FaultWorld, Outcome


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultWorld]:
    """A server and two agents, started; everything killed at the end (their logs printed on failure)."""
    started = FaultWorld(tmp_path_factory.mktemp("faults")).start()
    yield started
    started.stop()
    print(f"--- server log ---\n{started.server.log_path.read_text(errors='replace')[-6000:]}")


def assert_exactly_once(outcome: Outcome, clusters: int) -> None:
    """Every cluster aired it once: none lost, none doubled."""
    assert outcome.counts() == {"once": clusters}, (outcome.per_cluster, outcome.notes)
