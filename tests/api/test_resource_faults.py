"""A busy database and a full disk answer 503 with a stable code, a Vietnamese message and Retry-After.

Real faults: another process holds the SQLite write lock; a small tmpfs is filled to the last byte.
Nothing is lost: after the fault the same request succeeds, and the database holds it once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from broadcaster.api import API_PREFIX
from broadcaster.models import Bulletin
from broadcaster.resource_faults import DATABASE_BUSY_MESSAGE, STORAGE_FULL_MESSAGE
from tests.api.world import PASSWORD, Template, looks_vietnamese, running_world, wav_bytes
from tests.fakes.small_disk import fill, small_disk
from tests.fakes.sqlite_lock import held_write_lock

BULLETIN = {"title": "Họp dân", "text": "Tối nay họp dân ở nhà văn hóa."}


def bulletins(world) -> int:  # type: ignore[no-untyped-def]
    with world.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(Bulletin)) or 0)


def assert_unavailable(response, code: str, message: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) > 0
    if response.headers["content-type"].startswith("application/json"):
        error = response.json()["error"]
        assert (error["code"], error["message"]) == (code, message)
    else:  # a page: the same message, in Vietnamese
        assert message in response.text and f'data-code="{code}"' in response.text
    assert looks_vietnamese(message)


@pytest.mark.backends("sqlite")  # it holds SQLite's file lock; PostgreSQL's row locks are another test's
def test_a_held_write_lock_answers_503_database_busy_on_the_api_and_the_pages_and_loses_nothing(
    template: Template, tmp_path: Path
) -> None:
    with running_world(template, tmp_path, database_busy_timeout_s=0.5) as world:
        database = Path(world.settings.effective_database_url.split("///", 1)[1])
        headers = world.headers("officer")
        draft = world.client.post(f"{API_PREFIX}/bulletins", json=BULLETIN, headers=headers).json()["id"]
        login_page = world.client.get("/dang-nhap")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', login_page.text)
        assert csrf is not None
        before = bulletins(world)
        with held_write_lock(database):
            assert_unavailable(world.client.post(f"{API_PREFIX}/bulletins", json=BULLETIN, headers=headers),
                               "database_busy", DATABASE_BUSY_MESSAGE)
            assert_unavailable(world.client.post(f"{API_PREFIX}/bulletins/{draft}/submit", headers=headers),
                               "database_busy", DATABASE_BUSY_MESSAGE)
            page = world.client.post("/dang-nhap", data={"username": "officer-a", "password": PASSWORD,
                                                         "csrf_token": csrf[1]}, follow_redirects=False)
            assert_unavailable(page, "database_busy", DATABASE_BUSY_MESSAGE)
            health = world.client.get("/health")
            assert health.status_code == 503
            assert health.json()["database"] == "busy"
            assert "database_busy" in [p["code"] for p in health.json()["problems"]]
            assert world.client.get(f"{API_PREFIX}/bulletins/{draft}", headers=headers).status_code == 200  # reads go on
        assert bulletins(world) == before  # nothing half-written
        assert world.client.post(f"{API_PREFIX}/bulletins", json=BULLETIN, headers=headers).status_code == 201
        assert world.client.post(f"{API_PREFIX}/bulletins/{draft}/submit", headers=headers).json()["status"] == (
            "submitted")
        assert bulletins(world) == before + 1
        assert world.client.get("/health").json()["database"] == "ok"


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A 24 MB tmpfs (skipped without root)."""
    with small_disk(tmp_path / "small-disk") as mount:
        yield mount


def test_a_full_disk_answers_503_storage_full_and_health_says_why(template: Template, disk: Path) -> None:
    with running_world(template, disk, min_free_disk_bytes=4 * 1024**2) as world:
        headers = world.headers("officer")
        assert world.client.get("/health").json()["problems"][0]["code"] == "scheduler_lease_not_held"
        filler = fill(disk)
        upload = world.client.post(f"{API_PREFIX}/bulletins/recording", headers=headers,
                                   data={"title": "Thông báo ghi âm"},
                                   files={"file": ("thong-bao.wav", wav_bytes(2.0), "audio/wav")})
        assert_unavailable(upload, "storage_full", STORAGE_FULL_MESSAGE)
        health = world.client.get("/health").json()
        codes = [p["code"] for p in health["problems"]]
        assert health["status"] == "degraded" and "storage_full" in codes
        assert not all(d["ok"] for d in health["disks"])
        # Whatever the database still manages on a full disk, no request ends in a 500.
        for _ in range(5):
            answer = world.client.post(f"{API_PREFIX}/bulletins", json=BULLETIN, headers=headers)
            assert answer.status_code in (201, 503), answer.text
        filler.unlink()
        retried = world.client.post(f"{API_PREFIX}/bulletins/recording", headers=headers,
                                    data={"title": "Thông báo ghi âm"},
                                    files={"file": ("thong-bao.wav", wav_bytes(2.0), "audio/wav")})
        assert retried.status_code == 201, retried.text
        assert world.client.get("/health").json()["database"] == "ok"


def test_an_exhausted_connection_pool_is_database_busy_not_a_500(tmp_path: Path) -> None:
    """Found by bench/province.py: 100 emergencies approved at once waited out SQLAlchemy's pool (a 500)."""
    from sqlalchemy import create_engine, text

    from broadcaster.errors import DatabaseBusy
    from broadcaster.resource_faults import as_resource_error

    engine = create_engine(f"sqlite:///{tmp_path / 'pool.sqlite3'}", pool_size=1, max_overflow=0, pool_timeout=0.1)
    with engine.connect() as held:
        held.execute(text("SELECT 1"))
        with pytest.raises(Exception) as raised:
            engine.connect()
    engine.dispose()
    fault = as_resource_error(raised.value)
    assert isinstance(fault, DatabaseBusy) and fault.status == 503 and "pool" in (fault.detail or "")
