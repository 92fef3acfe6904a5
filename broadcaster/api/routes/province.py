"""Province bulletins (TT39 source system): the province writes and approves; communes accept or decline."""

from __future__ import annotations

from fastapi import APIRouter, status

from broadcaster.api.deps import CurrentUser, JsonBody, ProvinceBulletinsDep
from broadcaster.api.schemas.bulletins import RejectBody
from broadcaster.api.schemas.common import ERROR_RESPONSES, IdPath
from broadcaster.api.schemas.province import (
    AcceptBody,
    CommuneOutcomeOut,
    DeclineBody,
    InboxItemOut,
    ProvinceBulletinCreate,
    ProvinceBulletinOut,
    ProvinceReportOut,
)

router = APIRouter(tags=["bản tin cấp tỉnh"], responses=ERROR_RESPONSES)


@router.post("/province-bulletins", response_model=ProvinceBulletinOut, status_code=status.HTTP_201_CREATED,
             dependencies=[JsonBody])
def create_province_bulletin(body: ProvinceBulletinCreate, user: CurrentUser,
                             service: ProvinceBulletinsDep) -> ProvinceBulletinOut:
    """Write a bulletin for several or all communes (province officer and up); it waits for approval."""
    return ProvinceBulletinOut.of(service.create(user, body.fields()))


@router.get("/province-bulletins", response_model=list[ProvinceBulletinOut])
def list_province_bulletins(user: CurrentUser, service: ProvinceBulletinsDep) -> list[ProvinceBulletinOut]:
    """The province's bulletins, newest first (province accounts)."""
    return [ProvinceBulletinOut.of(b) for b in service.list(user)]


@router.get("/province-bulletins/{bulletin_id}", response_model=ProvinceReportOut)
def province_bulletin_report(bulletin_id: IdPath, user: CurrentUser,
                             service: ProvinceBulletinsDep) -> ProvinceReportOut:
    """One bulletin and its report: per commune aired / declined / pending, clusters played / missed."""
    outcomes = service.report(user, bulletin_id)
    return ProvinceReportOut(bulletin=ProvinceBulletinOut.of(service.get(user, bulletin_id)),
                             communes=[CommuneOutcomeOut.of(o) for o in outcomes])


@router.post("/province-bulletins/{bulletin_id}/approve", response_model=ProvinceBulletinOut)
def approve_province_bulletin(bulletin_id: IdPath, user: CurrentUser,
                              service: ProvinceBulletinsDep) -> ProvinceBulletinOut:
    """Approve once for every commune (province approver); an emergency airs at once everywhere."""
    return ProvinceBulletinOut.of(service.approve(user, bulletin_id))


@router.post("/province-bulletins/{bulletin_id}/reject", response_model=ProvinceBulletinOut,
             dependencies=[JsonBody])
def reject_province_bulletin(bulletin_id: IdPath, body: RejectBody, user: CurrentUser,
                             service: ProvinceBulletinsDep) -> ProvinceBulletinOut:
    """Reject with a reason (province approver)."""
    return ProvinceBulletinOut.of(service.reject(user, bulletin_id, body.reason))


INBOX = "/communes/{commune_id}/province-inbox"


@router.get(INBOX, response_model=list[InboxItemOut])
def province_inbox(commune_id: IdPath, user: CurrentUser, service: ProvinceBulletinsDep) -> list[InboxItemOut]:
    """The commune's "Bản tin từ cấp trên": approved province bulletins sent to it."""
    return [InboxItemOut.of(t) for t in service.inbox(user, commune_id)]


@router.post(INBOX + "/{bulletin_id}/accept", response_model=InboxItemOut, dependencies=[JsonBody])
def accept_province_bulletin(commune_id: IdPath, bulletin_id: IdPath, user: CurrentUser,
                             service: ProvinceBulletinsDep, body: AcceptBody | None = None) -> InboxItemOut:
    """Air a normal province bulletin in this commune's sessions of the chosen dates."""
    body = body or AcceptBody()
    return InboxItemOut.of(service.accept(user, commune_id, bulletin_id, body.start_date, body.end_date))


@router.post(INBOX + "/{bulletin_id}/decline", response_model=InboxItemOut, dependencies=[JsonBody])
def decline_province_bulletin(commune_id: IdPath, bulletin_id: IdPath, body: DeclineBody, user: CurrentUser,
                              service: ProvinceBulletinsDep) -> InboxItemOut:
    """Decline a normal province bulletin for this commune, with a reason."""
    return InboxItemOut.of(service.decline(user, commune_id, bulletin_id, body.reason))
