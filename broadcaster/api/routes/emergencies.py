"""Emergencies: an approver airs a bulletin at once, bypassing the timetable and pre-empting what plays.

An emergency is stopped by cancelling it (POST /bulletins/{id}/cancel).
"""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from broadcaster.api.deps import CurrentUser, JsonBody, WorkflowDep
from broadcaster.api.routes.bulletins import IdempotencyKey
from broadcaster.api.schemas.bulletins import BulletinOut, EmergencyAiringOut, EmergencyCreate, EmergencyOut
from broadcaster.api.schemas.common import ERROR_RESPONSES
from broadcaster.services.workflow import EmergencyResult

router = APIRouter(prefix="/emergencies", tags=["phát khẩn"], responses=ERROR_RESPONSES)


def emergency_out(result: EmergencyResult) -> EmergencyOut:
    """The response body for an emergency the workflow handled."""
    return EmergencyOut(bulletin=BulletinOut.of(result.bulletin), airing=EmergencyAiringOut.of(result.airing))


@router.post("", response_model=EmergencyOut, status_code=status.HTTP_201_CREATED, dependencies=[JsonBody],
             responses={200: {"model": EmergencyOut, "description": "Gửi lại với cùng Idempotency-Key"}})
def send_emergency(body: EmergencyCreate, user: CurrentUser, workflow: WorkflowDep, response: Response,
                   idempotency_key: IdempotencyKey = None) -> EmergencyOut:
    """Air a text bulletin at once as an emergency (approver)."""
    result = workflow.send_emergency(user, body.fields(), idempotency_key=idempotency_key,
                                     sole_leader_on_duty=body.sole_leader_on_duty)
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return emergency_out(result)
