"""Soạn bản tin: compose (or edit a draft), hear it ("Nghe thử"), see its length against the session's room.

The form posts text or a recording to ``BulletinService.create`` with a per-form idempotency key
(a double click makes one bulletin); "Gửi duyệt" then submits it through the workflow. The page's
script asks ``/soan-tin/uoc-luong`` for the spoken-length estimate as the officer types and
``/soan-tin/nghe-thu`` for the synthesized audio, which it plays from ``/nghe-thu/<sha256>.<fmt>``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from broadcaster.api.deps import Bulletins, DbSession, RuntimeDep, WorkflowDep
from broadcaster.api.routes.audio import AudioFilesDep
from broadcaster.api.runtime import Runtime
from broadcaster.api.schemas.common import IdPath
from broadcaster.errors import BroadcasterError, NotAuthenticated
from broadcaster.models import Bulletin, BulletinStatus, Commune, User
from broadcaster.services import commune_overview
from broadcaster.services.bulletins import (
    MAX_REPEAT,
    TITLE_MAX_LENGTH,
    BulletinChanges,
    BulletinFields,
    BulletinWrongStatus,
)
from broadcaster.services.voices import checked_rate, stored_voice
from broadcaster.web import forms
from broadcaster.web.formatting import duration, voice_label
from broadcaster.web.pages.common import (
    BulletinForm,
    BulletinFormDep,
    ShortField,
    TextField,
    bulletin_form_context,
    page_commune,
    see_other,
    spoken_form,
    spoken_segments,
)
from broadcaster.web.pages.voices import voice_choices
from broadcaster.web.rendering import render
from broadcaster.web.routing import FormInvalid, PageUser, WebRoute

log = logging.getLogger(__name__)
router = APIRouter(route_class=WebRoute)
COMPOSE_PATH = "/soan-tin"
DEFAULT_WINDOW_DAYS = 2


@dataclass(frozen=True)
class ScheduleForm:
    """The fields compose and edit post beyond the shared ones: priority, airing window, voice, which button."""

    priority: str
    start_date: str
    end_date: str
    action: str
    voice: str = ""


def schedule_form(
    priority: ShortField = "",
    start_date: ShortField = "",
    end_date: ShortField = "",
    action: ShortField = "save",
    voice: ShortField = "",
) -> ScheduleForm:
    """Read the priority, window, voice and button from the posted form (a FastAPI dependency)."""
    return ScheduleForm(priority=priority, start_date=start_date, end_date=end_date, action=action, voice=voice)


ScheduleFormDep = Annotated[ScheduleForm, Depends(schedule_form)]


def _values(form: BulletinForm, schedule: ScheduleForm, *, mode: str, key: str) -> dict[str, Any]:
    """What the officer posted, to fill the form again after an error."""
    return {
        **form.values(),
        "mode": mode,
        "priority": schedule.priority,
        "start_date": schedule.start_date,
        "end_date": schedule.end_date,
        "voice": schedule.voice,
        "key": key,
    }


def _checked(form: BulletinForm, schedule: ScheduleForm) -> dict[str, Any]:
    """The fields compose and edit both check, in the form's order (the first bad one is reported)."""
    return {
        "priority": forms.priority(schedule.priority),
        "zone_ids": forms.ids(form.zone_ids, "Thôn/bản"),
        "cluster_ids": forms.ids(form.cluster_ids, "Cụm loa"),
        "start_date": forms.optional_date(schedule.start_date, "Từ ngày"),
        "end_date": forms.optional_date(schedule.end_date, "Đến ngày"),
        "repeat": forms.number(form.repeat, "Số lần đọc", default=1, low=1, high=MAX_REPEAT),
    }


def _room(
    session: Session, user: User, commune: Commune, runtime: Runtime
) -> commune_overview.SessionRoom | None:
    try:
        return commune_overview.next_session_room(session, user, commune.id, lambda: runtime.programming)
    except BroadcasterError as error:
        # The room is advice; composing must not fail because the timetable or speech is unwell.
        log.warning("no session room for commune %s: [%s] %s", commune.id, error.code, error.message)
        return None


def _form_page(
    request: Request,
    session: Session,
    user: User,
    runtime: Runtime,
    commune: Commune,
    values: dict[str, Any],
    *,
    bulletin: Bulletin | None = None,
    error: BroadcasterError | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "compose.html",
        {
            **bulletin_form_context(session, user, commune, values, error),
            **voice_choices(runtime, commune, values.get("voice", "")),
            "room": _room(session, user, commune, runtime),
            "bulletin": bulletin,
            "title_max": TITLE_MAX_LENGTH,
            "spoken": spoken_form(lambda: runtime.speech, values.get("text"), commune.id),
        },
        status=status,
    )


@router.get(COMPOSE_PATH)
def compose_form(
    request: Request,
    user: PageUser,
    session: DbSession,
    bulletins: Bulletins,
    runtime: RuntimeDep,
    xa: str = "",
) -> Response:
    """An empty compose form for the user's commune."""
    commune = page_commune(session, user, xa)
    today = bulletins.today()
    values = {
        "title": "",
        "text": "",
        "mode": "text",
        "priority": "normal",
        "zone_ids": [],
        "cluster_ids": [],
        "start_date": forms.date_text(today),
        "end_date": forms.date_text(today + timedelta(days=DEFAULT_WINDOW_DAYS)),
        "repeat": "1",
        "voice": "",
        "key": forms.new_form_key(),
    }
    return _form_page(request, session, user, runtime, commune, values)


@router.post(COMPOSE_PATH)
def compose(
    request: Request,
    user: PageUser,
    session: DbSession,
    bulletins: Bulletins,
    workflow: WorkflowDep,
    runtime: RuntimeDep,
    form: BulletinFormDep,
    schedule: ScheduleFormDep,
    mode: ShortField = "text",
    key: ShortField = "",
    xa: ShortField = "",
    recording: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Store the bulletin as a draft (text or recording) and, for "Gửi duyệt", submit it."""
    commune = page_commune(session, user, xa)
    action = schedule.action
    values = _values(form, schedule, mode=mode, key=key)
    try:
        has_file = recording is not None and bool(recording.filename)
        if mode == "recording" and not has_file:
            raise FormInvalid("Hãy ghi âm hoặc chọn tệp ghi âm (mp3, m4a, wav, ogg…).")
        fields = BulletinFields(
            title=form.title,
            text=form.text if mode != "recording" else None,
            commune_id=commune.id,
            voice=schedule.voice if mode != "recording" else None,
            **_checked(form, schedule),
        )
        upload = recording if mode == "recording" and recording is not None else None
        created = bulletins.create(
            user,
            fields,
            upload=upload.file if upload else None,
            upload_filename=upload.filename if upload else None,
            idempotency_key=key or None,
        )
        bulletin_id = created.bulletin.id
        if action == "send" and created.bulletin.status == BulletinStatus.DRAFT:
            workflow.submit(user, bulletin_id)
    except NotAuthenticated:
        raise
    except BroadcasterError as error:
        return _form_page(request, session, user, runtime, commune, values, error=error, status=error.status)
    return see_other(f"/ban-tin/{bulletin_id}?tb={'da-gui' if action == 'send' else 'da-luu'}")


@router.get("/ban-tin/{bulletin_id}/sua")
def edit_form(
    request: Request,
    bulletin_id: IdPath,
    user: PageUser,
    session: DbSession,
    bulletins: Bulletins,
    runtime: RuntimeDep,
) -> Response:
    """The compose form filled with a draft."""
    bulletin = bulletins.get(user, bulletin_id)
    if bulletin.status != BulletinStatus.DRAFT:
        raise BulletinWrongStatus("Chỉ sửa được bản nháp; bản tin này đã được gửi đi.")
    values = {
        "title": bulletin.title,
        "text": bulletin.text or "",
        "mode": "recording" if bulletin.upload_sha256 else "text",
        "priority": str(bulletin.priority),
        "zone_ids": [str(z.id) for z in bulletin.zones],
        "cluster_ids": [str(c.id) for c in bulletin.clusters],
        "start_date": forms.date_text(bulletin.start_date),
        "end_date": forms.date_text(bulletin.end_date),
        "repeat": str(bulletin.repeat),
        "voice": bulletin.voice or "",
        "key": "",
    }
    return _form_page(request, session, user, runtime, bulletin.commune, values, bulletin=bulletin)


@router.post("/ban-tin/{bulletin_id}/sua")
def edit(
    request: Request,
    bulletin_id: IdPath,
    user: PageUser,
    session: DbSession,
    bulletins: Bulletins,
    workflow: WorkflowDep,
    runtime: RuntimeDep,
    form: BulletinFormDep,
    schedule: ScheduleFormDep,
) -> Response:
    """Save the changes to a draft and, for "Gửi duyệt", submit it."""
    bulletin = bulletins.get(user, bulletin_id)
    action = schedule.action
    values = _values(form, schedule, mode="recording" if bulletin.upload_sha256 else "text", key="")
    try:
        changes = BulletinChanges(
            title=form.title,
            text=None if bulletin.upload_sha256 else form.text,
            voice=None if bulletin.upload_sha256 else schedule.voice,
            **_checked(form, schedule),
        )
        bulletins.edit(user, bulletin_id, changes)
        if action == "send":
            workflow.submit(user, bulletin_id)
    except NotAuthenticated:
        raise
    except BroadcasterError as error:
        commune = bulletins.get(user, bulletin_id).commune
        return _form_page(
            request,
            session,
            user,
            runtime,
            commune,
            values,
            bulletin=bulletin,
            error=error,
            status=error.status,
        )
    return see_other(f"/ban-tin/{bulletin_id}?tb={'da-gui' if action == 'send' else 'da-sua'}")


@router.post(f"{COMPOSE_PATH}/uoc-luong")
def estimate(
    user: PageUser, session: DbSession, runtime: RuntimeDep, text: TextField = "", xa: ShortField = ""
) -> JSONResponse:
    """The character count, the estimated spoken length and the spoken form of the text being written."""
    commune = page_commune(session, user, xa)
    spoken = spoken_form(lambda: runtime.speech, text, commune.id)
    return JSONResponse(
        {
            "chars": len(text),
            "estimate_s": round(runtime.speech.estimate_duration_s(text, commune_id=commune.id), 1),
            "segments": spoken_segments(spoken),
        }
    )


@router.post(f"{COMPOSE_PATH}/nghe-thu")
def preview(
    user: PageUser,
    session: DbSession,
    runtime: RuntimeDep,
    text: TextField = "",
    voice: ShortField = "",
    xa: ShortField = "",
    rate: ShortField = "",
) -> JSONResponse:
    """Synthesize the text being written in the chosen voice (read once, cached): where to play it, how long,
    and which voice read it (another one when the chosen voice cannot read here). ``rate`` (the voice
    settings page) overrides the commune's speaking rate."""
    commune = page_commune(session, user, xa)
    chosen = stored_voice(voice, runtime.check_voice)
    speaking_rate = _rate(rate) if rate else commune.speech_rate
    audio = runtime.preview(
        user, lambda: runtime.speech.render_text(text, voice=chosen or commune.default_voice, rate=speaking_rate,
                                                 commune_id=commune.id)
    )
    return JSONResponse(
        {
            "url": f"/nghe-thu/{audio.sha256}.{audio.fmt}",
            "duration_s": round(audio.duration_s, 2),
            "duration": duration(audio.duration_s),
            "voice": f"{audio.engine}:{audio.voice}",
            "voice_label": voice_label(audio.engine, audio.voice),
            "fallback": "; ".join(f"{engine}: {reason}" for engine, reason in audio.failures),
        }
    )


def _rate(value: str) -> float:
    try:
        number = float(value.replace(",", "."))
    except ValueError:
        raise FormInvalid("«Tốc độ đọc» phải là một số, ví dụ 0,9.") from None
    return checked_rate(number)


@router.get("/nghe-thu/{name}")
def preview_audio(name: str, user: PageUser, files: AudioFilesDep) -> Response:
    """A synthesized preview by its content hash (signed-in users only)."""
    audio = files.find(name)
    return FileResponse(
        audio.path,
        media_type=audio.media_type,
        stat_result=audio.stat,
        headers={"ETag": audio.etag, "Cache-Control": "private, max-age=86400"},
    )
