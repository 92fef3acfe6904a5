"""A commune's timetable: read it, see what will air (and what overflows), override it, reset it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from broadcaster.api.deps import CurrentUser, DbSession, JsonBody, RuntimeDep
from broadcaster.api.schemas.common import ERROR_RESPONSES, IdPath, InputModel, LocalTime
from broadcaster.services import timetable_access

router = APIRouter(prefix="/communes/{commune_id}/timetable", tags=["lịch phát"], responses=ERROR_RESPONSES)


class SessionOut(BaseModel):
    """One recurring session (e.g. the 06:00 morning session, Monday to Saturday)."""

    name: str
    label: str
    start: str = Field(description="HH:MM, giờ Việt Nam")
    days: list[str]
    max_minutes: float


class TimetableOut(BaseModel):
    """The timetable a commune airs by."""

    name: str
    description: str
    source: str
    overridden: bool
    sessions: list[SessionOut]

    @classmethod
    def of(cls, timetable: Any) -> TimetableOut:
        """Build from a ``broadcaster.timetable.Timetable``."""
        document = timetable.to_dict()
        return cls(name=timetable.name, description=document["description"], source=timetable.source,
                   overridden=timetable.overridden, sessions=[SessionOut(**s) for s in document["sessions"]])


class TimetableOverride(InputModel):
    """A commune's own timetable, in the shape of a schedules/*.yaml file."""

    description: str = Field(default="", max_length=500)
    sessions: list[dict[str, Any]] = Field(
        max_length=48,
        examples=[[{"name": "morning", "label": "Buổi sáng", "start": "06:30", "days": ["mon", "wed", "fri"],
                    "max_minutes": 20}]],
    )


class PlannedItemOut(BaseModel):
    """A bulletin in a coming session at one cluster."""

    bulletin_id: int
    title: str
    priority: str
    duration_s: float


class UpcomingClusterOut(BaseModel):
    """One cluster in one coming session."""

    cluster_id: int
    cluster_name: str
    included: list[PlannedItemOut]
    deferred: list[PlannedItemOut]
    estimated_s: float


class UpcomingSessionOut(BaseModel):
    """A coming session: what will air where, and what does not fit."""

    name: str
    label: str
    starts_at: LocalTime
    max_duration_s: float
    status: str
    composed: bool
    clusters: list[UpcomingClusterOut]

    @classmethod
    def of(cls, upcoming: Any) -> UpcomingSessionOut:
        """Build from a ``services.timetables.UpcomingSession``."""
        def items(planned: Any) -> list[PlannedItemOut]:
            return [PlannedItemOut(bulletin_id=i.bulletin_id, title=i.title, priority=str(i.priority),
                                   duration_s=i.duration_s) for i in planned]

        starts_at: datetime = upcoming.starts_at
        return cls(name=upcoming.name, label=upcoming.label, starts_at=starts_at,
                   max_duration_s=upcoming.max_duration_s, status=upcoming.status, composed=upcoming.composed,
                   clusters=[UpcomingClusterOut(cluster_id=c.cluster_id, cluster_name=c.cluster_name,
                                                included=items(c.included), deferred=items(c.deferred),
                                                estimated_s=c.estimated_s) for c in upcoming.clusters])


@router.get("", response_model=TimetableOut)
def read_timetable(commune_id: IdPath, user: CurrentUser, session: DbSession, runtime: RuntimeDep) -> TimetableOut:
    """The timetable the commune airs by (its own override, or its named timetable)."""
    return TimetableOut.of(timetable_access.read(session, user, commune_id, runtime.timetables))


@router.put("", response_model=TimetableOut, dependencies=[JsonBody])
def override_timetable(commune_id: IdPath, body: TimetableOverride, user: CurrentUser, session: DbSession,
                       runtime: RuntimeDep) -> TimetableOut:
    """Give the commune its own timetable (admin); the scheduler follows at once."""
    timetable = timetable_access.override(session, user, commune_id, body.model_dump(), runtime.timetables,
                                          runtime.reschedule)
    return TimetableOut.of(timetable)


@router.delete("", response_model=TimetableOut)
def reset_timetable(commune_id: IdPath, user: CurrentUser, session: DbSession, runtime: RuntimeDep) -> TimetableOut:
    """Remove the commune's own timetable: back to its named one (admin)."""
    return TimetableOut.of(timetable_access.override(session, user, commune_id, None, runtime.timetables,
                                                     runtime.reschedule))


@router.get("/upcoming", response_model=list[UpcomingSessionOut])
def upcoming_sessions(commune_id: IdPath, user: CurrentUser, session: DbSession, runtime: RuntimeDep,
                      days: Annotated[int, Query(ge=1, le=31)] = 7) -> list[UpcomingSessionOut]:
    """The coming sessions: what will air at each cluster, and what overflows to a later session."""
    sessions = timetable_access.upcoming(session, user, commune_id, days, lambda: runtime.programming)
    return [UpcomingSessionOut.of(s) for s in sessions]
