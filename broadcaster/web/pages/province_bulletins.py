"""Province bulletins on the pages: "Tin của tỉnh" (write, approve, report) and a commune's "Bản tin từ cấp trên".

The logic is ``services.province_bulletins``; these routes read forms and show its answers.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from broadcaster.api.deps import DbSession, ProvinceBulletinsDep
from broadcaster.api.schemas.common import IdPath
from broadcaster.errors import BroadcasterError
from broadcaster.models import Priority, User
from broadcaster.services.bulletins import MAX_REPEAT
from broadcaster.services.province_bulletins import ProvinceBulletinFields
from broadcaster.web import forms
from broadcaster.web.pages.common import (
    ListField,
    ShortField,
    TextField,
    answer_form,
    commune_choices,
    page_commune,
    see_other,
)
from broadcaster.web.rendering import render
from broadcaster.web.routing import PageUser, WebRoute

router = APIRouter(route_class=WebRoute)
PROVINCE_BULLETINS_PATH = "/tin-tinh"
INBOX_PATH = "/tin-cap-tren"
ReasonField = Annotated[str, Form(max_length=4000)]
PRIORITY_LABELS = {Priority.NORMAL: "Thường (xã chọn buổi phát)", Priority.PRIORITY: "Ưu tiên (phát buổi tới)",
                   Priority.EMERGENCY: "Khẩn cấp (phát ngay)"}
OUTCOME_LABELS = {"aired": "Đã phát", "declined": "Xã từ chối", "pending": "Chưa phát"}


def _list_page(request: Request, session: DbSession, user: User, service: ProvinceBulletinsDep, *,
               values: dict[str, Any] | None = None, error: BroadcasterError | None = None) -> Response:
    return render(request, "province_bulletins.html", {
        "bulletins": service.list(user),
        "communes": service.communes(user),
        "values": values or {"title": "", "text": "", "priority": "normal", "commune_ids": [], "start_date": "",
                             "end_date": "", "repeat": "1"},
        "priorities": PRIORITY_LABELS, "max_repeat": MAX_REPEAT, "error": error,
    }, status=error.status if error else 200)


@router.get(PROVINCE_BULLETINS_PATH)
def province_bulletins(request: Request, user: PageUser, session: DbSession,
                       service: ProvinceBulletinsDep) -> Response:
    """The province's bulletins (newest first) and the form to write one (province accounts)."""
    return _list_page(request, session, user, service)


@router.post(PROVINCE_BULLETINS_PATH)
def write(request: Request, user: PageUser, session: DbSession, service: ProvinceBulletinsDep,
          title: ShortField = "", text: TextField = "", priority: ShortField = "",
          commune_ids: ListField = [],  # noqa: B006 - FastAPI copies defaults
          start_date: ShortField = "", end_date: ShortField = "", repeat: ShortField = "") -> Response:
    """Write a province bulletin; it waits for the province's approver."""
    values = {"title": title, "text": text, "priority": priority, "commune_ids": commune_ids,
              "start_date": start_date, "end_date": end_date, "repeat": repeat}
    return answer_form(
        session,
        lambda: service.create(user, ProvinceBulletinFields(
            title=title, text=text, priority=forms.priority(priority, allow_emergency=True),
            commune_ids=forms.ids(commune_ids, "Xã"), start_date=forms.optional_date(start_date, "Ngày bắt đầu"),
            end_date=forms.optional_date(end_date, "Ngày kết thúc"),
            repeat=forms.number(repeat, "Số lần đọc", default=1, low=1, high=MAX_REPEAT))),
        lambda bulletin: see_other(f"{PROVINCE_BULLETINS_PATH}/{bulletin.id}?tb=da-gui-tinh"),
        lambda error: _list_page(request, session, user, service, values=values, error=error))


def _report_page(request: Request, user: User, service: ProvinceBulletinsDep, bulletin_id: int,
                 error: BroadcasterError | None = None) -> Response:
    bulletin = service.get(user, bulletin_id)
    return render(request, "province_bulletin.html", {
        "bulletin": bulletin, "outcomes": service.report(user, bulletin_id), "priorities": PRIORITY_LABELS,
        "outcome_labels": OUTCOME_LABELS, "error": error,
    }, status=error.status if error else 200)


@router.get(PROVINCE_BULLETINS_PATH + "/{bulletin_id}")
def report(request: Request, bulletin_id: IdPath, user: PageUser, service: ProvinceBulletinsDep) -> Response:
    """One province bulletin and, per commune, aired / declined / pending and clusters played / missed."""
    return _report_page(request, user, service, bulletin_id)


@router.post(PROVINCE_BULLETINS_PATH + "/{bulletin_id}/duyet")
def approve(request: Request, bulletin_id: IdPath, user: PageUser, session: DbSession,
            service: ProvinceBulletinsDep) -> Response:
    """Approve once for every commune (the province's approver)."""
    return answer_form(session, lambda: service.approve(user, bulletin_id),
                       lambda _: see_other(f"{PROVINCE_BULLETINS_PATH}/{bulletin_id}?tb=da-duyet-tinh"),
                       lambda error: _report_page(request, user, service, bulletin_id, error))


@router.post(PROVINCE_BULLETINS_PATH + "/{bulletin_id}/tu-choi")
def reject(request: Request, bulletin_id: IdPath, user: PageUser, session: DbSession,
           service: ProvinceBulletinsDep, reason: ReasonField = "") -> Response:
    """Reject with a reason (the province's approver)."""
    return answer_form(session, lambda: service.reject(user, bulletin_id, reason),
                       lambda _: see_other(f"{PROVINCE_BULLETINS_PATH}/{bulletin_id}?tb=da-tu-choi"),
                       lambda error: _report_page(request, user, service, bulletin_id, error))


def _inbox_page(request: Request, session: DbSession, user: User, service: ProvinceBulletinsDep, xa: str,
                error: BroadcasterError | None = None) -> Response:
    commune = page_commune(session, user, xa)
    return render(request, "province_inbox.html", {
        "commune": commune, "communes": commune_choices(session, user),
        "items": service.inbox(user, commune.id), "priorities": PRIORITY_LABELS, "error": error,
    }, status=error.status if error else 200)


@router.get(INBOX_PATH)
def inbox(request: Request, user: PageUser, session: DbSession, service: ProvinceBulletinsDep,
          xa: str = "") -> Response:
    """The commune's "Bản tin từ cấp trên": what the province sent, to air or decline."""
    return _inbox_page(request, session, user, service, xa)


@router.post(INBOX_PATH + "/{bulletin_id}/nhan")
def accept(request: Request, bulletin_id: IdPath, user: PageUser, session: DbSession,
           service: ProvinceBulletinsDep, xa: ShortField = "", start_date: ShortField = "",
           end_date: ShortField = "") -> Response:
    """Air the province's bulletin in this commune's sessions of the chosen dates."""
    commune = page_commune(session, user, xa)
    return answer_form(
        session,
        lambda: service.accept(user, commune.id, bulletin_id, forms.optional_date(start_date, "Ngày bắt đầu"),
                               forms.optional_date(end_date, "Ngày kết thúc")),
        lambda _: see_other(f"{INBOX_PATH}?xa={commune.id}&tb=da-nhan-tin"),
        lambda error: _inbox_page(request, session, user, service, str(commune.id), error))


@router.post(INBOX_PATH + "/{bulletin_id}/tu-choi")
def decline(request: Request, bulletin_id: IdPath, user: PageUser, session: DbSession,
            service: ProvinceBulletinsDep, xa: ShortField = "", reason: ReasonField = "") -> Response:
    """Decline the province's bulletin for this commune, with a reason."""
    commune = page_commune(session, user, xa)
    return answer_form(session, lambda: service.decline(user, commune.id, bulletin_id, reason),
                       lambda _: see_other(f"{INBOX_PATH}?xa={commune.id}&tb=da-tu-choi-tin"),
                       lambda error: _inbox_page(request, session, user, service, str(commune.id), error))
