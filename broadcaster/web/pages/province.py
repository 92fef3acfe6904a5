"""Toàn tỉnh (a province admin): every commune at a glance, with links into its pages, and adding a commune."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from broadcaster.api.deps import DbSession, RuntimeDep
from broadcaster.errors import BroadcasterError
from broadcaster.services import province_overview, registry, scoping
from broadcaster.web import forms
from broadcaster.web.pages.common import answer_form, see_other
from broadcaster.web.rendering import render
from broadcaster.web.routing import PageUser, WebRoute

router = APIRouter(route_class=WebRoute)
PROVINCE_PATH = "/toan-tinh"
Field = Annotated[str, Form(max_length=300)]


def _page(request: Request, session: DbSession, user: PageUser, runtime: RuntimeDep, *,
          error: BroadcasterError | None = None, values: dict[str, str] | None = None) -> Response:
    now = runtime.clock.now()
    communes = province_overview.summaries(session, user, now, runtime.timetables)
    return render(
        request,
        "province.html",
        {
            "communes": communes,
            "checked_at": now,
            "window_hours": int(province_overview.FAILURE_WINDOW.total_seconds() // 3600),
            "error": error,
            "values": values or {"name": "", "code": ""},
        },
        status=error.status if error else 200,
    )


@router.get(PROVINCE_PATH)
def overview(request: Request, user: PageUser, session: DbSession, runtime: RuntimeDep) -> Response:
    """Every commune: clusters online and offline, today's sessions, failures in the last 24 hours."""
    scoping.require_province_admin(user)
    return _page(request, session, user, runtime)


@router.post(PROVINCE_PATH + "/them-xa")
def add_commune(request: Request, user: PageUser, session: DbSession, runtime: RuntimeDep, name: Field = "",
                code: Field = "") -> Response:
    """Register a commune on the default timetable; next, its first admin account."""
    return answer_form(
        session,
        lambda: registry.create_commune(
            session, user, code=code, name=forms.text(name, "Tên xã/phường", max_length=200),
            schedules_dir=runtime.settings.schedules_dir, on_timetable_change=runtime.reschedule),
        lambda commune: see_other(f"/tai-khoan?xa={commune.id}&tb=da-them-xa"),
        lambda error: _page(request, session, user, runtime, error=error, values={"name": name, "code": code}))
