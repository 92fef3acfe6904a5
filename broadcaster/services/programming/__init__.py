"""Programming: compose each cluster's programme for a session or an emergency, render it, hand it off.

- ``plan``: which bulletins air where, in what order, and what is deferred (no audio, no writes);
- ``render``: exact durations and renders that fit the session length;
- ``session``: ``ProgrammingService.run_session``, what a timetable session job does;
- ``emergency``: ``air_emergency`` / ``stop_emergency``, at once and pre-empting;
- ``recall``: ``recompose_airing``, a handed-off programme again without bulletins cancelled since.
"""

from broadcaster.services.programming.emergency import EmergencyAiring, air_emergency, stop_emergency
from broadcaster.services.programming.plan import (
    Candidate,
    ClusterPlan,
    PlannedItem,
    fit_items,
    plan_clusters,
)
from broadcaster.services.programming.recall import RecallResult, recompose_airing
from broadcaster.services.programming.session import ProgrammingService, SessionResult

__all__ = [
    "Candidate",
    "ClusterPlan",
    "EmergencyAiring",
    "PlannedItem",
    "ProgrammingService",
    "RecallResult",
    "SessionResult",
    "air_emergency",
    "fit_items",
    "plan_clusters",
    "recompose_airing",
    "stop_emergency",
]
