"""Programming: compose each cluster's programme for a session or an emergency, render it, hand it off.

- ``plan``: which bulletins air where, in what order, and what is deferred (no audio, no writes);
- ``render``: exact durations and renders that fit the session length;
- ``session``: ``ProgrammingService.run_session``, what a timetable session job does;
- ``emergency``: ``accept_emergency`` (the intent, committed with the approval), ``EmergencyAirer``
  (on the air at once, pre-empting; resumed after a restart), ``stop_emergency``;
- ``resume``: finishing an airing a dead process left half handed off, from the outbox;
- ``recall``: ``recompose_airing``, a handed-off programme again without bulletins cancelled since.
"""

from broadcaster.services.programming.emergency import (
    EmergencyAirer,
    EmergencyAiring,
    accept_emergency,
    stop_emergency,
)
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
    "EmergencyAirer",
    "EmergencyAiring",
    "PlannedItem",
    "ProgrammingService",
    "RecallResult",
    "SessionResult",
    "accept_emergency",
    "fit_items",
    "plan_clusters",
    "recompose_airing",
    "stop_emergency",
]
