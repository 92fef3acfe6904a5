"""Emergencies: aired at once at the targeted clusters, pre-empting; stopped by a cancel."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from broadcaster.clock import LOCAL_ZONE
from broadcaster.config import Settings
from broadcaster.db import Database
from broadcaster.models import AiringKind, AiringStatus, BulletinStatus, DeliveryState, Priority
from broadcaster.services.handoff import RecordingHandoff
from broadcaster.services.programming.emergency import (
    BulletinNotAirable,
    EmergencyBulletinNotFound,
    NoTargetClusters,
)
from broadcaster.speech import SpeechService
from tests.scheduler.support import (
    add_bulletin,
    add_commune,
    airings,
    bulletin_status,
    events,
    make_settings,
    write_timetable,
)
from tests.services.support import programming_service

NOW = datetime.now(LOCAL_ZONE).replace(microsecond=0)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = make_settings(tmp_path, prompt_delay_s=4.0, misfire_grace_s=900.0)
    write_timetable(settings.schedules_dir, [("evening", NOW.replace(hour=17, minute=0, second=0), 15)])
    return settings


def test_an_emergency_airs_at_once_at_its_clusters_with_emergency_priority_and_can_be_stopped(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db, zones=("Thôn Bãi",), clusters=(("Cụm bến", "Thôn Bãi"), ("Cụm chợ", None)))
    bulletin = add_bulletin(db, ids, "Nước lũ đang lên, bà con thôn Bãi di chuyển lên chỗ cao.",
                            priority=Priority.EMERGENCY, zones=("Thôn Bãi",), repeat=2)  # fmt: skip
    handoff = RecordingHandoff()
    service = programming_service(settings, db, speech, handoff, NOW)

    aired = service.air_emergency(bulletin, actor_id=ids["author"])

    assert aired.cluster_ids == (ids["Cụm bến"],)
    [programme] = handoff.programmes
    assert (programme.cluster_id, programme.priority, programme.airing_id) == (
        ids["Cụm bến"], Priority.EMERGENCY, aired.airing_id)
    # A few seconds from now (the configured delay, plus however long rendering took).
    assert NOW + timedelta(seconds=4) <= programme.play_at < NOW + timedelta(seconds=60)
    assert programme.expires_at == programme.play_at + timedelta(seconds=900)
    assert programme.audio.path.is_file() and programme.audio.sha256 == aired.audio_sha256
    [airing] = airings(db)
    assert (airing.kind, airing.session_name, airing.status) == (AiringKind.EMERGENCY, "emergency",
                                                                 AiringStatus.HANDED_OFF)  # fmt: skip
    assert [(i.bulletin_id, i.cluster_id) for i in airing.items] == [(bulletin, ids["Cụm bến"])]
    assert bulletin_status(db, bulletin) == BulletinStatus.AIRED
    [composed] = events(db, "compose")
    assert composed.actor_id == ids["author"] and composed.details["priority"] == "emergency"

    stopped = service.stop_emergency(bulletin, actor_id=ids["author"])

    assert stopped == [aired.airing_id]
    assert handoff.stops == [(aired.airing_id, (ids["Cụm bến"],))]
    [airing] = airings(db)
    assert airing.status == AiringStatus.CANCELLED
    assert [d.state for d in airing.deliveries] == [DeliveryState.CANCELLED]
    assert [e.object_id for e in events(db, "stop")] == [aired.airing_id]
    assert service.stop_emergency(bulletin) == []  # nothing left on the air
    assert len(handoff.stops) == 1


def test_an_emergency_that_cannot_air_says_why(settings: Settings, db: Database, speech: SpeechService) -> None:
    ids = add_commune(db, zones=("Thôn Trống",), clusters=(("Cụm 1", None),))
    draft = add_bulletin(db, ids, "Chưa duyệt.", status=BulletinStatus.SUBMITTED, priority=Priority.EMERGENCY)
    nowhere = add_bulletin(db, ids, "Không có loa.", zones=("Thôn Trống",), priority=Priority.EMERGENCY)
    handoff = RecordingHandoff()
    service = programming_service(settings, db, speech, handoff, NOW)
    with pytest.raises(BulletinNotAirable):
        service.air_emergency(draft)
    with pytest.raises(NoTargetClusters):
        service.air_emergency(nowhere)
    with pytest.raises(EmergencyBulletinNotFound):
        service.air_emergency(9999)
    assert handoff.programmes == [] and airings(db) == []
