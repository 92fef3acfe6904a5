"""The ``http`` transport against a real agent process: every answer of the agent classified right."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from broadcaster.delivery.orders import canonical_bytes
from broadcaster.delivery.transport import (
    ClusterAddress,
    SendOutcome,
    TransportMisconfigured,
    TransportUnavailable,
    UnknownTransport,
    create_transport,
    transport_names,
)
from tests.agent.harness import SECRET, AgentProcess, FakeServer, OrderMaker, free_port, tone_mp3

CLUSTER = "cum-7"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[OrderMaker, FakeServer, AgentProcess]]:
    """One agent trusting the maker's key, reporting to a stand-in server that also serves the audio."""
    root: Path = tmp_path_factory.mktemp("transport")
    maker = OrderMaker()
    server = FakeServer({CLUSTER: SECRET}).start()
    try:  # the agent kills itself if it does not start; the stand-in server stops either way
        agent = AgentProcess(root / "agent", cluster_id=CLUSTER, server_url=server.url,
                             public_key=maker.public_key, secret=SECRET).start()
        yield maker, server, agent
        agent.terminate()
    finally:
        server.stop()


def test_registry_names_the_transports_and_refuses_unknown_names() -> None:
    assert {"pull", "http", "mqtt"} <= set(transport_names())
    with pytest.raises(UnknownTransport) as refused:
        create_transport("bo-cau-dua-thu")
    assert refused.value.code == "transport_unknown"
    assert "pull" in refused.value.message


async def test_agent_answers_are_classified(world: tuple[OrderMaker, FakeServer, AgentProcess]) -> None:
    maker, server, agent = world
    audio = server.add_audio("tone.mp3", tone_mp3(0.5))
    target = ClusterAddress(CLUSTER, agent.url)
    transport = create_transport("http", timeout_s=5.0)
    try:
        first = maker.order(CLUSTER, audio, play_in=30, seq=10)
        accepted = await transport.send(target, maker.envelope(first))
        assert accepted.outcome is SendOutcome.ACCEPTED and accepted.delivered

        again = await transport.send(target, maker.envelope(first))  # a retry whose answer was lost
        assert again.outcome is SendOutcome.DUPLICATE and again.delivered

        older = await transport.send(target, maker.envelope(maker.order(CLUSTER, audio, play_in=30, seq=5)))
        assert (older.outcome, older.code) == (SendOutcome.REPLAYED, "order_replayed")
        assert not older.delivered

        late = maker.order(CLUSTER, audio, play_in=-20, expires_in=10, seq=11)
        expired = await transport.send(target, maker.envelope(late))
        assert (expired.outcome, expired.code) == (SendOutcome.EXPIRED, "order_expired")

        elsewhere = await transport.send(target, maker.envelope(maker.order("cum-8", audio, play_in=30, seq=12)))
        assert (elsewhere.outcome, elsewhere.code) == (SendOutcome.REFUSED, "order_wrong_cluster")
        assert elsewhere.message  # the agent's Vietnamese explanation, for the broadcast log

        forged = maker.order(CLUSTER, audio, play_in=30, seq=13)  # names the trusted key, signed by another
        signature = Ed25519PrivateKey.generate().sign(canonical_bytes(forged.wire()))
        envelope = json.dumps({"order": forged.wire(), "signature": base64.b64encode(signature).decode()}).encode()
        bad = await transport.send(target, envelope)
        assert (bad.outcome, bad.code) == (SendOutcome.REFUSED, "order_bad_signature")
    finally:
        await transport.aclose()


async def test_unreachable_and_foreign_answers_are_worth_retrying(
        world: tuple[OrderMaker, FakeServer, AgentProcess]) -> None:
    maker, server, _agent = world
    envelope = maker.envelope(maker.order(CLUSTER, None, kind="stop", play_in=0, seq=99))
    transport = create_transport("http", timeout_s=2.0)
    try:
        with pytest.raises(TransportUnavailable):  # nobody listens there
            await transport.send(ClusterAddress(CLUSTER, f"http://127.0.0.1:{free_port()}"), envelope)
        with pytest.raises(TransportUnavailable) as foreign:  # something answers, but not an agent
            await transport.send(ClusterAddress(CLUSTER, server.url), envelope)
        assert "401" in (foreign.value.detail or "")
        with pytest.raises(TransportMisconfigured) as missing:
            await transport.send(ClusterAddress(CLUSTER, ""), envelope)
        assert missing.value.code == "transport_misconfigured"
    finally:
        await transport.aclose()
