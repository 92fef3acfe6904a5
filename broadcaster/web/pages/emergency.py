"""Phát khẩn cấp: an emergency in two steps (write, then confirm the targets it repeats), and STOP.

Step one checks everything the workflow would (role, title, text, targets reaching a cluster)
without storing anything, and shows a confirmation naming every cluster that will sound. Only the
confirmed second form calls ``Workflow.send_emergency``, with the form's idempotency key, so a
double click airs once. "DỪNG PHÁT" cancels the bulletin, which stops it on the speakers; it is
offered only while the emergency is live (waiting or playing somewhere). An emergency airs once,
unless "Phát lại trong các buổi hôm nay" is ticked; "Tôi là lãnh đạo trực duy nhất" is the
four-eyes exception, recorded in the audit log.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Request, UploadFile
from sqlalchemy.orm import Session
from starlette.responses import Response

from broadcaster.api.deps import Bulletins, DbSession, RuntimeDep, WorkflowDep
from broadcaster.api.runtime import Runtime
from broadcaster.api.schemas.common import IdPath
from broadcaster.errors import BroadcasterError, NotAuthenticated
from broadcaster.models import BulletinStatus, Commune, Priority, Role, User
from broadcaster.services import commune_overview, registry, scoping
from broadcaster.services.bulletins import (
    MAX_REPEAT,
    BulletinFields,
    BulletinFilters,
    BulletinService,
    clean_title,
    validate_text,
)
from broadcaster.services.programming.emergency import live_emergency_bulletins
from broadcaster.services.workflow import check_reaches_clusters
from broadcaster.web import forms
from broadcaster.web.formatting import duration
from broadcaster.web.pages.common import (
    BulletinForm,
    BulletinFormDep,
    ShortField,
    bulletin_form_context,
    page_commune,
    see_other,
    spoken_form,
)
from broadcaster.web.rendering import may, render
from broadcaster.web.routing import FormInvalid, PageUser, WebRoute, session_token

router = APIRouter(route_class=WebRoute)
EMERGENCY_PATH = "/phat-khan-cap"
DEFAULT_REPEAT = 3
STOP_REASON = "Dừng phát khẩn cấp từ trang web"


class ConfirmationMissing(FormInvalid):
    """The emergency was sent without ticking the confirmation."""

    code = "emergency_not_confirmed"


def _today(bulletins: BulletinService, user: User, commune: Commune) -> tuple[list[Any], set[int]]:
    """Today's emergencies, and which of them are still live (the only ones STOP can act on)."""
    filters = BulletinFilters(
        commune_id=commune.id,
        priority=Priority.EMERGENCY,
        airing_on=bulletins.today(),
        statuses=(BulletinStatus.APPROVED, BulletinStatus.AIRED),
        limit=20,
    )
    today = list(bulletins.list_page(user, filters).items)
    live = live_emergency_bulletins(bulletins.session, [b.id for b in today], bulletins.clock.now())
    return today, live


def _form_page(
    request: Request,
    session: Session,
    user: User,
    bulletins: BulletinService,
    commune: Commune,
    values: dict[str, Any],
    *,
    error: BroadcasterError | None = None,
) -> Response:
    today, live = _today(bulletins, user, commune)
    return render(
        request,
        "emergency.html",
        {
            **bulletin_form_context(session, user, commune, values, error),
            "on_air": today,
            "live_ids": live,
            "allowed": may(user, Role.APPROVER),
        },
        status=error.status if error else 200,
    )


def _fields(commune: Commune, values: dict[str, Any]) -> BulletinFields:
    return BulletinFields(
        title=values["title"],
        text=None if values.get("mode") == "recording" else values["text"],
        priority=Priority.EMERGENCY,
        commune_id=commune.id,
        zone_ids=forms.ids(values["zone_ids"], "Thôn/bản"),
        cluster_ids=forms.ids(values["cluster_ids"], "Cụm loa"),
        repeat=forms.number(values["repeat"], "Số lần đọc", default=DEFAULT_REPEAT, low=1, high=MAX_REPEAT),
        replay_in_sessions=values["replay"] == "yes",
    )


def _confirm_page(
    request: Request,
    session: Session,
    user: User,
    commune: Commune,
    fields: BulletinFields,
    values: dict[str, Any],
    runtime: Runtime,
    *,
    error: BroadcasterError | None = None,
) -> Response:
    zones = [z for z in registry.list_zones(session, user, commune.id) if z.id in fields.zone_ids]
    reached = commune_overview.reached_clusters(
        session, user, commune.id, fields.zone_ids, fields.cluster_ids
    )
    return render(
        request,
        "emergency_confirm.html",
        {
            "commune": commune,
            "fields": fields,
            "values": values,
            "zones": zones,
            "reached": reached,
            "whole_commune": not fields.zone_ids and not fields.cluster_ids,
            "error": error,
            # What will be heard, shown before "PHÁT NGAY" as on the approval page.
            "spoken": spoken_form(lambda: runtime.speech, fields.text, commune.id),
        },
        status=error.status if error else 200,
    )


@router.get(EMERGENCY_PATH)
def emergency_form(
    request: Request, user: PageUser, session: DbSession, bulletins: Bulletins, xa: str = ""
) -> Response:
    """The emergency form, and the emergencies on the air today with their STOP buttons."""
    commune = page_commune(session, user, xa)
    values = {
        "title": "",
        "text": "",
        "mode": "text",
        "zone_ids": [],
        "cluster_ids": [],
        "repeat": str(DEFAULT_REPEAT),
        "replay": "",
        "sole_leader": "",
        "key": forms.new_form_key(),
    }
    return _form_page(request, session, user, bulletins, commune, values)


def _values(form: BulletinForm, key: str, mode: str = "text", replay: str = "", sole_leader: str = "") -> dict[str, Any]:
    return {**form.values(), "key": key or forms.new_form_key(), "mode": "recording" if mode == "recording" else "text",
            "replay": replay, "sole_leader": sole_leader}


def upload_proof(request: Request, sha256: str) -> str:
    """Binds a recording stored at step one to this login: step two cannot name someone else's upload."""
    secret = session_token(request) or ""
    return hmac.new(secret.encode("utf-8"), f"upload:{sha256}".encode(), hashlib.sha256).hexdigest()


def _store_recording(request: Request, runtime: Runtime, recording: UploadFile | None,
                     values: dict[str, Any]) -> None:
    """Step one of an emergency from a recording: store it (checked as audio) and name it in the form."""
    if recording is None or not recording.filename:
        raise FormInvalid("Hãy ghi âm hoặc chọn tệp ghi âm cho tin khẩn cấp.")
    stored = runtime.uploads.save(recording.file)
    values.update(upload_sha256=stored.sha256, upload_name=recording.filename[:300],
                  upload_proof=upload_proof(request, stored.sha256), upload_duration=duration(stored.duration_s))


def _stored_recording(request: Request, runtime: Runtime, values: dict[str, Any]) -> Path | None:
    """Step two: the recording step one stored, if this login stored it."""
    sha256 = values.get("upload_sha256") or ""
    if values.get("mode") != "recording":
        return None
    if not hmac.compare_digest(upload_proof(request, sha256), values.get("upload_proof") or ""):
        raise FormInvalid("Bản ghi âm không còn hợp lệ; hãy ghi âm hoặc chọn tệp lại.")
    path = runtime.uploads.path_for(sha256)
    if path is None:
        raise FormInvalid("Không tìm thấy bản ghi âm đã gửi; hãy ghi âm hoặc chọn tệp lại.")
    return path


@router.post(EMERGENCY_PATH + "/xac-nhan")
def confirm(
    request: Request,
    user: PageUser,
    session: DbSession,
    bulletins: Bulletins,
    runtime: RuntimeDep,
    form: BulletinFormDep,
    key: ShortField = "",
    xa: ShortField = "",
    mode: ShortField = "text",
    recording: Annotated[UploadFile | None, File()] = None,
    replay: ShortField = "",
    sole_leader: ShortField = "",
) -> Response:
    """Check the emergency and ask for an explicit confirmation naming every cluster it reaches."""
    commune = page_commune(session, user, xa)
    values = _values(form, key, mode, replay, sole_leader)
    try:
        scoping.require_role(user, Role.APPROVER)
        fields = _fields(commune, values)
        clean_title(fields.title)
        if values["mode"] == "recording":
            _store_recording(request, runtime, recording, values)
        else:
            validate_text(fields.text or "")
        check_reaches_clusters(session, commune.id, fields.zone_ids, fields.cluster_ids)
    except NotAuthenticated:
        raise
    except BroadcasterError as error:
        return _form_page(request, session, user, bulletins, commune, values, error=error)
    return _confirm_page(request, session, user, commune, fields, values, runtime)


@router.post(EMERGENCY_PATH)
def send(
    request: Request,
    user: PageUser,
    session: DbSession,
    bulletins: Bulletins,
    runtime: RuntimeDep,
    workflow: WorkflowDep,
    form: BulletinFormDep,
    key: ShortField = "",
    xa: ShortField = "",
    confirmed: ShortField = "",
    mode: ShortField = "text",
    upload_sha256: ShortField = "",
    upload_name: ShortField = "",
    upload_proof: ShortField = "",
    replay: ShortField = "",
    sole_leader: ShortField = "",
) -> Response:
    """Air the confirmed emergency at once, pre-empting whatever plays."""
    commune = page_commune(session, user, xa)
    values = {**_values(form, key, mode, replay, sole_leader), "upload_sha256": upload_sha256,
              "upload_name": upload_name, "upload_proof": upload_proof, "upload_duration": ""}
    fields = _fields(commune, values)
    if confirmed != "yes":
        error = ConfirmationMissing("Hãy đánh dấu ô xác nhận trước khi phát khẩn cấp.")
        return _confirm_page(request, session, user, commune, fields, values, runtime, error=error)
    try:
        path = _stored_recording(request, runtime, values)
        declared = sole_leader == "yes"
        if path is None:
            workflow.send_emergency(user, fields, idempotency_key=values["key"], sole_leader_on_duty=declared)
        else:
            # The same upload path as a file sent to the API: stored by content, checked, then aired.
            with path.open("rb") as recorded:
                workflow.send_emergency(user, fields, upload=recorded, upload_filename=upload_name or "ghi-am",
                                        idempotency_key=values["key"], sole_leader_on_duty=declared)
    except NotAuthenticated:
        raise
    except BroadcasterError as error:
        return _form_page(request, session, user, bulletins, commune, values, error=error)
    return see_other(f"{EMERGENCY_PATH}?xa={commune.id}&tb=da-phat")


@router.post(EMERGENCY_PATH + "/{bulletin_id}/dung")
def stop(bulletin_id: IdPath, user: PageUser, bulletins: Bulletins, workflow: WorkflowDep) -> Response:
    """STOP: cancel the live emergency, which takes it off the air where it still waits or plays."""
    bulletin = workflow.cancel(user, bulletin_id, STOP_REASON)
    return see_other(f"{EMERGENCY_PATH}?xa={bulletin.commune_id}&tb=da-dung")
