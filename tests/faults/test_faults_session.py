"""A session whose server is killed during fan-out, restarted while the clusters already play it.

Before issue 9 the restart composed the session again and every cluster heard its first seconds,
a stop, then the whole programme again. Now the restart finishes from the outbox.
"""

from __future__ import annotations

import pytest

from tests.faults.conftest import assert_exactly_once
from tests.faults.trials import FaultWorld, run_trial

pytestmark = pytest.mark.slow


def test_a_session_killed_during_fan_out_is_not_stopped_and_replayed(world: FaultWorld) -> None:
    outcome = run_trial(world, "session_fan_out")
    assert_exactly_once(outcome, len(world.agents))
    assert outcome.cut_short == 0  # nobody heard a stop
