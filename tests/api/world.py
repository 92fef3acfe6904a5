"""The API tests' world: the real app on a real database (SQLite file or PostgreSQL), seeded communes and accounts, a live uvicorn."""

from __future__ import annotations

import io
import math
import struct
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from broadcaster.app import create_app
from broadcaster.clock import SystemClock, local
from broadcaster.config import PROJECT_ROOT, Settings
from broadcaster.db import Database
from broadcaster.models import Base, BulletinStatus, Role, User
from broadcaster.services import auth, registry, users
from broadcaster.services.bulletins import BulletinFields, BulletinService
from broadcaster.services.handoff import RecordingHandoff
from broadcaster.services.workflow import Workflow
from tests.databases import copy_database, database_url

PASSWORD = "mat-khau-thu-nghiem"
ACTORS = ("officer", "approver", "admin", "province", "none", "forged")
FORGED_TOKEN = "bc_" + "x" * 43


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings for a test app: everything under tmp_path, scheduler off, small upload cap."""
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "cache_dir": tmp_path / "audio_cache",
        "schedules_dir": PROJECT_ROOT / "schedules",
        "run_scheduler": False,
        "upload_max_bytes": 2 * 1024 * 1024,
        "upload_max_duration_s": 120.0,
    }
    values.update(overrides)
    values.setdefault("database_url", database_url(Path(values["data_dir"])))
    return Settings(**values)


def wav_bytes(seconds: float = 0.5, frequency: float = 440.0, rate: int = 16000) -> bytes:
    """A short mono 16-bit WAV tone, made here (a real file ffmpeg decodes)."""
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * frequency * i / rate))) for i in range(int(seconds * rate))
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)
    return buffer.getvalue()


@dataclass(frozen=True)
class SeedUser:
    """A seeded account (plain data: it outlives the session and the database copy)."""

    id: int
    username: str
    role: Role
    commune_id: int | None


@dataclass
class Commune:
    """Ids of one seeded commune."""

    id: int
    zone_id: int
    cluster_id: int
    users: dict[str, SeedUser] = field(default_factory=dict)


@dataclass
class Seed:
    """What ``seed_database`` created: two communes (A and B) with a zone, a cluster, an officer, an
    approver and an admin each, and a province admin; with a bearer token for every account."""

    communes: dict[str, Commune]
    province: SeedUser
    tokens: dict[tuple[str, str], str]  # (actor, commune key) -> token; province under ("province", "")


@dataclass
class World:
    """A running app on a database holding the ``Seed``."""

    app: FastAPI
    client: TestClient
    seed: Seed
    handoff: RecordingHandoff

    @property
    def runtime(self) -> Any:
        """The app's runtime."""
        return self.app.state.runtime

    @property
    def db(self) -> Database:
        """The app's database."""
        return self.runtime.db  # type: ignore[no-any-return]

    @property
    def settings(self) -> Settings:
        """The app's settings."""
        return self.runtime.settings  # type: ignore[no-any-return]

    @property
    def communes(self) -> dict[str, Commune]:
        """The seeded communes by key ("A", "B")."""
        return self.seed.communes

    def token(self, actor: str, commune: str = "A") -> str | None:
        """The bearer token of an actor (None for no token, a made-up one for forged)."""
        if actor == "none":
            return None
        if actor == "forged":
            return FORGED_TOKEN
        if actor == "province":
            return self.seed.tokens[("province", "")]
        return self.seed.tokens[(actor, commune)]

    def headers(self, actor: str = "officer", commune: str = "A") -> dict[str, str]:
        """Authorization headers for an actor."""
        token = self.token(actor, commune)
        return {"Authorization": f"Bearer {token}"} if token else {}

    def user(self, actor: str, commune: str = "A") -> SeedUser:
        """The seeded account behind an actor."""
        return self.seed.province if actor == "province" else self.seed.communes[commune].users[actor]

    def new_token(self, actor: str, commune: str = "A") -> str:
        """A fresh token for an actor (for tests that revoke one)."""
        with self.db.session() as session:
            user = session.get(User, self.user(actor, commune).id)
            assert user is not None
            return auth.issue_token(session, user, ttl=timedelta(days=1)).token

    def bulletin(self, commune: str = "A", status: BulletinStatus = BulletinStatus.DRAFT, *,
                 author: str = "officer", **fields: Any) -> int:
        """A bulletin in ``status``, made through the services as ``author`` of ``commune``."""
        values: dict[str, Any] = {"title": "Thông báo tiêm phòng", "text": "Sáng mai trạm y tế xã tiêm phòng.",
                                  "commune_id": self.communes[commune].id}
        values.update(fields)
        runtime = self.runtime
        with self.db.session() as session:
            service = BulletinService(session, clock=runtime.clock, uploads=runtime.uploads)
            workflow = Workflow(service, programming=lambda: runtime.programming)
            actor = session.get(User, self.user(author, commune).id)
            approver = session.get(User, self.user("approver", commune).id)
            assert actor is not None and approver is not None
            bulletin = service.create(actor, BulletinFields(**values)).bulletin
            if status in (BulletinStatus.SUBMITTED, BulletinStatus.APPROVED, BulletinStatus.REJECTED):
                workflow.submit(actor, bulletin.id)
            if status == BulletinStatus.APPROVED:
                workflow.approve(approver, bulletin.id)
            if status == BulletinStatus.REJECTED:
                workflow.reject(approver, bulletin.id, "Sai thông tin")
            if status == BulletinStatus.CANCELLED:
                workflow.cancel(actor, bulletin.id)
            return bulletin.id


def _plain(user: User) -> SeedUser:
    return SeedUser(user.id, user.username, user.role, user.commune_id)


def seed_database(settings: Settings) -> Seed:
    """Migrate a fresh database and create the seed through the services (argon2 makes this the slow part)."""
    db = Database(settings.effective_database_url)
    db.upgrade()
    communes: dict[str, Commune] = {}
    tokens: dict[tuple[str, str], str] = {}
    with db.session() as session:
        province = users.create_user(session, None, username="tinh", password=PASSWORD, role=Role.ADMIN,
                                     commune_id=None, full_name="Quản trị tỉnh")
        tokens[("province", "")] = auth.issue_token(session, province, ttl=timedelta(days=30)).token
        for key in ("A", "B"):
            commune = registry.create_commune(session, province, code=f"xa-{key.lower()}", name=f"Xã {key}",
                                              schedules_dir=settings.schedules_dir)
            zone = registry.create_zone(session, province, commune.id, f"Thôn {key}")
            cluster = registry.create_cluster(session, province, commune.id,
                                              registry.ClusterFields(name=f"Cụm loa {key}", zone_id=zone.id))
            seeded = Commune(commune.id, zone.id, cluster.id)
            for role in (Role.OFFICER, Role.APPROVER, Role.ADMIN):
                user = users.create_user(session, province, username=f"{role.value}-{key.lower()}",
                                         password=PASSWORD, role=role, commune_id=commune.id)
                seeded.users[role.value] = _plain(user)
                tokens[(role.value, key)] = auth.issue_token(session, user, ttl=timedelta(days=30)).token
            communes[key] = seeded
        seed = Seed(communes=communes, province=_plain(province), tokens=tokens)
        if db.dialect == "sqlite":
            session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))  # the file alone is the whole database
    db.dispose()
    return seed


@dataclass(frozen=True)
class Template:
    """A seeded database, copied for each test instead of seeding (and hashing passwords) again."""

    url: str
    seed: Seed

    def install(self, settings: Settings) -> None:
        """Copy the seeded database to where ``settings`` expects it."""
        installed = copy_database(self.url, settings.data_dir)
        assert installed == settings.effective_database_url, "settings not made by make_settings"


def make_template(directory: Path) -> Template:
    """Seed a database under ``directory``."""
    settings = make_settings(directory)
    seed = seed_database(settings)
    return Template(settings.effective_database_url, seed)


@contextmanager
def running_world(template: Template, tmp_path: Path, **overrides: Any) -> Iterator[World]:
    """A started app (lifespan run) on a copy of the seeded database, through TestClient."""
    settings = make_settings(tmp_path, **overrides)
    template.install(settings)
    handoff = RecordingHandoff()
    app = create_app(settings, handoff=handoff)
    with TestClient(app) as client:
        yield World(app=app, client=client, seed=template.seed, handoff=handoff)


VIETNAMESE_LETTERS = set("ăâđêôơưàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ")


def looks_vietnamese(message: str) -> bool:
    """True if the message has Vietnamese letters (an English message has none)."""
    return bool(VIETNAMESE_LETTERS & set(message.lower()))


def snapshot(world: World) -> dict[str, Any]:
    """Every row of every table, and the files of the upload store."""
    tables: dict[str, Any] = {}
    with world.db.session() as session:
        for table in Base.metadata.sorted_tables:
            # When a token was last used is bookkeeping of the credential, not data the request changed.
            columns = [c for c in table.columns if (table.name, c.name) != ("api_tokens", "last_used_at")]
            rows = session.execute(select(*columns).order_by(*table.primary_key.columns)).all()
            tables[table.name] = [tuple(row) for row in rows]
    uploads = world.settings.data_dir / "uploads"
    files = sorted(p.name for p in uploads.iterdir()) if uploads.is_dir() else []
    return {"tables": tables, "uploads": files}


def today() -> date:
    """Today in the communes' zone."""
    return local(SystemClock().now()).date()
