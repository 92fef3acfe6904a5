"""Fixtures for the agent tests: a stand-in server, a signing key, real agent processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.agent.harness import SECRET, AgentFactory, AgentProcess, FakeServer, OrderMaker, tone_mp3


@pytest.fixture(scope="session")
def short_tone() -> bytes:
    """1.5 s of MP3."""
    return tone_mp3(1.5)


@pytest.fixture(scope="session")
def long_tone() -> bytes:
    """4 s of MP3: long enough to be interrupted."""
    return tone_mp3(4.0, 330.0)


@pytest.fixture
def maker() -> OrderMaker:
    """Signs orders with a fresh test key."""
    return OrderMaker()


@pytest.fixture
def server() -> Iterator[FakeServer]:
    """The stand-in server, listening."""
    fake = FakeServer(secrets={}).start()
    yield fake
    fake.stop()


@pytest.fixture
def make_agent(tmp_path: Path, maker: OrderMaker, server: FakeServer) -> Iterator[AgentFactory]:
    """Builds agents (not started) wired to ``server`` and ``maker``'s key; kills leftovers after the test."""
    agents: list[AgentProcess] = []

    def build(cluster_id: str = "thon-1", **settings: Any) -> AgentProcess:
        server.secrets[cluster_id] = SECRET
        settings.setdefault("server_url", server.url)
        agent = AgentProcess(tmp_path / f"{cluster_id}-{len(agents)}", cluster_id=cluster_id,
                             public_key=maker.public_key, secret=SECRET, **settings)
        agents.append(agent)
        return agent

    yield build
    for agent in agents:
        if agent.alive():
            agent.kill()
        print(f"--- log of agent {agent.cluster_id} ({agent.root.name}) ---\n{agent.log_text()[-4000:]}")
