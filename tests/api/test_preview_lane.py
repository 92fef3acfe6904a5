"""Previews go through their own bounded lane; an emergency never waits in it."""

from __future__ import annotations

from pathlib import Path

from tests.api.world import Template, running_world
from tests.fakes.held_renders import Held

API = "/api/v1"


def test_an_emergency_is_not_queued_behind_a_full_preview_lane(template: Template, tmp_path: Path) -> None:
    with running_world(template, tmp_path, preview_workers=1, preview_queue=0, preview_per_user=1) as world:
        hold = Held(world.runtime.previews)
        try:
            hold.start("someone-else")  # the only preview slot is taken, rendering "for ever"
            bulletin_id = world.bulletin(text="Chiều nay họp dân.")
            busy = world.client.get(f"{API}/bulletins/{bulletin_id}/preview", headers=world.headers("officer"))
            assert busy.status_code == 503 and busy.json()["error"]["code"] == "render_busy"
            assert int(busy.headers["Retry-After"]) > 0
            emergency = world.client.post(f"{API}/emergencies", headers=world.headers("approver", "B"),
                                          json={"title": "Khẩn: lũ", "text": "Nước lũ lên nhanh, bà con sơ tán."})
            assert emergency.status_code == 201, emergency.text
            assert world.runtime.previews.admitted == 1  # it went past the lane, not through it
        finally:
            hold.close()
