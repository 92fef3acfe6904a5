"""SIGKILL of the server at each boundary of an emergency: accepted, rendering, handed off, fan-out.

The client retries with the same Idempotency-Key after the restart, as a real one does; every
cluster must play the emergency exactly once, counted from the agents' own play logs.
"""

from __future__ import annotations

import pytest

from tests.faults.conftest import assert_exactly_once
from tests.faults.trials import SERVER_BOUNDARIES, FaultWorld, run_trial

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("boundary", SERVER_BOUNDARIES)
def test_an_emergency_airs_exactly_once_when_the_server_is_killed(world: FaultWorld, boundary: str) -> None:
    outcome = run_trial(world, boundary)
    assert_exactly_once(outcome, len(world.agents))
