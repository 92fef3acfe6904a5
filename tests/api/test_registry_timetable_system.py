"""Registry CRUD, a commune's timetable (read, override, reset, upcoming), and the service endpoints."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from broadcaster.models import AuditEvent, BulletinStatus
from tests.api.world import Template, World, running_world, today

API = "/api/v1"


def test_zones_and_clusters_crud(world: World) -> None:
    admin = world.headers("admin")
    commune_id = world.communes["A"].id
    zone = world.client.post(f"{API}/communes/{commune_id}/zones", json={"name": "  Thôn   Bắc "}, headers=admin)
    assert zone.status_code == 201 and zone.json()["name"] == "Thôn Bắc"
    duplicate = world.client.post(f"{API}/communes/{commune_id}/zones", json={"name": "Thôn Bắc"}, headers=admin)
    assert duplicate.status_code == 409 and duplicate.json()["error"]["code"] == "name_taken"

    cluster = world.client.post(f"{API}/communes/{commune_id}/clusters", headers=admin,
                                json={"name": "Cụm chợ", "zone_id": zone.json()["id"],
                                      "agent_url": "http://10.0.0.5:8700/"})
    assert cluster.status_code == 201 and len(cluster.json()["report_secret"]) >= 43
    fetched = world.client.get(f"{API}/clusters/{cluster.json()['id']}", headers=world.headers("officer"))
    assert fetched.json()["zone_id"] == zone.json()["id"] and "report_secret" not in fetched.json()
    foreign_zone = world.client.patch(f"{API}/clusters/{cluster.json()['id']}", headers=admin,
                                      json={"zone_id": world.communes["B"].zone_id})
    assert foreign_zone.status_code == 404 and foreign_zone.json()["error"]["code"] == "zone_not_found"
    cleared = world.client.patch(f"{API}/clusters/{cluster.json()['id']}", json={"zone_id": 0}, headers=admin)
    assert cleared.json()["zone_id"] is None

    world.bulletin(zone_ids=(zone.json()["id"],))
    in_use = world.client.delete(f"{API}/zones/{zone.json()['id']}", headers=admin)
    assert in_use.status_code == 409 and in_use.json()["error"]["code"] == "in_use"
    assert world.client.delete(f"{API}/clusters/{cluster.json()['id']}", headers=admin).status_code == 204
    listed = world.client.get(f"{API}/communes/{commune_id}/clusters", headers=admin).json()
    assert [c["id"] for c in listed] == [world.communes["A"].cluster_id]


def test_communes_are_created_by_the_province_and_deleted_only_while_unused(world: World) -> None:
    province = world.headers("province")
    created = world.client.post(f"{API}/communes", json={"code": "xa-moi", "name": "Xã Mới", "province": "Lào Cai"},
                                headers=province)
    assert created.status_code == 201
    taken = world.client.post(f"{API}/communes", json={"code": "xa-moi", "name": "Khác"}, headers=province)
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "commune_code_taken"
    used = world.client.delete(f"{API}/communes/{world.communes['A'].id}", headers=province)
    assert used.status_code == 409 and used.json()["error"]["code"] == "commune_not_empty"
    new_id = created.json()["id"]
    renamed = world.client.patch(f"{API}/communes/{new_id}", json={"name": "Xã Mới Lập"}, headers=province)
    assert renamed.status_code == 200
    # Its audit events (create, edit) do not keep an unused commune from being deleted, and keep its id.
    assert world.client.delete(f"{API}/communes/{new_id}", headers=province).status_code == 204
    assert world.client.get(f"{API}/communes/{new_id}", headers=province).status_code == 404
    with world.db.session() as session:
        events = session.execute(select(AuditEvent.action, AuditEvent.commune_id, AuditEvent.actor_id).where(
            AuditEvent.object_type == "commune", AuditEvent.object_id == new_id).order_by(AuditEvent.id)).all()
    assert [tuple(e) for e in events] == [(action, new_id, world.user("province").id)
                                          for action in ("create", "edit", "delete")]
    codes = [c["code"] for c in world.client.get(f"{API}/communes", headers=world.headers("officer")).json()]
    assert codes == ["xa-a"]


def test_a_commune_admin_manages_only_its_own_accounts(world: World) -> None:
    admin = world.headers("admin")
    created = world.client.post(f"{API}/users", headers=admin,
                                json={"username": "lanhdao2", "password": "mat-khau-dai", "role": "approver"})
    assert created.status_code == 201 and created.json()["commune_id"] == world.communes["A"].id
    province_admin = world.client.post(f"{API}/users", headers=admin, json={
        "username": "tinh2", "password": "mat-khau-dai", "role": "admin", "commune_id": world.communes["B"].id})
    assert province_admin.status_code == 404
    listed = world.client.get(f"{API}/users", headers=admin).json()
    assert {u["commune_id"] for u in listed} == {world.communes["A"].id}
    self_demote = world.client.patch(f"{API}/users/{world.user('admin').id}", json={"role": "officer"},
                                     headers=admin)
    assert self_demote.status_code == 409 and self_demote.json()["error"]["code"] == "cannot_change_self"


def test_timetable_read_override_reset(world: World) -> None:
    path = f"{API}/communes/{world.communes['A'].id}/timetable"
    default = world.client.get(path, headers=world.headers("officer")).json()
    assert default["overridden"] is False
    assert [(s["name"], s["start"]) for s in default["sessions"]] == [("morning", "06:00"), ("evening", "17:00")]

    override = {"description": "Lịch riêng mùa gặt", "sessions": [
        {"name": "sang", "label": "Buổi sáng", "start": "05:30", "days": ["t2", "t4", "t6"], "max_minutes": 20}]}
    changed = world.client.put(path, json=override, headers=world.headers("admin"))
    assert changed.status_code == 200, changed.text
    assert changed.json()["overridden"] is True
    assert changed.json()["sessions"] == [{"name": "sang", "label": "Buổi sáng", "start": "05:30",
                                           "days": ["mon", "wed", "fri"], "max_minutes": 20.0}]
    assert world.client.get(path, headers=world.headers("officer")).json()["sessions"][0]["start"] == "05:30"
    other = world.client.get(f"{API}/communes/{world.communes['B'].id}/timetable", headers=world.headers("province"))
    assert other.json()["overridden"] is False

    reset = world.client.delete(path, headers=world.headers("admin"))
    assert reset.json()["overridden"] is False and len(reset.json()["sessions"]) == 2


def test_upcoming_shows_what_will_air(world: World) -> None:
    start = today()
    bulletin_id = world.bulletin(status=BulletinStatus.APPROVED, start_date=start, end_date=start + timedelta(days=7))
    response = world.client.get(f"{API}/communes/{world.communes['A'].id}/timetable/upcoming", params={"days": 3},
                                headers=world.headers("officer"))
    assert response.status_code == 200, response.text
    sessions = response.json()
    assert sessions and all(s["starts_at"].endswith("+07:00") for s in sessions)
    clusters = [c for s in sessions for c in s["clusters"]]
    assert {c["cluster_id"] for c in clusters} == {world.communes["A"].cluster_id}
    assert all(bulletin_id in [i["bulletin_id"] for i in c["included"]] for c in clusters)


def test_health_metrics_and_docs(world: World) -> None:
    health = world.client.get("/health").json()
    assert (health["database"], health["scheduler"], health["scheduler_lease"]) == ("ok", "off", "not_held")
    # No process runs the timetables: degraded, and it says why.
    assert health["status"] == "degraded"
    assert [p["code"] for p in health["problems"]] == ["scheduler_lease_not_held"]
    assert {d["name"] for d in health["disks"]} == {"data", "cache"} and all(d["ok"] for d in health["disks"])
    world.client.post(f"{API}/bulletins", json={"title": "Họp", "text": "Họp dân tối nay."},
                      headers=world.headers("officer"))
    metrics = world.client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'broadcaster_http_requests_total{method="POST",route="/api/v1/bulletins",status="201"} 1.0' in metrics.text
    assert f'broadcaster_bulletins{{commune_id="{world.communes["A"].id}",status="draft"}} 1.0' in metrics.text
    assert 'route="/api/v1/bulletins/{bulletin_id}"' not in metrics.text
    docs = world.client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    schema = world.client.get("/openapi.json").json()
    assert "/api/v1/bulletins/{bulletin_id}/approve" in schema["paths"]
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_commune_and_timetable_changes_replan_the_running_scheduler(template: Template, tmp_path: Path) -> None:
    with running_world(template, tmp_path, run_scheduler=True) as world:
        scheduler = world.runtime.scheduler
        assert scheduler is not None and scheduler.is_leader

        def jobs(commune_id: int) -> set[str]:
            return {job.id for job in scheduler.jobs() if job.id.startswith(f"session:{commune_id}:")}

        created = world.client.post(f"{API}/communes", json={"code": "xa-moi", "name": "Xã Mới"},
                                    headers=world.headers("province"))
        commune_id = created.json()["id"]
        planned = jobs(commune_id)
        assert {job.split(":")[2] for job in planned} <= {"morning", "evening"} and planned
        override = {"sessions": [{"name": "trua", "start": "11:45", "days": ["mon", "tue", "wed", "thu", "fri",
                                                                             "sat", "sun"], "max_minutes": 10}]}
        changed = world.client.put(f"{API}/communes/{commune_id}/timetable", json=override,
                                   headers=world.headers("province"))
        assert changed.status_code == 200, changed.text
        assert {job.split(":")[2] for job in jobs(commune_id)} == {"trua"}
        reset = world.client.delete(f"{API}/communes/{commune_id}/timetable", headers=world.headers("province"))
        assert reset.status_code == 200 and jobs(commune_id) == planned
