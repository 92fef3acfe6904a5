"""The agent's door, in process: every envelope is verified, de-duplicated, stored and reported.

Real parts: the agent's SQLite store, its durable report outbox, a real conductor with the null
player, the real verifier. The server is never reached (reports wait in the outbox, where the test
reads them), and orders play far in the future so that nothing sounds during the test.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from broadcaster.agent.clock import ServerClock
from broadcaster.agent.conductor import Conductor, Timing
from broadcaster.agent.download import AudioFetcher
from broadcaster.agent.intake import Intake
from broadcaster.agent.players.null import NullPlayer
from broadcaster.agent.reporting import Reporter, ServerClient
from broadcaster.agent.retry import Backoff
from broadcaster.agent.store import AgentStore, OrderState
from broadcaster.delivery.orders import (
    LOCAL_ZONE,
    OrderBadSignature,
    OrderExpired,
    OrderMalformed,
    OrderReplayed,
    OrderVerifier,
    OrderWrongCluster,
    canonical_bytes,
)
from tests.agent.harness import Audio, OrderMaker

AUDIO = Audio("http://127.0.0.1:1/a.mp3", "cd" * 32, 1000)


@dataclass
class Door:
    """An intake wired to real agent parts."""

    intake: Intake
    store: AgentStore
    conductor: Conductor
    clock: ServerClock

    def reports(self) -> list[dict[str, Any]]:
        """Every report queued in the outbox, oldest first."""
        return [json.loads(body) for _, body in self.store.outbox_batch(1000)]


@pytest.fixture
async def door(tmp_path: Path, maker: OrderMaker) -> AsyncIterator[Door]:
    """Intake for cluster thon-1 trusting ``maker``'s key."""
    store = AgentStore(tmp_path / "agent.sqlite3")
    clock = ServerClock()
    backoff = Backoff(60.0, 60.0)
    async with httpx.AsyncClient() as http:
        server = ServerClient(http, "http://127.0.0.1:1", "thon-1", Ed25519PrivateKey.generate(), clock)
        reporter = Reporter(store, server, "thon-1", backoff)
        conductor = Conductor(store=store, fetcher=AudioFetcher(tmp_path / "audio", http, backoff),
                              player=NullPlayer(), reporter=reporter, timing=Timing(), clock=clock)
        intake = Intake(cluster_id="thon-1", verifier=OrderVerifier([maker.signer.public_key]), store=store,
                        reporter=reporter, conductor=conductor, clock=clock)
        yield Door(intake, store, conductor, clock)
        await conductor.shutdown(grace_s=0.1)
    store.close()


async def test_an_accepted_order_is_stored_as_signed_reported_and_dispatched(door: Door, maker: OrderMaker) -> None:
    order = maker.order("thon-1", AUDIO, play_in=3600)
    envelope = maker.envelope(order)

    assert door.intake.accept(envelope) == order

    assert door.store.last_seq() == order.seq
    assert door.store.state_of(order) is OrderState.RECEIVED
    assert [r["stage"] for r in door.reports()] == ["received"]
    assert door.reports()[0]["order_id"] == str(order.order_id)
    assert door.conductor.queue_length() == 1
    # Stored as the exact canonical object signed: a byte-for-byte retry is recognised as one.
    with pytest.raises(OrderReplayed) as retry:
        door.intake.accept(json.dumps(json.loads(envelope), indent=3).encode())
    assert retry.value.duplicate is True
    assert [r["stage"] for r in door.reports()] == ["received"]  # a retry is not reported again
    assert canonical_bytes(json.loads(envelope)["order"]) == canonical_bytes(order.wire())


async def test_an_older_seq_is_refused_and_reported(door: Door, maker: OrderMaker) -> None:
    door.intake.accept(maker.envelope(maker.order("thon-1", AUDIO, play_in=3600, seq=5)))
    stale = maker.order("thon-1", AUDIO, play_in=3600, seq=4)

    with pytest.raises(OrderReplayed) as caught:
        door.intake.accept(maker.envelope(stale))

    assert caught.value.duplicate is False
    refused = door.reports()[-1]
    assert (refused["stage"], refused["reason"], refused["order_id"]) == ("refused", "order_replayed",
                                                                           str(stale.order_id))
    assert refused["message"] and door.store.state_of(stale) is None and door.conductor.queue_length() == 1


async def test_attributable_refusals_are_reported_with_their_code(door: Door, maker: OrderMaker) -> None:
    elsewhere = maker.order("thon-2", AUDIO, play_in=3600)
    with pytest.raises(OrderWrongCluster):
        door.intake.accept(maker.envelope(elsewhere))
    late = maker.order("thon-1", AUDIO, play_in=-120, expires_in=60)
    with pytest.raises(OrderExpired):
        door.intake.accept(maker.envelope(late))

    assert [(r["stage"], r["reason"], r["order_id"]) for r in door.reports()] == [
        ("refused", "order_wrong_cluster", str(elsewhere.order_id)), ("refused", "order_expired", str(late.order_id))]
    assert door.store.last_seq() == 0 and door.conductor.queue_length() == 0


async def test_unattributable_envelopes_are_refused_but_not_reported(door: Door, maker: OrderMaker) -> None:
    stranger = OrderMaker()  # a key this cluster does not trust
    forged = stranger.envelope(stranger.order("thon-1", AUDIO, play_in=3600))
    with pytest.raises(OrderBadSignature):
        door.intake.accept(forged)
    with pytest.raises(OrderMalformed):
        door.intake.accept(b"{not json")

    assert door.reports() == [] and door.store.last_seq() == 0 and door.conductor.queue_length() == 0


async def test_expiry_is_judged_in_server_time_not_the_box_clock(door: Door, maker: OrderMaker) -> None:
    # The box's clock runs 10 minutes fast: by its own time the order expired a minute ago, by the
    # server's it has nine minutes left.
    door.clock = ServerClock(-600.0)
    door.intake._clock = door.clock  # noqa: SLF001 - the same intake, handed a skewed server-clock estimate
    an_hour_ago = datetime.now(LOCAL_ZONE) - timedelta(hours=1)
    late_by_box = maker.order("thon-1", AUDIO, play_in=-120, expires_in=60, issued_at=an_hour_ago)
    assert door.intake.accept(maker.envelope(late_by_box)) == late_by_box
    assert door.clock.now() < late_by_box.expires_at.timestamp()  # an older issue time moves no clock


async def test_an_accepted_order_moves_an_unsampled_clock_up_to_its_issue_time(door: Door, maker: OrderMaker) -> None:
    door.clock = ServerClock(-600.0)
    door.intake._clock = door.clock  # noqa: SLF001
    order = maker.order("thon-1", AUDIO, play_in=3600)
    assert door.clock.now() < order.issued_at.timestamp()

    door.intake.accept(maker.envelope(order))

    assert door.clock.now() >= order.issued_at.timestamp()


async def test_every_refusal_is_logged_naming_the_order_or_saying_it_is_unattributable(
        door: Door, maker: OrderMaker, caplog: pytest.LogCaptureFixture) -> None:
    # The box's log is what a technician reads on site: each refusal, with its code and whose it was.
    elsewhere = maker.order("thon-2", AUDIO, play_in=3600, seq=9)
    with caplog.at_level("WARNING", logger="broadcaster.agent.intake"):
        with pytest.raises(OrderMalformed):
            door.intake.accept(b"{not json")
        with pytest.raises(OrderWrongCluster):
            door.intake.accept(maker.envelope(elsewhere))
    refusals = [record.getMessage() for record in caplog.records if record.name == "broadcaster.agent.intake"]
    assert refusals[0].startswith("refused unattributable envelope: order_malformed")
    assert refusals[1].startswith(f"refused order {elsewhere.order_id} seq 9: order_wrong_cluster")
