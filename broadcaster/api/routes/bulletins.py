"""Bulletins: create (text), read, list, edit a draft, submit, approve, reject, cancel, preview, history.

Recordings are created through ``routes.recordings`` (multipart, a larger body limit).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status
from fastapi.responses import FileResponse

from broadcaster.api.deps import Bulletins, CurrentUser, JsonBody, RuntimeDep, WorkflowDep
from broadcaster.api.schemas.bulletins import (
    AuditEventOut,
    BulletinCreate,
    BulletinList,
    BulletinOut,
    BulletinUpdate,
    CancelBody,
    RejectBody,
)
from broadcaster.api.schemas.common import ERROR_RESPONSES, DayDate, Id, IdPath
from broadcaster.models import BulletinStatus, Priority
from broadcaster.services.bulletins import BulletinFilters

router = APIRouter(prefix="/bulletins", tags=["bản tin"], responses=ERROR_RESPONSES)

IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=200,
           description="Gửi lại cùng khóa và cùng nội dung sẽ nhận lại bản tin cũ thay vì tạo bản mới"),
]
AUDIO_MEDIA_TYPES = {"mp3": "audio/mpeg", "ogg": "audio/ogg", "wav": "audio/wav"}


@router.post("", response_model=BulletinOut, status_code=status.HTTP_201_CREATED, dependencies=[JsonBody],
             responses={200: {"model": BulletinOut, "description": "Gửi lại với cùng Idempotency-Key"}})
def create_bulletin(body: BulletinCreate, user: CurrentUser, bulletins: Bulletins, response: Response,
                    idempotency_key: IdempotencyKey = None) -> BulletinOut:
    """Create a text bulletin as a draft (201), or return the original for a repeated Idempotency-Key (200)."""
    created = bulletins.create(user, body.fields(), idempotency_key=idempotency_key)
    if not created.created:
        response.status_code = status.HTTP_200_OK
    return BulletinOut.of(created.bulletin)


@router.get("", response_model=BulletinList)
def list_bulletins(
    user: CurrentUser,
    bulletins: Bulletins,
    status_: Annotated[list[BulletinStatus] | None, Query(alias="status", max_length=10)] = None,
    priority: Priority | None = None,
    commune_id: Annotated[Id | None, Query()] = None,
    author_id: Annotated[Id | None, Query()] = None,
    airing_on: Annotated[DayDate | None, Query(description="Bản tin có thời gian phát gồm ngày này")] = None,
    q: Annotated[str | None, Query(max_length=200, description="Tìm trong tiêu đề và nội dung")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> BulletinList:
    """The bulletins you may see, newest first, with filters."""
    filters = BulletinFilters(commune_id=commune_id, statuses=tuple(status_ or ()), priority=priority,
                              author_id=author_id, airing_on=airing_on, search=q, limit=limit, offset=offset)
    page = bulletins.list_page(user, filters)
    return BulletinList(items=[BulletinOut.of(b) for b in page.items], total=page.total)


@router.get("/{bulletin_id}", response_model=BulletinOut)
def get_bulletin(bulletin_id: IdPath, user: CurrentUser, bulletins: Bulletins) -> BulletinOut:
    """One bulletin."""
    return BulletinOut.of(bulletins.get(user, bulletin_id))


@router.patch("/{bulletin_id}", response_model=BulletinOut, dependencies=[JsonBody])
def edit_bulletin(bulletin_id: IdPath, body: BulletinUpdate, user: CurrentUser, bulletins: Bulletins) -> BulletinOut:
    """Change a draft (its author or an approver)."""
    return BulletinOut.of(bulletins.edit(user, bulletin_id, body.changes()))


@router.post("/{bulletin_id}/submit", response_model=BulletinOut)
def submit_bulletin(bulletin_id: IdPath, user: CurrentUser, workflow: WorkflowDep) -> BulletinOut:
    """Send a draft for approval."""
    return BulletinOut.of(workflow.submit(user, bulletin_id))


@router.post("/{bulletin_id}/approve", response_model=BulletinOut)
def approve_bulletin(bulletin_id: IdPath, user: CurrentUser, workflow: WorkflowDep) -> BulletinOut:
    """Approve a submitted bulletin (approver); an emergency airs at once."""
    return BulletinOut.of(workflow.approve(user, bulletin_id))


@router.post("/{bulletin_id}/reject", response_model=BulletinOut, dependencies=[JsonBody])
def reject_bulletin(bulletin_id: IdPath, body: RejectBody, user: CurrentUser, workflow: WorkflowDep) -> BulletinOut:
    """Reject a submitted bulletin with a reason (approver)."""
    return BulletinOut.of(workflow.reject(user, bulletin_id, body.reason))


@router.post("/{bulletin_id}/cancel", response_model=BulletinOut, dependencies=[JsonBody])
def cancel_bulletin(bulletin_id: IdPath, user: CurrentUser, workflow: WorkflowDep,
                    body: CancelBody | None = None) -> BulletinOut:
    """Cancel a bulletin (aired: by leadership, while its window is open); an emergency on the air stops."""
    return BulletinOut.of(workflow.cancel(user, bulletin_id, body.reason if body else ""))


@router.get("/{bulletin_id}/preview", response_class=FileResponse,
            responses={200: {"content": {"audio/mpeg": {}}, "description": "Bản nghe thử (đọc một lần)"}})
def preview_bulletin(bulletin_id: IdPath, user: CurrentUser, bulletins: Bulletins,
                     runtime: RuntimeDep) -> FileResponse:
    """The bulletin as it will sound (read once, synthesized through the audio cache)."""
    audio = runtime.preview(user, lambda: bulletins.preview(user, bulletin_id, lambda: runtime.speech))
    return FileResponse(audio.path, media_type=AUDIO_MEDIA_TYPES.get(audio.fmt, "application/octet-stream"),
                        headers={"ETag": f'"{audio.sha256}"', "Cache-Control": "private, max-age=3600"})


@router.get("/{bulletin_id}/history", response_model=list[AuditEventOut])
def bulletin_history(bulletin_id: IdPath, user: CurrentUser, bulletins: Bulletins) -> list[AuditEventOut]:
    """Who did what to the bulletin, and when (the audit log)."""
    return [AuditEventOut.of(event) for event in bulletins.history(user, bulletin_id)]
