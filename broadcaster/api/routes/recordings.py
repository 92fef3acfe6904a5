"""Bulletins and emergencies from an uploaded recording (multipart/form-data, a larger body limit).

The body limit is enforced while the request streams in (413 before the whole file is read);
the upload store enforces the cap again, and proves the file is audio by decoding it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Response, UploadFile, status

from broadcaster.api.deps import Bulletins, CurrentUser, MultipartBody, WorkflowDep
from broadcaster.api.routes.bulletins import IdempotencyKey
from broadcaster.api.routes.emergencies import emergency_out
from broadcaster.api.schemas.bulletins import BulletinOut, EmergencyOut, RecordingForm
from broadcaster.api.schemas.common import ERROR_RESPONSES, ErrorOut

Recording = Annotated[UploadFile, File(description="Tệp ghi âm (mp3, m4a, wav, ogg...)")]

router = APIRouter(tags=["bản tin"], responses={**ERROR_RESPONSES, 413: {"model": ErrorOut}})

@router.post("/bulletins/recording", response_model=BulletinOut, status_code=status.HTTP_201_CREATED,
             dependencies=[MultipartBody],
             responses={200: {"model": BulletinOut, "description": "Gửi lại với cùng Idempotency-Key"}})
def create_recording_bulletin(form: Annotated[RecordingForm, Form()], file: Recording, user: CurrentUser,
                              bulletins: Bulletins, response: Response,
                              idempotency_key: IdempotencyKey = None) -> BulletinOut:
    """Create a draft bulletin from an uploaded recording (e.g. read in Tày or Mông)."""
    created = bulletins.create(user, form.fields(), upload=file.file, upload_filename=file.filename,
                               idempotency_key=idempotency_key)
    if not created.created:
        response.status_code = status.HTTP_200_OK
    return BulletinOut.of(created.bulletin)


@router.post("/emergencies/recording", response_model=EmergencyOut, status_code=status.HTTP_201_CREATED,
             dependencies=[MultipartBody], tags=["phát khẩn"])
def send_recording_emergency(form: Annotated[RecordingForm, Form()], file: Recording, user: CurrentUser,
                             workflow: WorkflowDep, response: Response,
                             idempotency_key: IdempotencyKey = None) -> EmergencyOut:
    """Air an uploaded recording at once as an emergency (approver), pre-empting whatever plays."""
    result = workflow.send_emergency(user, form.fields(), upload=file.file, upload_filename=file.filename,
                                     idempotency_key=idempotency_key, sole_leader_on_duty=form.sole_leader_on_duty)
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return emergency_out(result)
