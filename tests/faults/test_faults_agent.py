"""Agent-side faults: SIGKILL after the download and while playing; the programme damaged in the
server's cache before any agent fetched it, and on an agent's card after it downloaded it."""

from __future__ import annotations

import pytest

from tests.faults.conftest import assert_exactly_once
from tests.faults.trials import FaultWorld, run_trial

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("fault", ["downloaded", "cache_corrupt", "agent_file_corrupt"])
def test_an_emergency_airs_exactly_once_through_the_fault(world: FaultWorld, fault: str) -> None:
    outcome = run_trial(world, fault)
    assert_exactly_once(outcome, len(world.agents))
    assert outcome.cut_short == 0


def test_an_agent_killed_while_playing_does_not_play_it_again(world: FaultWorld) -> None:
    outcome = run_trial(world, "playing")
    assert_exactly_once(outcome, len(world.agents))
    assert outcome.cut_short == 1  # the killed one: cut, reported interrupted, not replayed
