"""Hand-offs for tests: one that fails for chosen clusters (delivery unreachable), recording the rest.

The recording hand-off itself is ``broadcaster.services.handoff.RecordingHandoff``: it is also the
way to run the service without loudspeakers, so it lives in the package.
"""

from __future__ import annotations

from collections.abc import Iterable

from broadcaster.errors import ServiceFailure
from broadcaster.services.handoff import ClusterProgramme, RecordingHandoff


class DeliveryDown(ServiceFailure):
    """The stand-in's failure: delivery could not take the programme."""

    code = "delivery_down"


class FailingHandoff(RecordingHandoff):
    """Refuses programmes for ``failing`` clusters (raises), records the others."""

    def __init__(self, failing: Iterable[int]) -> None:
        super().__init__()
        self.failing = set(failing)
        self.refused: list[ClusterProgramme] = []

    def hand_off(self, programme: ClusterProgramme) -> None:
        """Raise for a failing cluster, else record."""
        if programme.cluster_id in self.failing:
            self.refused.append(programme)
            raise DeliveryDown("Không chuyển được chương trình tới cụm loa.", detail=f"cluster {programme.cluster_id}")
        super().hand_off(programme)
