"""The "Giọng đọc" choice of the compose page: the voices this server can read with, in words an officer reads."""

from __future__ import annotations

import logging
from typing import Any

from broadcaster.api.runtime import Runtime
from broadcaster.errors import BroadcasterError
from broadcaster.models import Commune
from broadcaster.web.formatting import choice_label, voice_label

log = logging.getLogger(__name__)

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
