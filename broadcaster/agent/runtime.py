"""Wires one agent together and runs it until SIGTERM/SIGINT.

Once listening it writes ``<state_dir>/agent.json`` (``{"pid", "host", "port", "cluster_id"}``),
which tells supervisors and tests the real port when ``port: 0`` was configured. On SIGTERM it
stops taking orders, interrupts what plays (reported ``interrupted``), leaves pending orders in
SQLite for the next start, tries for a moment to deliver queued reports, and exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import uvicorn

from broadcaster import __version__
from broadcaster.agent.app import create_agent_app
from broadcaster.agent.conductor import Conductor, Timing
from broadcaster.agent.config import AgentConfig
from broadcaster.agent.download import AudioFetcher
from broadcaster.agent.health import HealthWatch
from broadcaster.agent.intake import Intake
from broadcaster.agent.players import create_player
from broadcaster.agent.reporting import Reporter, ServerClient, local_time, run_heartbeats
from broadcaster.agent.retry import Backoff
from broadcaster.agent.store import AgentStore
from broadcaster.delivery.keys import load_public_key
from broadcaster.delivery.orders import Heartbeat, OrderVerifier
from broadcaster.errors import ServiceFailure
from broadcaster.private_files import private_dir

log = logging.getLogger(__name__)
READY_FILE = "agent.json"
# Finished orders are forgotten this long after they expired; seq keeps guarding replays.
KEEP_FINISHED_S = 30 * 24 * 3600
FINAL_FLUSH_S = 2.0


class AgentStartFailed(ServiceFailure):
    """The agent could not start (port taken, state dir not writable, ...)."""

    code = "agent_start_failed"


class _AgentWebServer(uvicorn.Server):
    """uvicorn without its own signal handling: the agent shuts down in its own order."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family)
    except OSError as error:
        raise AgentStartFailed(
            f"Cụm loa không mở được cổng {host}:{port} (cổng đang bận hoặc địa chỉ sai).", detail=str(error)
        ) from None


async def run_agent(config: AgentConfig) -> None:
    """Run the agent described by ``config`` until a termination signal."""
    verifier = OrderVerifier([load_public_key(text) for text in config.server_public_keys])
    secret = config.report_secret()
    player = create_player(config.player, volume=config.volume, **config.player_options)
    try:
        private_dir(config.state_dir)  # orders and audio of this cluster: for this account only
        store = AgentStore(config.state_dir / "agent.sqlite3")
    except OSError as error:
        raise AgentStartFailed(f"Không ghi được thư mục trạng thái {config.state_dir}.", detail=str(error)) from None
    store.prune(time.time() - KEEP_FINISHED_S)
    sock = _listen(config.host, config.port)
    ready_file = config.state_dir / READY_FILE
    backoff = Backoff(config.retry_initial_s, config.retry_max_s)
    try:
        async with httpx.AsyncClient(timeout=config.request_timeout_s) as http:
            server = ServerClient(http, config.server_url, config.cluster_id, secret)
            reporter = Reporter(store, server, config.cluster_id, backoff)
            fetcher = AudioFetcher(config.state_dir / "audio", http, backoff)
            conductor = Conductor(
                store=store, fetcher=fetcher, player=player,
                reporter=reporter, timing=Timing(config.prepare_lead_s, config.start_lead_s),
            )
            health = HealthWatch(config.state_dir, store, fetcher, reporter, min_free_bytes=config.min_free_disk_bytes)
            intake = Intake(cluster_id=config.cluster_id, verifier=verifier, store=store, reporter=reporter,
                            conductor=conductor)

            def heartbeat() -> Heartbeat:
                now_playing = conductor.now_playing()
                state = health.check()
                return Heartbeat(
                    cluster_id=config.cluster_id, at=local_time(time.time()),
                    status="playing" if now_playing else "idle",
                    volume=conductor.volume if conductor.volume is not None else config.volume, version=__version__,
                    now_playing=now_playing, queue_length=conductor.queue_length(), last_seq=store.last_seq(),
                    reports_pending=store.outbox_count(), health=state.status, problems=state.problems,
                    free_disk_bytes=state.free_disk_bytes,
                )

            def status() -> dict[str, Any]:
                return {**heartbeat().model_dump(mode="json"), "player": config.player, "queue": conductor.queue()}

            web = _AgentWebServer(uvicorn.Config(
                create_agent_app(intake, status), log_level="warning", access_log=False, lifespan="off",
                timeout_graceful_shutdown=2,
            ))
            stopping = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, stopping.set)
            await conductor.resume()
            helpers = [asyncio.create_task(reporter.run(), name="reports"),
                       asyncio.create_task(run_heartbeats(server, config.heartbeat_interval_s, heartbeat,
                                                          on_delivered=reporter.server_reachable),
                                           name="heartbeats")]
            web_task = asyncio.create_task(web.serve(sockets=[sock]), name="http")
            while not web.started and not web_task.done():
                await asyncio.sleep(0.01)
            if not web.started:
                await web_task  # re-raises what stopped it
                raise AgentStartFailed("Máy chủ HTTP của cụm loa không khởi động được.")
            port = sock.getsockname()[1]
            ready_file.write_text(json.dumps({"pid": os.getpid(), "host": config.host, "port": port,
                                              "cluster_id": config.cluster_id}), encoding="utf-8")
            log.info("agent %s for cluster %s listening on %s:%d (player %s)", __version__, config.cluster_id,
                     config.host, port, config.player)
            stop_wait = asyncio.create_task(stopping.wait())
            await asyncio.wait([stop_wait, web_task], return_when=asyncio.FIRST_COMPLETED)
            log.info("shutting down")
            web.should_exit = True
            stop_wait.cancel()
            await asyncio.gather(web_task, return_exceptions=True)
            await conductor.shutdown()
            await _final_flush(reporter)
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
    finally:
        ready_file.unlink(missing_ok=True)
        sock.close()
        store.close()


async def _final_flush(reporter: Reporter) -> None:
    # Try briefly to deliver what is queued; whatever is left waits on disk for the next start.
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(FINAL_FLUSH_S):
            while await reporter.flush_once():
                pass
