"""Resource faults end to end: the SQLite write lock held by another process, and a full disk (a small
tmpfs, mounted when running as root; skipped, saying so, otherwise). 503 first, then exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.small_disk import small_disk
from tests.faults.conftest import assert_exactly_once
from tests.faults.trials import FaultWorld, run_trial

pytestmark = pytest.mark.slow


def test_a_held_database_lock_answers_503_then_the_emergency_airs_exactly_once(world: FaultWorld) -> None:
    outcome = run_trial(world, "database_locked")
    assert_exactly_once(outcome, len(world.agents))


@pytest.fixture
def world_on_a_small_disk(tmp_path: Path) -> Iterator[FaultWorld]:
    with small_disk(tmp_path / "disk", size_mb=48) as disk:
        started = FaultWorld(tmp_path, disk=disk).start()
        try:
            yield started
        finally:
            started.stop()


def test_a_full_disk_answers_503_then_the_emergency_airs_exactly_once(world_on_a_small_disk: FaultWorld) -> None:
    outcome = run_trial(world_on_a_small_disk, "disk_full")
    assert_exactly_once(outcome, len(world_on_a_small_disk.agents))
