"""Orders the agent must refuse, and audio it must not play: nothing of it reaches the horns."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from broadcaster.delivery.orders import canonical_bytes
from tests.agent.harness import AgentFactory, AgentProcess, FakeServer, OrderMaker, wait_for


@pytest.fixture
def agent(make_agent: AgentFactory) -> AgentProcess:
    """One running agent for cluster thon-1."""
    return make_agent("thon-1").start()


def _refusal(response_json: dict[str, object], code: str) -> None:
    assert response_json["code"] == code
    assert isinstance(response_json["message"], str) and response_json["message"]


def test_tampered_and_foreign_signatures_are_refused_and_not_reported(
    agent: AgentProcess, server: FakeServer, maker: OrderMaker, short_tone: bytes
) -> None:
    audio = server.add_audio("a.mp3", short_tone)
    order = maker.order("thon-1", audio, play_in=1.0)
    envelope = json.loads(maker.envelope(order))
    envelope["order"]["priority"] = "emergency"  # tampered after signing
    # A stranger signs the genuine order with their own key, claiming the server's key id.
    forged_signature = base64.b64encode(Ed25519PrivateKey.generate().sign(canonical_bytes(order.wire()))).decode()

    tampered = agent.post(json.dumps(envelope).encode())
    other_key = agent.post(json.dumps({"order": order.wire(), "signature": forged_signature}).encode())
    garbage = agent.post(b"{not json")

    assert tampered.status_code == 401 and other_key.status_code == 401
    _refusal(tampered.json(), "order_bad_signature")
    _refusal(other_key.json(), "order_bad_signature")
    assert garbage.status_code == 400
    _refusal(garbage.json(), "order_malformed")
    assert agent.status()["queue_length"] == 0 and agent.status()["last_seq"] == 0
    # A forged order is not the server's: nothing is reported under its id.
    assert server.stages(order.order_id) == []
    assert "order_bad_signature" in agent.log_text()


def test_wrong_cluster_expired_and_replays_are_refused_and_reported(
    agent: AgentProcess, server: FakeServer, maker: OrderMaker, short_tone: bytes
) -> None:
    audio = server.add_audio("b.mp3", short_tone)
    foreign = maker.order("thon-9", audio)
    expired = maker.order("thon-1", audio, play_in=-10, expires_in=5)
    good = maker.order("thon-1", audio, play_in=1.0)
    stale = maker.order("thon-1", audio, seq=good.seq)  # new id, old seq

    assert agent.post(maker.envelope(foreign)).status_code == 403
    assert agent.post(maker.envelope(expired)).status_code == 410
    assert agent.post(maker.envelope(good)).status_code == 202
    duplicate = agent.post(maker.envelope(good))
    stale_response = agent.post(maker.envelope(stale))

    assert duplicate.status_code == 409 and duplicate.json()["duplicate"] is True
    _refusal(duplicate.json(), "order_replayed")
    assert stale_response.status_code == 409 and stale_response.json()["duplicate"] is False
    server.wait_report(good.order_id, "played")
    for order, code in ((foreign, "order_wrong_cluster"), (expired, "order_expired"), (stale, "order_replayed")):
        refused = server.wait_report(order.order_id, "refused")
        assert refused["reason"] == code and refused["message"]
    # The retried copy of an accepted order is not a refusal of that order, and played once.
    assert server.stages(good.order_id) == ["received", "downloaded", "playing", "played"]
    assert len(agent.starts(good)) == 1
    assert agent.starts(foreign) == agent.starts(expired) == agent.starts(stale) == []


def test_replay_after_restart_is_still_refused(
    agent: AgentProcess, server: FakeServer, maker: OrderMaker, short_tone: bytes
) -> None:
    audio = server.add_audio("c.mp3", short_tone)
    order = maker.order("thon-1", audio, play_in=0.5)
    assert agent.post(maker.envelope(order)).status_code == 202
    server.wait_report(order.order_id, "played")
    assert agent.terminate() == 0

    agent.start()
    replay = agent.post(maker.envelope(order))

    assert replay.status_code == 409
    _refusal(replay.json(), "order_replayed")
    assert len(agent.starts(order)) == 1


def test_audio_with_wrong_sha256_or_size_is_discarded_never_played(
    agent: AgentProcess, server: FakeServer, maker: OrderMaker, short_tone: bytes
) -> None:
    genuine = server.add_audio("d.mp3", short_tone)
    server.add_audio("d.mp3", short_tone[:-100] + b"\0" * 100)  # the file changed on the server
    corrupted = maker.order("thon-1", genuine, play_in=1.0)
    short = server.add_audio("e.mp3", short_tone[:1000])
    wrong_size = maker.order("thon-1", short.__class__(short.url, short.sha256, short.size + 5), play_in=1.0)

    assert agent.post(maker.envelope(corrupted)).status_code == 202
    assert agent.post(maker.envelope(wrong_size)).status_code == 202

    failed = server.wait_report(corrupted.order_id, "failed")
    assert failed["reason"] == "audio_checksum_mismatch"
    assert server.wait_report(wrong_size.order_id, "failed")["reason"] == "audio_size_mismatch"
    assert server.stages(corrupted.order_id) == ["received", "failed"]
    wait_for(lambda: agent.status()["queue_length"] == 0, 5, "the queue to empty")
    assert agent.played() == []
    assert list((agent.state_dir / "audio").iterdir()) == []  # discarded
