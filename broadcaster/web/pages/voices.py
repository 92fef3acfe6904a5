"""Giọng đọc: the compose page's voice choice, and the commune's default voice and speaking rate (admins).

The settings page also lists every voice of the server with what is wrong with the unusable ones
(a voice file half copied, a damaged model...), as ``broadcaster voices`` does for the operator.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from broadcaster.api.deps import DbSession, RuntimeDep
from broadcaster.api.runtime import Runtime
from broadcaster.errors import BroadcasterError, NotAuthenticated
from broadcaster.models import Commune, Role, User
from broadcaster.services import registry, scoping
from broadcaster.web import forms
from broadcaster.web.formatting import choice_label, voice_label
from broadcaster.web.pages.common import ShortField, commune_choices, page_commune, see_other
from broadcaster.web.rendering import render
from broadcaster.web.routing import PageUser, WebRoute

log = logging.getLogger(__name__)
router = APIRouter(route_class=WebRoute)
SETTINGS_PATH = "/giong-doc"

def voice_choices(runtime: Runtime, commune: Commune, current: str) -> dict[str, Any]:
    """The usable voices to offer, the commune's default in words, and the current choice."""
    try:
        listings = [listing for listing in runtime.speech.voices() if listing.usable]
    except BroadcasterError as error:
        # The choice is optional: the form must not fail because an engine cannot list its voices.
        log.warning("voice list unavailable: [%s] %s", error.code, error.message)
        listings = []
    offered = [{"choice": v.choice, "label": voice_label(v.engine, v.name)} for v in listings]
    if current and current not in {v["choice"] for v in offered}:
        # A draft's voice that is gone from this server: still shown, so saving does not change it silently.
        offered.append({"choice": current, "label": f"{choice_label(current)} (không còn dùng được)"})
    return {
        "voices": offered,
        "default_voice_label": choice_label(commune.default_voice) or "theo cấu hình máy chủ",
    }


# Speaking-rate steps an admin chooses from: through horns in the open air a slower pace is easier to follow.
RATE_STEPS = {"0.8": "Chậm", "0.9": "Hơi chậm", "1": "Bình thường", "1.1": "Hơi nhanh", "1.2": "Nhanh"}
SAMPLE_TEXT = "Kính thưa bà con, sáng mai bảy giờ, trạm y tế xã tổ chức tiêm phòng cho trẻ em dưới năm tuổi."


def _settings_page(request: Request, session: Session, user: User, runtime: Runtime, commune: Commune, *,
                   error: BroadcasterError | None = None) -> Response:
    try:
        listings = runtime.speech.voices()
    except BroadcasterError as exc:
        log.warning("voice list unavailable: [%s] %s", exc.code, exc.message)
        listings = []
    current_rate = f"{commune.speech_rate:g}" if commune.speech_rate is not None else ""
    rates = dict(RATE_STEPS)
    if current_rate and current_rate not in rates:
        rates[current_rate] = f"{current_rate.replace('.', ',')} lần"  # set through the API
    return render(
        request,
        "voices.html",
        {
            **voice_choices(runtime, commune, commune.default_voice or ""),
            "commune": commune,
            "communes": commune_choices(session, user),
            "listings": [{"listing": v, "label": voice_label(v.engine, v.name)} for v in listings],
            "rates": rates,
            "current_rate": current_rate,
            "server_rate": f"{runtime.settings.speech_rate:g}".replace(".", ","),
            "sample_text": SAMPLE_TEXT,
            "error": error,
        },
        status=error.status if error else 200,
    )


@router.get(SETTINGS_PATH)
def settings_page(request: Request, user: PageUser, session: DbSession, runtime: RuntimeDep, xa: str = "") -> Response:
    """The commune's default voice and speaking rate, and every voice of this server with its problems (admins)."""
    commune = page_commune(session, user, xa)
    scoping.require_role(user, Role.ADMIN)
    return _settings_page(request, session, user, runtime, commune)


@router.post(SETTINGS_PATH)
def save_settings(request: Request, user: PageUser, session: DbSession, runtime: RuntimeDep,
                  xa: ShortField = "", voice: ShortField = "", rate: ShortField = "") -> Response:
    """Set the commune's default voice and speaking rate."""
    commune = page_commune(session, user, xa)
    try:
        chosen_rate = forms.choice(rate, "Tốc độ đọc", ["", *RATE_STEPS, f"{commune.speech_rate or 1:g}"])
        changes = registry.CommuneChanges(default_voice=voice, speech_rate=float(chosen_rate) if chosen_rate else 0.0)
        registry.update_commune(session, user, commune.id, changes, schedules_dir=runtime.settings.schedules_dir,
                                check_voice=runtime.check_voice)
    except NotAuthenticated:
        raise
    except BroadcasterError as error:
        session.rollback()
        return _settings_page(request, session, user, runtime, commune, error=error)
    return see_other(f"{SETTINGS_PATH}?xa={commune.id}&tb=da-luu-giong")
