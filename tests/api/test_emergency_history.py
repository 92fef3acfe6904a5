"""An emergency airs once and its history stays true (issue 10, item 4): STOP acts only on what waits or
plays, a played airing stays played, and re-airing in today's sessions is an opt-in at submission."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from broadcaster.clock import SystemClock, local
from broadcaster.models import Airing, Bulletin, Delivery, DeliveryState, User
from broadcaster.services import registry
from broadcaster.services.delivery_log import advance
from broadcaster.services.programming.plan import load_candidates
from tests.api.world import World

API = "/api/v1"
EMERGENCY = {"title": "Khẩn: cháy rừng", "text": "Cháy rừng ở đồi thông, bà con không vào rừng.", "repeat": 1}


def _send(world: World, **extra: Any) -> dict[str, Any]:
    sent = world.client.post(f"{API}/emergencies", json={**EMERGENCY, **extra}, headers=world.headers("approver"))
    assert sent.status_code == 201, sent.text
    return dict(sent.json())


def _played(world: World, airing_id: int, cluster_id: int, seconds_ago: float) -> None:
    """What the agent's "played" report records (services.agent_reports), some time ago."""
    with world.db.session() as session:
        delivery = session.scalars(select(Delivery).where(Delivery.airing_id == airing_id,
                                                          Delivery.cluster_id == cluster_id)).one()
        delivery.played_at = SystemClock().now() - timedelta(seconds=seconds_ago)
        assert advance(session, delivery, DeliveryState.PLAYED, from_agent=True)


def _state(world: World, airing_id: int) -> tuple[str, str | None, dict[int, str]]:
    with world.db.session() as session:
        airing = session.get_one(Airing, airing_id)
        deliveries = {d.cluster_id: str(d.state) for d in airing.deliveries}
        return str(airing.status), airing.note, deliveries


def test_stopping_an_emergency_that_already_aired_is_refused_and_rewrites_nothing(world: World) -> None:
    sent = _send(world)
    airing_id, cluster_id = sent["airing"]["airing_id"], world.communes["A"].cluster_id
    _played(world, airing_id, cluster_id, seconds_ago=600)
    before = _state(world, airing_id)
    refused = world.client.post(f"{API}/bulletins/{sent['bulletin']['id']}/cancel", json={"reason": "Dừng"},
                                headers=world.headers("approver"))
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "emergency_already_aired"
    assert _state(world, airing_id) == before == ("handed_off", None, {cluster_id: "played"})
    assert world.client.get(f"{API}/bulletins/{sent['bulletin']['id']}",
                            headers=world.headers()).json()["status"] == "aired"
    assert world.handoff.stops == []  # nothing was sent to the speakers
    log = world.client.get(f"{API}/broadcast-log", params={"commune_id": world.communes["A"].id},
                           headers=world.headers("approver")).json()
    assert [row["delivery_state"] for row in log if row["bulletin_id"] == sent["bulletin"]["id"]] == ["played"]


def test_an_emergency_whose_orders_expired_unplayed_is_finished_too(world: World) -> None:
    sent = _send(world)
    with world.db.session() as session:
        for delivery in session.scalars(select(Delivery).where(Delivery.airing_id == sent["airing"]["airing_id"])):
            delivery.expires_at = SystemClock().now() - timedelta(seconds=1)
    refused = world.client.post(f"{API}/bulletins/{sent['bulletin']['id']}/cancel", json={},
                                headers=world.headers("approver"))
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "emergency_already_aired"


def test_stop_acts_only_where_the_emergency_still_waits_or_plays(world: World) -> None:
    commune = world.communes["A"]
    with world.db.session() as session:
        admin = session.get_one(User, world.user("admin").id)
        second = registry.create_cluster(session, admin, commune.id, registry.ClusterFields(name="Cụm loa chợ"))
    sent = _send(world)
    airing_id = sent["airing"]["airing_id"]
    _played(world, airing_id, commune.cluster_id, seconds_ago=1)  # played at one cluster, pending at the other
    stopped = world.client.post(f"{API}/bulletins/{sent['bulletin']['id']}/cancel", json={"reason": "Đã dập lửa"},
                                headers=world.headers("approver"))
    assert stopped.status_code == 200 and stopped.json()["status"] == "cancelled"
    assert world.handoff.stops == [(airing_id, (second.id,))]
    status, note, deliveries = _state(world, airing_id)
    assert deliveries == {commune.cluster_id: "played", second.id: "cancelled"}
    assert status == "handed_off"  # it did air somewhere: not rewritten to cancelled
    assert note is not None and note.startswith("Dừng phát lúc ") and f"{local(SystemClock().now()):%d/%m/%Y}" in note


def test_an_emergency_that_never_sounded_is_cancelled_whole(world: World) -> None:
    sent = _send(world)
    world.client.post(f"{API}/bulletins/{sent['bulletin']['id']}/cancel", json={}, headers=world.headers("approver"))
    status, note, deliveries = _state(world, sent["airing"]["airing_id"])
    assert (status, set(deliveries.values())) == ("cancelled", {"cancelled"}) and note is not None
    assert "T" not in note.split("lúc ", 1)[1]  # a Vietnamese time, not an ISO timestamp


def _candidates_today(world: World) -> list[int]:
    with world.db.session() as session:
        today = local(SystemClock().now()).date()
        found = load_candidates(session, world.communes["A"].id, today, world.settings.data_dir / "uploads")
        return [c.bulletin_id for c in found]


def test_an_aired_emergency_is_not_read_again_in_sessions_unless_asked(world: World) -> None:
    once = _send(world)["bulletin"]
    assert once["replay_in_sessions"] is False and once["status"] == "aired"
    assert once["id"] not in _candidates_today(world)
    sent = _send(world, title="Khẩn: bão", text="Bão số 3 sắp đổ bộ, bà con chằng chống nhà cửa.",
                 replay_in_sessions=True)
    again = sent["bulletin"]
    assert again["replay_in_sessions"] is True
    assert again["id"] in _candidates_today(world)
    with world.db.session() as session:  # "hôm nay": not on another day
        bulletin = session.get_one(Bulletin, again["id"])
        tomorrow = local(SystemClock().now()).date() + timedelta(days=1)
        bulletin.end_date = tomorrow
        session.flush()
        assert again["id"] not in [c.bulletin_id for c in load_candidates(
            session, world.communes["A"].id, tomorrow, world.settings.data_dir / "uploads")]
    # Cancelling a finished emergency that still has sessions today takes it off them.
    _played(world, sent["airing"]["airing_id"], world.communes["A"].cluster_id, seconds_ago=600)
    cancelled = world.client.post(f"{API}/bulletins/{again['id']}/cancel", json={}, headers=world.headers("approver"))
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert again["id"] not in _candidates_today(world)

