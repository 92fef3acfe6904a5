"""Service endpoints: health and Prometheus metrics (no token needed)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from broadcaster.api.deps import DbSession, RuntimeDep
from broadcaster.services.health import database_ok

router = APIRouter(tags=["hệ thống"])
SchedulerState = Literal["leader", "standby", "off"]


class HealthOut(BaseModel):
    """Whether the service can do its work."""

    status: Literal["ok", "degraded"]
    database: Literal["ok", "error"]
    scheduler: SchedulerState = Field(
        description="leader: this process runs the timetables; standby: another one does; off: not started here")


@router.get("/health", response_model=HealthOut)
def health(session: DbSession, runtime: RuntimeDep, response: Response) -> HealthOut:
    """Health check: the database answers (503 if not) and whether the scheduler runs."""
    db_ok = database_ok(session)
    if not db_ok:
        response.status_code = 503
    scheduler = runtime.scheduler
    state: SchedulerState = "off" if scheduler is None else "leader" if scheduler.is_leader else "standby"
    return HealthOut(status="ok" if db_ok else "degraded", database="ok" if db_ok else "error", scheduler=state)


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}})
def metrics(request: Request) -> Response:
    """Prometheus metrics: requests by route and status, latency, bulletins by status."""
    body, content_type = request.app.state.metrics.render()
    return Response(content=body, media_type=content_type)
