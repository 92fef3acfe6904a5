"""The test harness's process starters: a start-up that fails leaves no process behind.

A fixture whose set-up raises never reaches its teardown, so each starter kills what it started
itself (``tests.fakes.processes.killed_on_failure``), and a world of several processes stops those
already up when a later one does not come up.
"""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from broadcaster.config import Settings
from tests.agent.harness import AgentProcess, free_port
from tests.e2e.harness import ServerProcess, delivery_settings
from tests.fakes.mosquitto import Mosquitto
from tests.faults.trials import FaultWorld
from tests.scheduler import processes

pytestmark = pytest.mark.backends("sqlite")  # what is under test is the processes, not the database


def assert_gone(process: subprocess.Popen[bytes] | None) -> None:
    """The process was started, and is dead and reaped (not merely still starting)."""
    assert process is not None
    assert process.returncode is not None, f"pid {process.pid} still runs"
    with pytest.raises(ProcessLookupError):
        os.kill(process.pid, 0)


def test_a_server_process_that_misses_its_health_deadline_is_killed(tmp_path: Path) -> None:
    port = free_port()
    server = ServerProcess(delivery_settings(tmp_path, port), port, tmp_path)
    with pytest.raises(AssertionError, match="/health"):
        server.start(timeout=0.0)  # no server answers /health the instant it is started
    assert_gone(server.process)


def test_a_scheduler_server_that_misses_its_health_deadline_is_killed(tmp_path: Path) -> None:
    server = processes.Server(Settings(data_dir=tmp_path / "data", cache_dir=tmp_path / "cache"), tmp_path, "slow")
    with pytest.raises(AssertionError, match="/health"):
        server.start(timeout=0.0)
    assert_gone(server.process)


def test_an_agent_that_is_not_ready_in_time_is_killed(tmp_path: Path) -> None:
    agent = AgentProcess(tmp_path / "agent", cluster_id="thon-1", server_url="http://127.0.0.1:1",
                         public_key="AAAA", secret="bi-mat-thu-nghiem-0123456789")
    agent.launch()
    with pytest.raises(AssertionError, match="the agent to start"):
        agent.wait_ready(timeout=0.0)
    assert_gone(agent.process)


def test_a_broker_that_does_not_listen_in_time_is_killed(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "broker", free_port())
    broker.passwd.write_text("")
    broker.acl.write_text("")
    with pytest.raises(AssertionError, match="did not start"):
        broker.start(timeout_s=0.0)
    assert_gone(broker.process)


def test_a_fault_world_whose_agent_fails_to_start_stops_its_server(tmp_path: Path) -> None:
    world = FaultWorld(tmp_path, clusters=1)
    # The agent's port already taken: it exits at once, after the server came up.
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", world.seed.ports[world.seed.clusters[0].id]))
        taken.listen()
        with pytest.raises(AssertionError, match="agent exited"):
            world.start()
    assert world.server.process is not None and world.server.process.pid  # the server had been started
    assert_gone(world.server.process)
    assert_gone(world.agents[0].process)
