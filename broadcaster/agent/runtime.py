"""Wires one agent together and runs it until SIGTERM/SIGINT.

Orders come in through the configured transport: ``pull`` (the default) long-polls the server
over one outbound connection, ``mqtt`` subscribes to the cluster's topic at the broker, and only
``http`` opens a listening socket (``POST /orders``, for a LAN where the server can reach the
box). Once running it writes ``<state_dir>/agent.json`` (``{"pid", "cluster_id", "transport"}``,
plus ``host`` and ``port`` for http, which tells tests the real port when ``port: 0`` was
configured) and keeps ``<state_dir>/status.json`` fresh at every heartbeat: what the box is doing,
for its installer, without a port. On SIGTERM it stops taking orders, interrupts what plays
(reported ``interrupted``), leaves pending orders in SQLite for the next start, tries for a
moment to deliver queued reports, and exits 0.
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
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from broadcaster import __version__
from broadcaster.agent.clock import ServerClock
from broadcaster.agent.conductor import Conductor, Timing
from broadcaster.agent.config import AgentConfig
from broadcaster.agent.download import AudioFetcher
from broadcaster.agent.health import HealthWatch
from broadcaster.agent.intake import Intake
from broadcaster.agent.players import create_player
from broadcaster.agent.pull import PullLoop
from broadcaster.agent.reporting import Reporter, ServerClient, local_time, run_heartbeats
from broadcaster.agent.retry import Backoff
from broadcaster.agent.store import AgentStore
from broadcaster.delivery.agent_auth import agent_signing_key
from broadcaster.delivery.keys import load_public_key
from broadcaster.delivery.orders import Heartbeat, OrderVerifier
from broadcaster.errors import ServiceFailure
from broadcaster.private_files import private_dir

log = logging.getLogger(__name__)
READY_FILE = "agent.json"
STATUS_FILE = "status.json"
CLOCK_OFFSET_KEY = "clock_offset_s"
# Finished orders are forgotten this long after they expired; seq keeps guarding replays.
KEEP_FINISHED_S = 30 * 24 * 3600
FINAL_FLUSH_S = 2.0


class AgentStartFailed(ServiceFailure):
    """The agent could not start (port taken, state dir not writable, ...)."""

    code = "agent_start_failed"


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
    key = agent_signing_key(secret)
    player = create_player(config.player, volume=config.volume, **config.player_options)
    try:
        private_dir(config.state_dir)  # orders and audio of this cluster: for this account only
        store = AgentStore(config.state_dir / "agent.sqlite3")
    except OSError as error:
        raise AgentStartFailed(f"Không ghi được thư mục trạng thái {config.state_dir}.", detail=str(error)) from None
    store.prune(time.time() - KEEP_FINISHED_S)
    skew = config.clock_skew_s
    clock = ServerClock(float(store.meta(CLOCK_OFFSET_KEY) or 0.0),
                        local=(lambda: time.time() + skew) if skew else time.time)
    sock = _listen(config.host, config.port) if config.transport == "http" else None
    ready_file = config.state_dir / READY_FILE
    backoff = Backoff(config.retry_initial_s, config.retry_max_s)
    try:
        async with httpx.AsyncClient(timeout=config.request_timeout_s) as http:
            server = ServerClient(http, config.server_url, config.cluster_id, key, clock)
            reporter = Reporter(store, server, config.cluster_id, backoff)
            fetcher = AudioFetcher(config.state_dir / "audio", http, backoff)
            conductor = Conductor(
                store=store, fetcher=fetcher, player=player,
                reporter=reporter, timing=Timing(config.prepare_lead_s, config.start_lead_s), clock=clock,
            )
            health = HealthWatch(config.state_dir, store, fetcher, reporter, min_free_bytes=config.min_free_disk_bytes)
            intake = Intake(cluster_id=config.cluster_id, verifier=verifier, store=store, reporter=reporter,
                            conductor=conductor, clock=clock)

            def heartbeat() -> Heartbeat:
                now_playing = conductor.now_playing()
                state = health.check()
                return Heartbeat(
                    cluster_id=config.cluster_id, at=local_time(clock.now()),
                    status="playing" if now_playing else "idle",
                    volume=conductor.volume if conductor.volume is not None else config.volume, version=__version__,
                    now_playing=now_playing, queue_length=conductor.queue_length(), last_seq=store.last_seq(),
                    reports_pending=store.outbox_count(), health=state.status, problems=state.problems,
                    free_disk_bytes=state.free_disk_bytes, transport=config.transport, clock=clock.estimate(),
                )

            def status() -> dict[str, Any]:
                return {**heartbeat().model_dump(mode="json"), "player": config.player, "queue": conductor.queue(),
                        "clock_synced": clock.synced}

            def keep_status() -> None:
                _write_atomically(config.state_dir / STATUS_FILE, json.dumps(status(), ensure_ascii=False))
                store.set_meta(CLOCK_OFFSET_KEY, repr(clock.offset_s))

            stopping = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, stopping.set)
            await conductor.resume()
            helpers = [asyncio.create_task(reporter.run(), name="reports"),
                       asyncio.create_task(run_heartbeats(server, config.heartbeat_interval_s, heartbeat,
                                                          on_delivered=reporter.server_reachable),
                                           name="heartbeats"),
                       asyncio.create_task(_every(config.heartbeat_interval_s, keep_status), name="status")]
            receiver, stop_receiver, ready = await _start_receiver(config, sock, intake, status, backoff, clock)
            ready_file.write_text(json.dumps({"pid": os.getpid(), "cluster_id": config.cluster_id,
                                              "transport": config.transport, **ready}), encoding="utf-8")
            log.info("agent %s for cluster %s receiving orders over %s (player %s)", __version__, config.cluster_id,
                     config.transport, config.player)
            stop_wait = asyncio.create_task(stopping.wait())
            await asyncio.wait([stop_wait, receiver], return_when=asyncio.FIRST_COMPLETED)
            log.info("shutting down")
            stop_wait.cancel()
            await stop_receiver()
            if receiver.done() and not receiver.cancelled() and receiver.exception() is not None:
                log.error("order receiver stopped: %r", receiver.exception())
            await conductor.shutdown()
            await _final_flush(reporter)
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            keep_status()
    finally:
        ready_file.unlink(missing_ok=True)
        if sock is not None:
            sock.close()
        store.close()


Receiver = tuple["asyncio.Task[Any]", Callable[[], Awaitable[None]], dict[str, Any]]


async def _start_receiver(config: AgentConfig, sock: socket.socket | None, intake: Intake,
                          status: Callable[[], dict[str, Any]], backoff: Backoff, clock: ServerClock) -> Receiver:
    """Start taking orders over the configured transport: its task, how to stop it, what agent.json adds."""
    if config.transport == "http":
        from broadcaster.agent.app import agent_web_server  # only http agents load the web stack

        assert sock is not None
        web = agent_web_server(intake, status)
        task = asyncio.create_task(web.serve(sockets=[sock]), name="http")
        while not web.started and not task.done():
            await asyncio.sleep(0.01)
        if not web.started:
            await task  # re-raises what stopped it
            raise AgentStartFailed("Máy chủ HTTP của cụm loa không khởi động được.")

        async def stop_web() -> None:
            web.should_exit = True
            await asyncio.gather(task, return_exceptions=True)

        return task, stop_web, {"host": config.host, "port": sock.getsockname()[1]}
    if config.transport == "mqtt":
        from broadcaster.agent.mqtt import MqttReceiver

        assert config.mqtt is not None
        mqtt = MqttReceiver(config.cluster_id, config.mqtt, config.report_secret(), intake, backoff)
        task = asyncio.create_task(mqtt.run(), name="mqtt")
    else:
        # One connection of its own: the poll holds it while reports and heartbeats use the other client.
        pull_http = httpx.AsyncClient(limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
                                      timeout=config.request_timeout_s)
        server = ServerClient(pull_http, config.server_url, config.cluster_id, agent_signing_key(config.report_secret()),
                              clock)
        task = asyncio.create_task(PullLoop(server, intake, backoff, config.pull_wait_s).run(), name="pull")
        task.add_done_callback(lambda _task: asyncio.ensure_future(pull_http.aclose()))

    async def cancel() -> None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    return task, cancel, {}


async def _every(interval_s: float, action: Callable[[], None]) -> None:
    while True:
        try:
            action()
        except OSError as error:
            log.warning("could not write the status file: %r", error)
        await asyncio.sleep(interval_s)


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


async def _final_flush(reporter: Reporter) -> None:
    # Try briefly to deliver what is queued; whatever is left waits on disk for the next start.
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(FINAL_FLUSH_S):
            while await reporter.flush_once():
                pass
