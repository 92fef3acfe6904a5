"""Every route × every kind of caller × own or other commune: 401, 403, 404 or success, as the rules say.

The routes come from the app itself: a route without an entry in EXPECTATIONS fails the test, so a
new endpoint cannot be forgotten. Each cell gets fresh objects (a new draft to edit, a new submitted
bulletin to approve, ...) so a success in one cell cannot hide a failure in the next.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi.routing import iter_route_contexts
from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcaster.models import BulletinStatus, Role, User
from broadcaster.services import registry, users
from broadcaster.services.province_bulletins import ProvinceBulletinFields, ProvinceBulletins
from tests.api.world import ACTORS, PASSWORD, World, today, wav_bytes

RANK = {Role.OFFICER: 1, Role.APPROVER: 2, Role.ADMIN: 3}
COMMUNE_KEYS = ("A", "B")  # actors belong to A: A is "own", B is "other"


@dataclass
class Call:
    """One request: the path parameters, a body, a query, and optionally a token to use instead."""

    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    data: dict[str, Any] | None = None
    files: dict[str, Any] | None = None
    query: dict[str, Any] | None = None
    token: str | None = None


Maker = Callable[[World, str, str], Call]


@dataclass(frozen=True)
class Expect:
    """Who may call a route: the lowest role (None: public), success status, and how it is scoped."""

    min_role: Role | None
    ok: int
    make: Maker = lambda world, actor, key: Call()
    scoped: bool = True  # the target (path, body or query) is in the chosen commune
    province_only: bool = False


def expected_status(expect: Expect, actor: str, key: str) -> int:
    """The status the scoping rules promise for this cell."""
    if expect.min_role is None:
        return expect.ok
    if actor in ("none", "forged"):
        return 401
    province = actor == "province"
    if expect.scoped and key == "B" and not province:
        return 404
    if expect.province_only and not province:
        return 403
    if not province and RANK[Role(actor)] < RANK[expect.min_role]:
        return 403
    return expect.ok


# Makers: fresh targets in the chosen commune.


def commune_path(world: World, actor: str, key: str) -> Call:
    return Call(params={"commune_id": world.communes[key].id})


def bulletin(status: BulletinStatus, **fields: Any) -> Maker:
    def make(world: World, actor: str, key: str) -> Call:
        return Call(params={"bulletin_id": world.bulletin(key, status, **fields)})
    return make


def with_body(maker: Maker, **body: Any) -> Maker:
    def make(world: World, actor: str, key: str) -> Call:
        call = maker(world, actor, key)
        call.json = body
        return call
    return make


def commune_query(world: World, actor: str, key: str) -> Call:
    return Call(query={"commune_id": world.communes[key].id})


def new_text_bulletin(world: World, actor: str, key: str) -> Call:
    return Call(json={"title": "Họp dân", "text": "Tối nay họp dân ở nhà văn hóa.",
                      "commune_id": world.communes[key].id})


# The matrix checks roles and scoping; the sender declares being the leader on duty so that the
# four-eyes rule (tests/api/test_four_eyes.py) does not decide these cells.
def new_recording(world: World, actor: str, key: str) -> Call:
    return Call(data={"title": "Thông báo ghi âm", "commune_id": str(world.communes[key].id),
                      "sole_leader_on_duty": "true"},
                files={"file": ("tin.wav", wav_bytes(0.3), "audio/wav")})


def new_emergency(world: World, actor: str, key: str) -> Call:
    return Call(json={"title": "Khẩn", "text": "Bão sắp đổ bộ, bà con vào nơi an toàn.",
                      "commune_id": world.communes[key].id, "repeat": 1, "sole_leader_on_duty": True})


def new_commune(world: World, actor: str, key: str) -> Call:
    return Call(json={"code": f"xa-{uuid.uuid4().hex[:10]}", "name": "Xã mới"})


def commune_to_delete(world: World, actor: str, key: str) -> Call:
    if actor != "province":
        return commune_path(world, actor, key)
    # Only an empty commune can be deleted; the province admin gets a fresh one.
    with world.db.session() as session:
        commune = registry.create_commune(session, None, code=f"xa-{uuid.uuid4().hex[:10]}", name="Xã trống",
                                          schedules_dir=world.settings.schedules_dir)
        return Call(params={"commune_id": commune.id})


def province(session: Session, world: World) -> User:
    user = session.get(User, world.user("province").id)
    assert user is not None
    return user


def fresh_zone(world: World, actor: str, key: str) -> Call:
    with world.db.session() as session:
        zone = registry.create_zone(session, province(session, world), world.communes[key].id,
                                    f"Thôn {uuid.uuid4().hex[:8]}")
        return Call(params={"zone_id": zone.id}, json={"name": f"Thôn {uuid.uuid4().hex[:8]}"})


def fresh_cluster(world: World, actor: str, key: str) -> Call:
    with world.db.session() as session:
        cluster = registry.create_cluster(session, province(session, world), world.communes[key].id,
                                          registry.ClusterFields(name=f"Cụm {uuid.uuid4().hex[:8]}"))
        return Call(params={"cluster_id": cluster.id}, json={"agent_url": "http://127.0.0.1:9/"})


def zone_body(world: World, actor: str, key: str) -> Call:
    return Call(params={"commune_id": world.communes[key].id}, json={"name": f"Thôn {uuid.uuid4().hex[:8]}"})


def cluster_body(world: World, actor: str, key: str) -> Call:
    return Call(params={"commune_id": world.communes[key].id}, json={"name": f"Cụm {uuid.uuid4().hex[:8]}"})


def existing_cluster(world: World, actor: str, key: str) -> Call:
    return Call(params={"cluster_id": world.communes[key].cluster_id})


def admin_user(world: World, actor: str, key: str) -> Call:
    # The commune's admin: another account for officers and approvers, oneself for its admin.
    return Call(params={"user_id": world.user("admin", key).id}, json={"full_name": "Nguyễn Văn Quản"})


def new_user(world: World, actor: str, key: str) -> Call:
    return Call(json={"username": f"u{uuid.uuid4().hex[:10]}", "password": PASSWORD, "role": "officer",
                      "commune_id": world.communes[key].id})


def login(world: World, actor: str, key: str) -> Call:
    return Call(json={"username": "officer-a", "password": PASSWORD})


def own_fresh_token(world: World, actor: str, key: str) -> Call:
    # Logging out revokes the token used; give the cell its own so the others keep theirs.
    if actor in ("none", "forged"):
        return Call()
    return Call(token=world.new_token(actor, "A"))


def timetable_override(world: World, actor: str, key: str) -> Call:
    return Call(params={"commune_id": world.communes[key].id},
                json={"sessions": [{"name": "sang", "label": "Buổi sáng", "start": "06:30",
                                    "days": ["mon", "wed", "fri"], "max_minutes": 20}]})


def log_query(world: World, actor: str, key: str) -> Call:
    return Call(query={"commune_id": world.communes[key].id, "date_from": today().isoformat()})


def cached_audio(world: World, actor: str, key: str) -> Call:
    audio = world.runtime.speech.render_text("Âm thanh đã lưu trong bộ nhớ đệm.")
    return Call(params={"name": f"{audio.sha256}.{audio.fmt}"})


def agent_report(world: World, actor: str, key: str) -> Call:
    return Call(json=[])


def province_officer(session: Session) -> User:
    """The matrix's province officer (no commune): the author of its province bulletins."""
    found = session.scalar(select(User).where(User.username == "can-bo-tinh-ma-tran"))
    return found or users.create_user(session, None, username="can-bo-tinh-ma-tran", password=PASSWORD,
                                      role=Role.OFFICER, commune_id=None)


def province_bulletin(approved: bool) -> Maker:
    """A normal province bulletin for the chosen commune, written by the province officer, approved if asked."""
    def make(world: World, actor: str, key: str) -> Call:
        with world.db.session() as session:
            service = ProvinceBulletins(session, clock=world.runtime.clock)
            sent = service.create(province_officer(session), ProvinceBulletinFields(
                title="Tin của tỉnh", text="Tỉnh thông báo lịch tiêm phòng.", commune_ids=(world.communes[key].id,)))
            if approved:
                service.approve(province(session, world), sent.id)
            return Call(params={"bulletin_id": sent.id, "commune_id": world.communes[key].id})
    return make


def new_province_bulletin(world: World, actor: str, key: str) -> Call:
    return Call(json={"title": "Tin của tỉnh", "text": "Tỉnh thông báo lịch tiêm phòng.",
                      "commune_ids": [world.communes[key].id]})


OFFICER, APPROVER, ADMIN = Role.OFFICER, Role.APPROVER, Role.ADMIN
P = "/api/v1"
EXPECTATIONS: dict[str, Expect] = {
    "GET /openapi.json": Expect(None, 200),
    "GET /docs": Expect(None, 200),
    "GET /health": Expect(None, 200),
    "GET /favicon.ico": Expect(None, 200),
    "GET /metrics": Expect(None, 200),
    f"POST {P}/auth/token": Expect(None, 200, login),
    f"DELETE {P}/auth/token": Expect(OFFICER, 204, own_fresh_token, scoped=False),
    f"GET {P}/auth/me": Expect(OFFICER, 200, scoped=False),
    f"POST {P}/bulletins": Expect(OFFICER, 201, new_text_bulletin),
    f"GET {P}/bulletins": Expect(OFFICER, 200, commune_query),
    f"GET {P}/bulletins/{{bulletin_id}}": Expect(OFFICER, 200, bulletin(BulletinStatus.DRAFT)),
    f"PATCH {P}/bulletins/{{bulletin_id}}": Expect(OFFICER, 200, with_body(bulletin(BulletinStatus.DRAFT),
                                                                          title="Tiêu đề mới")),
    f"POST {P}/bulletins/{{bulletin_id}}/submit": Expect(OFFICER, 200, bulletin(BulletinStatus.DRAFT)),
    f"POST {P}/bulletins/{{bulletin_id}}/approve": Expect(APPROVER, 200, bulletin(BulletinStatus.SUBMITTED)),
    f"POST {P}/bulletins/{{bulletin_id}}/reject": Expect(APPROVER, 200, with_body(
        bulletin(BulletinStatus.SUBMITTED), reason="Chưa rõ giờ")),
    f"POST {P}/bulletins/{{bulletin_id}}/cancel": Expect(OFFICER, 200, bulletin(BulletinStatus.DRAFT)),
    f"GET {P}/bulletins/{{bulletin_id}}/preview": Expect(OFFICER, 200, bulletin(BulletinStatus.DRAFT)),
    f"GET {P}/bulletins/{{bulletin_id}}/history": Expect(OFFICER, 200, bulletin(BulletinStatus.SUBMITTED)),
    f"POST {P}/bulletins/recording": Expect(OFFICER, 201, new_recording),
    f"POST {P}/emergencies": Expect(APPROVER, 201, new_emergency),
    f"POST {P}/emergencies/recording": Expect(APPROVER, 201, new_recording),
    f"GET {P}/communes": Expect(OFFICER, 200, scoped=False),
    f"POST {P}/communes": Expect(ADMIN, 201, new_commune, scoped=False, province_only=True),
    f"GET {P}/communes/{{commune_id}}": Expect(OFFICER, 200, commune_path),
    f"PATCH {P}/communes/{{commune_id}}": Expect(ADMIN, 200, with_body(commune_path, province="Tỉnh Lào Cai")),
    f"DELETE {P}/communes/{{commune_id}}": Expect(ADMIN, 204, commune_to_delete, province_only=True),
    f"GET {P}/communes/{{commune_id}}/zones": Expect(OFFICER, 200, commune_path),
    f"POST {P}/communes/{{commune_id}}/zones": Expect(ADMIN, 201, zone_body),
    f"PATCH {P}/zones/{{zone_id}}": Expect(ADMIN, 200, fresh_zone),
    f"DELETE {P}/zones/{{zone_id}}": Expect(ADMIN, 204, fresh_zone),
    f"GET {P}/communes/{{commune_id}}/clusters": Expect(OFFICER, 200, commune_path),
    f"POST {P}/communes/{{commune_id}}/clusters": Expect(ADMIN, 201, cluster_body),
    f"GET {P}/clusters/{{cluster_id}}": Expect(OFFICER, 200, existing_cluster),
    f"PATCH {P}/clusters/{{cluster_id}}": Expect(ADMIN, 200, fresh_cluster),
    f"DELETE {P}/clusters/{{cluster_id}}": Expect(ADMIN, 204, fresh_cluster),
    f"GET {P}/users": Expect(ADMIN, 200, commune_query),
    f"POST {P}/users": Expect(ADMIN, 201, new_user),
    f"GET {P}/users/{{user_id}}": Expect(ADMIN, 200, admin_user),
    f"PATCH {P}/users/{{user_id}}": Expect(ADMIN, 200, admin_user),
    f"GET {P}/communes/{{commune_id}}/timetable": Expect(OFFICER, 200, commune_path),
    f"PUT {P}/communes/{{commune_id}}/timetable": Expect(ADMIN, 200, timetable_override),
    f"DELETE {P}/communes/{{commune_id}}/timetable": Expect(ADMIN, 200, commune_path),
    f"GET {P}/communes/{{commune_id}}/timetable/upcoming": Expect(OFFICER, 200, commune_path),
    f"GET {P}/broadcast-log": Expect(OFFICER, 200, log_query),
    f"GET {P}/broadcast-log.csv": Expect(OFFICER, 200, log_query),
    f"GET {P}/voices": Expect(OFFICER, 200, scoped=False),
    f"POST {P}/province-bulletins": Expect(OFFICER, 201, new_province_bulletin, scoped=False, province_only=True),
    f"GET {P}/province-bulletins": Expect(OFFICER, 200, scoped=False, province_only=True),
    f"GET {P}/province-bulletins/{{bulletin_id}}": Expect(OFFICER, 200, province_bulletin(approved=True)),
    f"POST {P}/province-bulletins/{{bulletin_id}}/approve": Expect(
        APPROVER, 200, province_bulletin(approved=False), scoped=False, province_only=True),
    f"POST {P}/province-bulletins/{{bulletin_id}}/reject": Expect(
        APPROVER, 200, with_body(province_bulletin(approved=False), reason="Chưa đúng"), scoped=False,
        province_only=True),
    f"GET {P}/communes/{{commune_id}}/province-inbox": Expect(OFFICER, 200, commune_path),
    f"POST {P}/communes/{{commune_id}}/province-inbox/{{bulletin_id}}/accept": Expect(
        OFFICER, 200, province_bulletin(approved=True)),
    f"POST {P}/communes/{{commune_id}}/province-inbox/{{bulletin_id}}/decline": Expect(
        OFFICER, 200, with_body(province_bulletin(approved=True), reason="Đã phát trong hội nghị")),
    # Agents sign their requests with their cluster's secret: a user's bearer token opens nothing there.
    "POST /api/agent/pull": Expect(None, 401, agent_report),
    "POST /api/agent/reports": Expect(None, 401, agent_report),
    "POST /api/agent/heartbeat": Expect(None, 401, agent_report),
    "GET /api/agent/public-key": Expect(None, 200),
    # Audio by content hash is public (agents and CDNs fetch it; the hash is the capability).
    "GET /audio/{name}": Expect(None, 200, cached_audio),
}


def app_routes(world: World) -> list[tuple[str, str]]:
    """(method, path template) of every route the app serves (HEAD is GET's shadow)."""
    from broadcaster.web.routing import WebRoute

    routes = []
    for context in iter_route_contexts(world.app.routes):
        if isinstance(context.route, WebRoute):
            continue  # pages: tests/web/test_web_route_inventory.py holds their matrix
        for method in sorted(context.methods or ()):
            if method != "HEAD":
                routes.append((method, context.path))
    return routes


def call(world: World, method: str, path: str, request: Call, actor: str) -> Any:
    """Send one cell's request as ``actor`` through the app."""
    token = request.token if request.token is not None else world.token(actor, "A")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return world.client.request(method, path.format(**request.params), json=request.json, data=request.data,
                                files=request.files, params=request.query, headers=headers)


def test_every_route_has_an_expectation(world: World) -> None:
    served = {f"{method} {path}" for method, path in app_routes(world)}
    assert served - EXPECTATIONS.keys() == set(), "routes with no expectation: add them to EXPECTATIONS"
    assert EXPECTATIONS.keys() - served == set(), "expectations for routes that no longer exist"


def test_auth_matrix(world: World) -> None:
    failures = []
    cells = 0
    for method, path in app_routes(world):
        expect = EXPECTATIONS.get(f"{method} {path}")
        if expect is None:
            failures.append(f"{method} {path}: no expectation")
            continue
        for actor in ACTORS:
            for key in COMMUNE_KEYS:
                request = expect.make(world, actor, key)
                response = call(world, method, path, request, actor)
                wanted = expected_status(expect, actor, key)
                cells += 1
                if response.status_code != wanted:
                    failures.append(f"{method} {path} as {actor} on commune {key}: "
                                    f"{response.status_code} (want {wanted}) {response.text[:200]}")
                elif response.status_code >= 400:
                    error = response.json()["error"]
                    if not error["code"] or not error["message"]:
                        failures.append(f"{method} {path} as {actor}/{key}: error without code or message")
    assert cells >= len(EXPECTATIONS) * len(ACTORS) * len(COMMUNE_KEYS)
    assert not failures, f"{len(failures)} of {cells} cells wrong:\n" + "\n".join(failures)


def test_reading_oneself_needs_no_admin(world: World) -> None:
    me = world.user("officer")
    response = world.client.get(f"{P}/users/{me.id}", headers=world.headers("officer"))
    assert response.status_code == 200 and response.json()["username"] == "officer-a"


def test_a_disabled_account_loses_its_tokens(world: World) -> None:
    officer = world.user("officer")
    response = world.client.patch(f"{P}/users/{officer.id}", json={"is_active": False},
                                  headers=world.headers("admin"))
    assert response.status_code == 200 and response.json()["is_active"] is False
    refused = world.client.get(f"{P}/auth/me", headers=world.headers("officer"))
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "token_invalid"


def test_logout_revokes_only_that_token(world: World) -> None:
    spare = world.new_token("officer")
    out = world.client.delete(f"{P}/auth/token", headers={"Authorization": f"Bearer {spare}"})
    assert out.status_code == 204
    assert world.client.get(f"{P}/auth/me", headers={"Authorization": f"Bearer {spare}"}).status_code == 401
    assert world.client.get(f"{P}/auth/me", headers=world.headers("officer")).status_code == 200


def test_login_issues_a_working_token_and_refuses_bad_passwords(world: World) -> None:
    bad = world.client.post(f"{P}/auth/token", json={"username": "officer-a", "password": "sai-mat-khau"})
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "login_failed"
    unknown = world.client.post(f"{P}/auth/token", json={"username": "khong-co", "password": "sai-mat-khau"})
    assert unknown.json() == bad.json()  # no hint whether the account exists
    good = world.client.post(f"{P}/auth/token", json={"username": "Officer-A", "password": PASSWORD})
    token = good.json()["access_token"]
    me = world.client.get(f"{P}/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["username"] == "officer-a"
