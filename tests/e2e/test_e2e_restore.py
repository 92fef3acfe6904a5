"""Backup, disaster, restore into a fresh data directory: a real agent keeps obeying the restored server.

A bulletin approved before the backup airs after the restore. Between the backup and the disaster
the agent accepted more orders, so the restored database's order seq is behind what the agent
last accepted; the restore moves every cluster's seq ahead so the agent does not refuse it as a replay.
"""

from __future__ import annotations

import stat
import tarfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from broadcaster.backup import RESTORE_SEQ_GAP, BackupUnreadable, RestoreTargetNotEmpty, backup, restore
from broadcaster.clock import LOCAL_ZONE
from broadcaster.db import Database
from broadcaster.delivery.keys import signing_key_path
from broadcaster.models import AiringItem, Cluster, DeliveryState
from tests.agent.harness import free_port
from tests.databases import database_url
from tests.e2e.harness import (
    InProcessServer,
    add_airing,
    agent_for,
    delivery_settings,
    orders_of,
    programme,
    seed_commune,
    wait_delivery,
)
from tests.scheduler.support import add_bulletin, whole_second, write_timetable

pytestmark = pytest.mark.slow
FINAL = {"played", "failed", "missed", "cancelled"}


def test_a_bulletin_approved_before_the_backup_airs_after_a_restore_and_the_agent_accepts_its_order(
    tmp_path: Path,
) -> None:
    port = free_port()
    schedules = tmp_path / "schedules"
    schedules.mkdir()
    session_at = whole_second(datetime.now(LOCAL_ZONE) + timedelta(seconds=2))
    write_timetable(schedules, [("sang", session_at, 2.0)])
    before = delivery_settings(tmp_path / "before", port, schedules_dir=schedules, misfire_grace_s=600.0)
    db = Database(before.effective_database_url)
    db.upgrade()
    seed = seed_commune(db, 1, users=True)
    cluster = seed.clusters[0]
    bulletin_id = add_bulletin(db, {"commune": seed.commune_id, "author": seed.users["officer"]}, "Họp dân thôn Đông.")
    server = InProcessServer(before, port).start()
    agent = agent_for(tmp_path, cluster, seed, before).start()
    try:
        archive = tmp_path / "saved" / "broadcaster.tar.gz"
        summary = backup(before, archive)
        assert summary.files >= 1 and archive.is_file()
        with tarfile.open(archive) as tar:  # the signing key travels with its mode
            key_member = tar.getmember("data/keys/" + signing_key_path(before.data_dir).name)
            assert stat.S_IMODE(key_member.mode) == 0o600

        # After the backup the agent accepts two more orders (seq 1, 2), which the backup does not know.
        # (One would not do: the server re-signs an order refused as a replay once, with the next seq.)
        audio = server.runtime.speech.render_text("Thử loa.")
        for _ in range(2):
            airing = add_airing(db, seed.commune_id, datetime.now(LOCAL_ZONE))
            server.runtime.handoff.hand_off(programme(airing, cluster.id, audio, play_in=1.0))
            assert wait_delivery(db, airing, cluster.id, FINAL).state is DeliveryState.PLAYED
        assert agent.status()["last_seq"] == 2
        server.stop()  # the machine is lost

        after = delivery_settings(tmp_path / "after", port, schedules_dir=tmp_path / "schedules-restored",
                                  misfire_grace_s=600.0, database_url=database_url(tmp_path / "after", empty=True))
        restored = restore(after, archive)
        assert restored.clusters_advanced == 1
        key_path = signing_key_path(after.data_dir)
        assert key_path.read_bytes() == signing_key_path(before.data_dir).read_bytes()
        assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
        assert (after.schedules_dir / "default.yaml").is_file()
        with pytest.raises(RestoreTargetNotEmpty):
            restore(after, archive)  # never over a server's data

        restored_db = Database(after.effective_database_url)
        with restored_db.session() as s:
            assert s.get_one(Cluster, cluster.id).order_seq == RESTORE_SEQ_GAP  # 0 at the backup, moved ahead
        server = InProcessServer(after, port).start()
        result = server.runtime.programming.run_session(seed.commune_id, "sang", session_at)  # late, within grace
        assert result.airing_id is not None, result
        row = wait_delivery(restored_db, result.airing_id, cluster.id, FINAL)
        assert row.state is DeliveryState.PLAYED, row.error
        assert agent.status()["last_seq"] == RESTORE_SEQ_GAP + 1
        [order] = orders_of(restored_db, result.airing_id, cluster.id)
        assert order.seq == RESTORE_SEQ_GAP + 1 and order.attempts == 1  # accepted at once, not refused as a replay
        with restored_db.session() as s:
            items = s.query(AiringItem).filter_by(airing_id=result.airing_id).all()
            assert [item.bulletin_id for item in items] == [bulletin_id]
        restored_db.dispose()
    finally:
        agent.terminate()
        server.stop()
        db.dispose()


def test_a_file_that_is_not_a_backup_is_refused_with_its_reason(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a backup")
    settings = delivery_settings(tmp_path / "x", free_port())
    with pytest.raises(BackupUnreadable) as refused:
        restore(settings, junk)
    assert refused.value.code == "backup_unreadable" and "sao lưu" in refused.value.message
    assert not (settings.data_dir / "keys").exists()
