"""Duyệt tin: the approvers' queue (oldest first), approve, or reject with a reason."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from broadcaster.api.deps import Bulletins, RuntimeDep, WorkflowDep
from broadcaster.api.runtime import Runtime
from broadcaster.api.schemas.common import IdPath
from broadcaster.errors import BroadcasterError, NotAuthenticated
from broadcaster.models import BulletinStatus, Role, User
from broadcaster.services import heard
from broadcaster.services.bulletins import BulletinFilters, BulletinService
from broadcaster.services.workflow import REASON_MAX_LENGTH
from broadcaster.web.pages.common import see_other, spoken_form
from broadcaster.web.rendering import may, render
from broadcaster.web.routing import PageUser, WebRoute

router = APIRouter(route_class=WebRoute)
QUEUE_PATH = "/duyet-tin"
QUEUE_LIMIT = 100


def _queue_page(
    request: Request,
    user: User,
    bulletins: BulletinService,
    runtime: Runtime,
    *,
    error: BroadcasterError | None = None,
    failed_id: int | None = None,
    reason: str = "",
) -> Response:
    page = bulletins.list_page(user, BulletinFilters(statuses=(BulletinStatus.SUBMITTED,), limit=QUEUE_LIMIT))
    items = list(reversed(page.items))  # a queue: the longest-waiting bulletin first
    return render(
        request,
        "approvals.html",
        {
            "items": items,
            "total": page.total,
            "can_decide": may(user, Role.APPROVER),
            "error": error,
            "failed_id": failed_id,
            "reason": reason,
            "reason_max": REASON_MAX_LENGTH,
            # The approver approves what will be heard: each text's spoken form, guesses marked.
            "spoken": {b.id: spoken_form(lambda: runtime.speech, b.text, b.commune_id) for b in items},
            "digest": heard.spoken_digest,
        },
        status=error.status if error else 200,
    )


@router.get(QUEUE_PATH)
def queue(request: Request, user: PageUser, bulletins: Bulletins, runtime: RuntimeDep) -> Response:
    """The bulletins waiting for approval."""
    return _queue_page(request, user, bulletins, runtime)


@router.post(QUEUE_PATH + "/{bulletin_id}/duyet")
def approve(
    request: Request,
    bulletin_id: IdPath,
    user: PageUser,
    bulletins: Bulletins,
    workflow: WorkflowDep,
    runtime: RuntimeDep,
    nghe: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """Approve one bulletin as it will be heard (an emergency airs at once)."""
    try:
        spoken = heard.check_heard(runtime.speech, bulletins.get(user, bulletin_id), nghe)
        workflow.approve(user, bulletin_id)
        if spoken is not None:
            heard.record_heard(bulletins.session, user, bulletins.get(user, bulletin_id), spoken)
    except NotAuthenticated:
        raise
    except BroadcasterError as error:
        return _queue_page(request, user, bulletins, runtime, error=error, failed_id=bulletin_id)
    return see_other(f"{QUEUE_PATH}?tb=da-duyet")


@router.post(QUEUE_PATH + "/{bulletin_id}/tu-choi")
def reject(
    request: Request,
    bulletin_id: IdPath,
    user: PageUser,
    bulletins: Bulletins,
    workflow: WorkflowDep,
    runtime: RuntimeDep,
    reason: Annotated[str, Form(max_length=REASON_MAX_LENGTH * 2)] = "",
) -> Response:
    """Reject one bulletin with the reason its author will read."""
    try:
        workflow.reject(user, bulletin_id, reason)
    except NotAuthenticated:
        raise
    except BroadcasterError as error:
        return _queue_page(request, user, bulletins, runtime, error=error, failed_id=bulletin_id, reason=reason)
    return see_other(f"{QUEUE_PATH}?tb=da-tu-choi")
