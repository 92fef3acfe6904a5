"""Bản tin: the bulletin list (badges, filters), one bulletin, submitting, cancelling, its "Nghe thử" audio."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse
from starlette.responses import Response

from broadcaster.api.deps import Bulletins, RuntimeDep, WorkflowDep
from broadcaster.api.schemas.common import IdPath
from broadcaster.models import Bulletin, BulletinStatus, Priority, Role, User
from broadcaster.services import commune_overview, scoping
from broadcaster.services.bulletins import BulletinFilters
from broadcaster.services.workflow import REASON_MAX_LENGTH
from broadcaster.web import forms
from broadcaster.web.pages.common import see_other, spoken_form
from broadcaster.web.rendering import may, render
from broadcaster.web.routing import PageUser, WebRoute

router = APIRouter(route_class=WebRoute)
PAGE_SIZE = 20
AUDIO_TYPES = {"mp3": "audio/mpeg", "ogg": "audio/ogg", "wav": "audio/wav"}


@router.get("/ban-tin")
def bulletin_list(
    request: Request,
    user: PageUser,
    bulletins: Bulletins,
    trang_thai: str = "",
    uu_tien: str = "",
    q: str = "",
    ngay: str = "",
    trang: str = "",
) -> Response:
    """The bulletins the user may see, newest first, with filters and pages."""
    if user.commune_id is None and not scoping.is_province_admin(user):
        return see_other("/tin-tinh")  # a province officer or approver works on the province's bulletins
    status = forms.optional_status(trang_thai)
    page = forms.number(trang, "Trang", default=1, low=1, high=100_000)
    filters = BulletinFilters(
        statuses=(status,) if status else (),
        priority=forms.optional_priority(uu_tien),
        search=q.strip()[:200] or None,
        airing_on=forms.optional_date(ngay, "Ngày phát"),
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    found = bulletins.list_page(user, filters)
    pages = max(1, -(-found.total // PAGE_SIZE))
    airing_on = filters.airing_on
    values = {"trang_thai": trang_thai, "uu_tien": uu_tien, "q": q, "ngay": forms.date_text(airing_on) or ngay}
    return render(
        request,
        "bulletins.html",
        {
            "items": found.items,
            "total": found.total,
            "page": page,
            "pages": pages,
            "filters": values,
            "statuses": list(BulletinStatus),
            "priorities": list(Priority),
        },
    )


def actions(user: User, bulletin: Bulletin) -> dict[str, bool]:
    """Which buttons to offer on a bulletin (the workflow still checks each one when pressed)."""
    own = bulletin.author_id == user.id
    approver = may(user, Role.APPROVER)
    status = bulletin.status
    cancellable = (status in (BulletinStatus.DRAFT, BulletinStatus.SUBMITTED) and (own or approver)) or (
        approver
        and (
            status == BulletinStatus.APPROVED
            or (status == BulletinStatus.AIRED and bulletin.priority == Priority.EMERGENCY)
        )
    )
    return {
        "submit": status == BulletinStatus.DRAFT and (own or approver),
        "edit": status == BulletinStatus.DRAFT and (own or approver),
        "cancel": cancellable,
        "decide": status == BulletinStatus.SUBMITTED and approver,
    }


@router.get("/ban-tin/{bulletin_id}")
def bulletin_detail(
    request: Request, bulletin_id: IdPath, user: PageUser, bulletins: Bulletins, runtime: RuntimeDep
) -> Response:
    """One bulletin: its content and spoken form, targets, window, status, history and the actions allowed."""
    bulletin = bulletins.get(user, bulletin_id)
    history = bulletins.history(user, bulletin_id)
    names = commune_overview.people(bulletins.session, [event.actor_id for event in history])
    return render(
        request,
        "bulletin.html",
        {
            "b": bulletin,
            "history": history,
            "names": names,
            "can": actions(user, bulletin),
            "reason_max": REASON_MAX_LENGTH,
            "spoken": spoken_form(lambda: runtime.speech, bulletin.text, bulletin.commune_id),
        },
    )


@router.post("/ban-tin/{bulletin_id}/gui-duyet")
def submit(bulletin_id: IdPath, user: PageUser, workflow: WorkflowDep) -> Response:
    """Send a draft for approval."""
    workflow.submit(user, bulletin_id)
    return see_other(f"/ban-tin/{bulletin_id}?tb=da-gui")


@router.post("/ban-tin/{bulletin_id}/huy")
def cancel(
    bulletin_id: IdPath,
    user: PageUser,
    workflow: WorkflowDep,
    reason: Annotated[str, Form(max_length=REASON_MAX_LENGTH)] = "",
) -> Response:
    """Cancel a bulletin that has not aired (or stop an emergency on the air)."""
    workflow.cancel(user, bulletin_id, reason)
    return see_other(f"/ban-tin/{bulletin_id}?tb=da-huy")


@router.get("/ban-tin/{bulletin_id}/nghe-thu")
def stored_preview(
    bulletin_id: IdPath, user: PageUser, bulletins: Bulletins, runtime: RuntimeDep
) -> Response:
    """The stored bulletin read once, as it will sound (synthesized through the audio cache)."""
    audio = runtime.preview(user, lambda: bulletins.preview(user, bulletin_id, lambda: runtime.speech))
    return FileResponse(
        audio.path,
        media_type=AUDIO_TYPES.get(audio.fmt, "application/octet-stream"),
        headers={"Cache-Control": "private, max-age=3600"},
    )
