"""Two ``broadcaster serve`` replicas on one database and one cache volume: either serves any ``/audio`` file."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from broadcaster.api import API_PREFIX
from broadcaster.clock import LOCAL_ZONE
from broadcaster.config import Settings
from broadcaster.models import User
from broadcaster.services import auth
from broadcaster.services.audio_files import MEDIA_TYPES
from tests.scheduler.processes import Server
from tests.scheduler.support import add_commune, make_database, make_settings, write_timetable

pytestmark = pytest.mark.slow


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        server.stop()


def test_audio_one_replica_made_is_served_by_the_other(tmp_path: Path, servers: list[Server]) -> None:
    settings: Settings = make_settings(tmp_path)
    db = make_database(settings)
    ids = add_commune(db)
    with db.session() as s:
        token = auth.issue_token(s, s.get_one(User, ids["author"]), ttl=timedelta(hours=1)).token
    headers = {"Authorization": f"Bearer {token}"}
    write_timetable(settings.schedules_dir, [("sang", datetime(2026, 1, 1, 6, 0, tzinfo=LOCAL_ZONE), 15.0)])
    # Both replicas are up before the audio exists: the second one cannot have indexed it at start-up.
    maker, other = Server(settings, tmp_path, "maker"), Server(settings, tmp_path, "other")
    servers.extend([maker, other])  # before starting: the fixture stops the first if the second fails to start
    maker.start()
    other.start()

    created = httpx.post(f"{maker.url}{API_PREFIX}/bulletins", headers=headers, timeout=10,
                         json={"title": "Lịch cắt điện", "text": "Chiều nay mười bốn giờ cắt điện thôn Đông."})
    assert created.status_code == 201, created.text
    preview = httpx.get(f"{maker.url}{API_PREFIX}/bulletins/{created.json()['id']}/preview", headers=headers,
                        timeout=120)  # synthesized by the maker into the shared cache
    assert preview.status_code == 200, preview.text
    sha256 = preview.headers["etag"].strip('"')
    assert hashlib.sha256(preview.content).hexdigest() == sha256
    fmt = {media: fmt for fmt, media in MEDIA_TYPES.items()}[preview.headers["content-type"].split(";")[0]]
    name = f"{sha256}.{fmt}"

    served = httpx.get(f"{other.url}/audio/{name}", timeout=10)
    assert served.status_code == 200, served.text
    assert hashlib.sha256(served.content).hexdigest() == sha256 and served.headers["etag"] == f'"{sha256}"'
    ranged = httpx.get(f"{other.url}/audio/{name}", headers={"Range": "bytes=0-99"}, timeout=10)
    assert ranged.status_code == 206 and ranged.content == preview.content[:100]  # agents resume downloads
    missing = httpx.get(f"{other.url}/audio/{'0' * 64}.mp3", timeout=10)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "audio_not_found"
