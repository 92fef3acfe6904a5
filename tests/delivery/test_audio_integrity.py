"""``/audio`` never serves bytes whose sha256 differs from their name; what the cache lost comes back.

Real faults on the real app under uvicorn: a byte flipped in the cached programme (its mtime set
back), the programme deleted, the programme and its master deleted. The programme is a real
emergency's (espeak-ng, ffmpeg), so the airing's items say what to render again.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from broadcaster.db import Database
from broadcaster.models import Bulletin, BulletinStatus, Priority
from broadcaster.services.handoff import RecordingHandoff
from tests.agent.harness import free_port
from tests.e2e.harness import InProcessServer, audit_actions, delivery_settings, seed_commune, today


@dataclass
class Served:
    """The running app, its database and hand-off."""

    server: InProcessServer
    db: Database
    commune_id: int

    @property
    def handoff(self) -> RecordingHandoff:
        """What programming handed off (the settings' "record" hand-off)."""
        return self.server.runtime.handoff  # type: ignore[no-any-return]

    def emergency(self, text: str) -> str:
        """Air an emergency through the real services; the sha256 of its programme."""
        with self.db.session() as s:
            bulletin = Bulletin(commune_id=self.commune_id, title=text[:30], text=text, priority=Priority.EMERGENCY,
                                start_date=today(), end_date=today(), status=BulletinStatus.APPROVED, author_id=1)
            s.add(bulletin)
            s.flush()
            bulletin_id = bulletin.id
        airing = self.server.runtime.programming.air_emergency(bulletin_id)
        assert airing.audio_sha256 is not None
        return airing.audio_sha256

    def get(self, sha256: str) -> httpx.Response:
        """GET /audio/<sha256>.mp3 over real HTTP."""
        return httpx.get(f"{self.server.url}/audio/{sha256}.mp3", timeout=60)

    def cached(self, sha256: str) -> Path:
        """The programme's file in the cache."""
        path = self.server.runtime.speech.audio_path(sha256)
        assert path is not None
        return path  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root: Path = tmp_path_factory.mktemp("integrity")
    port = free_port()
    settings = delivery_settings(root, port, handoff="record")
    db = Database(settings.effective_database_url)
    db.upgrade()
    seed = seed_commune(db, 1, users=True)
    server = InProcessServer(settings, port).start()
    yield Served(server, db, seed.commune_id)
    server.stop()


def flip_a_byte_keeping_the_mtime(path: Path) -> None:
    """Damage the file in place and set its modification time back, as a careless tool (or a disk) would."""
    before = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0x5A
    path.write_bytes(bytes(data))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def intact(response: httpx.Response, sha256: str) -> bool:
    return response.status_code == 200 and hashlib.sha256(response.content).hexdigest() == sha256


def test_a_damaged_file_already_served_is_never_served_again_but_made_again_from_its_masters(served: Served) -> None:
    sha256 = served.emergency("Khẩn: nước sông dâng cao, bà con ven sông sơ tán.")
    assert intact(served.get(sha256), sha256)  # verified once, then trusted while unchanged
    flip_a_byte_keeping_the_mtime(served.cached(sha256))

    again = served.get(sha256)

    assert intact(again, sha256), "damaged bytes served, or not made again"
    assert hashlib.sha256(served.cached(sha256).read_bytes()).hexdigest() == sha256  # the cache holds it again


def test_a_deleted_file_is_made_again_and_served(served: Served) -> None:
    sha256 = served.emergency("Khẩn: cháy rừng phía đồi thông, không vào rừng.")
    cached = served.cached(sha256)
    cached.unlink()
    cached.with_suffix(".json").unlink()
    assert intact(served.get(sha256), sha256)


def test_the_background_scrub_finds_damage_before_any_agent_asks(served: Served) -> None:
    sha256 = served.emergency("Khẩn: mất điện toàn xã đến 17 giờ.")
    assert intact(served.get(sha256), sha256)
    flip_a_byte_keeping_the_mtime(served.cached(sha256))

    damaged = served.server.runtime.audio_files.scrub()  # what AudioScrub runs every audio_scrub_interval_s

    assert damaged == [sha256]
    assert hashlib.sha256(served.cached(sha256).read_bytes()).hexdigest() == sha256  # already made again


def test_a_programme_lost_with_its_master_is_served_only_if_bit_exact_else_its_orders_are_reissued(
    served: Served,
) -> None:
    sha256 = served.emergency("Khẩn: đê bao thôn Đông có nguy cơ vỡ.")
    cache = served.server.runtime.speech.cache
    for key in list(cache.keys()):  # the programme and every master: only the text is left
        for path in cache.directory.glob(f"{key}.*"):
            path.unlink()
    handed_before = len(served.handoff.programmes)

    answer = served.get(sha256)

    if answer.status_code == 200:  # espeak-ng happened to speak it bit for bit again
        assert intact(answer, sha256)
        assert len(served.handoff.programmes) == handed_before
    else:  # it never serves other bytes under this name: the cluster gets a new order for new audio
        assert answer.status_code == 404
        [reissued] = served.handoff.programmes[handed_before:]
        assert reissued.audio.sha256 != sha256 and intact(served.get(reissued.audio.sha256), reissued.audio.sha256)
        assert "audio_reissued" in [e.action for e in audit_actions(served.db, "airing")]
