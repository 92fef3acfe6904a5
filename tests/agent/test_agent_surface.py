"""What an agent exposes (issue 10, item 7): a loopback-only status, clean refusals of hostile bodies."""

from __future__ import annotations

import httpx
import pytest

from broadcaster.agent.app import create_agent_app
from broadcaster.agent.config import load_agent_config
from tests.agent.harness import AgentFactory, OrderMaker


def test_deeply_nested_json_is_refused_cleanly_and_the_agent_keeps_working(
        make_agent: AgentFactory, maker: OrderMaker) -> None:
    agent = make_agent("thon-1").start()
    for body in (b"[" * 30_000 + b"]" * 30_000,  # under the size cap, far past any parser's recursion
                 b'{"order": ' + b'{"a": ' * 10_000 + b"1" + b"}" * 10_000 + b', "signature": "AA=="}'):
        answer = agent.post(body)
        assert answer.status_code == 400, answer.text
        assert answer.json()["code"] == "order_malformed"
        assert "Traceback" not in agent.log_text()
    assert agent.alive() and agent.status()["cluster_id"] == "thon-1"


@pytest.mark.parametrize(("client", "allowed"), [("127.0.0.1", True), ("::1", True), ("192.0.2.7", False)])
async def test_status_answers_only_the_box_itself(client: str, allowed: bool) -> None:
    app = create_agent_app(intake=None, status=lambda: {"status": "idle"})  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app, client=(client, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://agent") as http:
        answer = await http.get("/status")
    assert answer.status_code == (200 if allowed else 403)
    if not allowed:
        assert answer.json()["code"] == "status_local_only" and "idle" not in answer.text


def test_an_http_agent_binds_loopback_unless_told_otherwise(maker: OrderMaker) -> None:
    config = load_agent_config(None, cluster_id="thon-1", server_url="http://127.0.0.1:1", secret="s",
                               server_public_keys=[maker.public_key], transport="http")
    assert config.host == "127.0.0.1"
    assert load_agent_config(None, cluster_id="thon-1", server_url="http://127.0.0.1:1", secret="s",
                             server_public_keys=[maker.public_key]).transport == "pull"
