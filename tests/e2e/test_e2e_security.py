"""What must never sound, seen from the server: the broadcast log records each refusal and failure.

Driven through the real server (the app under uvicorn, the officers' API, programming, signing,
the http transport) to real agent processes:

- audio that does not match its sha256 (a tampering mirror in front of the audio URLs);
- an order whose signature the agent cannot verify (an agent provisioned with another key);
- an order for another cluster (an agent provisioned with the wrong cluster id).

Expired and replayed orders, tampered envelopes and replays after a restart are refused by the
agent on its own: tests/agent/test_agent_refusals.py. Forged reports: tests/delivery/test_agent_api_server.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from broadcaster.db import Database
from broadcaster.delivery.keys import load_or_create_signing_key, public_key_base64
from broadcaster.speech import ProgrammePiece
from tests.agent.harness import AgentProcess, FakeServer, free_port, wait_for
from tests.e2e.harness import (
    PASSWORD,
    InProcessServer,
    Seed,
    agent_for,
    audit_actions,
    delivery_settings,
    seed_commune,
)

TEXT = "Khẩn: thử nghiệm an toàn hệ thống loa."


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[InProcessServer, Seed, FakeServer,
                                                                      list[AgentProcess]]]:
    """Server whose audio URLs point at a tampering mirror; three agents, two of them misprovisioned."""
    root: Path = tmp_path_factory.mktemp("security")
    port = free_port()
    mirror = FakeServer({}).start()
    server: InProcessServer | None = None
    agents: list[AgentProcess] = []
    try:  # from the mirror's start: a set-up that fails stops what it started
        settings = delivery_settings(root, port, audio_base_url=f"{mirror.url}/audio")
        db = Database(settings.effective_database_url)
        db.upgrade()
        seed = seed_commune(db, 3, users=True)
        server = InProcessServer(settings, port).start()
        # The programme the emergency will air, rendered ahead (same cache): the mirror serves it altered.
        audio = server.runtime.speech.render_programme([ProgrammePiece(text=TEXT, repeat=1)], chime=True)
        altered = bytearray(audio.path.read_bytes())
        altered[len(altered) // 2] ^= 0xFF
        mirror.add_audio(f"{audio.sha256}.mp3", bytes(altered))
        honest, wrong_key, wrong_id = seed.clusters
        agents = [
            agent_for(root, honest, seed, settings),
            agent_for(root, wrong_key, seed, settings, public_key=public_key_base64(Ed25519PrivateKey.generate().public_key())),
            AgentProcess(root / "agent-wrong-id", cluster_id=str(honest.id), server_url=settings.public_url,
                         public_key=public_key_base64(load_or_create_signing_key(settings.data_dir).public_key()),
                         secret=seed.secrets[wrong_id.id], port=seed.ports[wrong_id.id]),
        ]
        for agent in agents:
            agent.launch()
        for agent in agents:
            agent.wait_ready()
        yield server, seed, mirror, agents
    finally:
        for agent in agents:
            if agent.alive():
                agent.terminate()
        if server is not None:
            server.stop()
        mirror.stop()


def test_refused_and_failed_orders_are_logged_and_never_played(
        world: tuple[InProcessServer, Seed, FakeServer, list[AgentProcess]]) -> None:
    server, seed, mirror, agents = world
    token = httpx.post(f"{server.url}/api/v1/auth/token", timeout=10,
                       json={"username": "approver-xa-an-binh", "password": PASSWORD}).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    sent = httpx.post(f"{server.url}/api/v1/emergencies", headers=headers, timeout=60,
                      json={"title": "Thử an toàn", "text": TEXT, "repeat": 1})
    assert sent.status_code == 201, sent.text
    bulletin = sent.json()["bulletin"]["id"]

    def settled() -> dict[int, dict[str, Any]] | None:
        rows = httpx.get(f"{server.url}/api/v1/broadcast-log", params={"bulletin_id": bulletin}, headers=headers,
                         timeout=10).json()
        done = {r["cluster_id"]: r for r in rows if r["delivery_state"] in ("played", "failed", "missed")}
        return done if len(done) == 3 else None

    log = wait_for(settled, 40, "the three deliveries to settle", interval=0.3)
    honest, wrong_key, wrong_id = seed.clusters
    expected = {honest.id: "[audio_checksum_mismatch]", wrong_key.id: "[order_bad_signature]",
                wrong_id.id: "[order_wrong_cluster]"}
    for cluster_id, reason in expected.items():
        assert log[cluster_id]["delivery_state"] == "failed"
        assert log[cluster_id]["delivery_error"].startswith(reason), log[cluster_id]
        assert log[cluster_id]["played_at"] is None
    assert any(r.path.startswith("/audio/") for r in mirror.audio_requests)  # the honest agent did download
    for agent in agents:
        assert [e for e in agent.played() if e["event"] == "start"] == []  # and nothing sounded anywhere
    audited = {(e.action, e.details.get("code") or e.details.get("reason")) for e in audit_actions(server.runtime.db)}
    assert {("delivery_failed", "audio_checksum_mismatch"), ("delivery_refused", "order_bad_signature"),
            ("delivery_refused", "order_wrong_cluster")} <= audited
