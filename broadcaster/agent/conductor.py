"""Carries out accepted orders: one asyncio task per order.

A play order's task: download (resumable, checked) → report ``downloaded`` → decode a little
before ``play_at`` (re-checking sha256 on the very bytes decoded) → take the horns
(``Speaker``) → the player thread fine-waits for ``play_at`` and plays → ``played``, or
``failed`` with a reason (preempted, stopped, cancelled, interrupted, audio_*), or ``missed``
once ``expires_at`` has passed. Audio damaged on the card after it was downloaded is fetched
again, as long as the order has not expired. A stop order's task waits for its ``play_at``, then stops the
playing order of its airing and cancels the pending ones issued before it (a play order with a
higher seq is the airing's replacement programme, which the server sends right after the stop). Every step is persisted, so after a
restart ``resume`` picks each unfinished order up where it stood.

Orders speak server time; the waits and the player use this box's clock, converted through the
``ServerClock`` right before each wait, so a box whose clock is 30 s off still starts on time.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID

from broadcaster.agent.clock import ServerClock
from broadcaster.agent.download import AudioFetcher, AudioMismatch
from broadcaster.agent.players.base import LoadedAudio, Playback, Player
from broadcaster.agent.reporting import Reporter, local_time
from broadcaster.agent.speaker import Speaker
from broadcaster.agent.store import AgentStore, OrderState
from broadcaster.delivery.orders import NowPlaying, OrderKind, PlayOrder, ReportStage
from broadcaster.errors import BroadcasterError
from broadcaster.faults import crash_point

log = logging.getLogger(__name__)

REASON_MESSAGES = {
    "expired": "Quá hạn phát trước khi kịp phát.",
    "preempted": "Bị ngắt để phát tin khẩn cấp.",
    "stopped": "Đã dừng theo lệnh dừng của máy chủ.",
    "cancelled": "Đã hủy theo lệnh dừng của máy chủ trước khi phát.",
    "interrupted": "Bị gián đoạn vì cụm loa tắt hoặc khởi động lại.",
    "agent_error": "Lỗi trong phần mềm cụm loa.",
}
_STAGE_OF = {
    OrderState.PLAYED: ReportStage.PLAYED,
    OrderState.FAILED: ReportStage.FAILED,
    OrderState.MISSED: ReportStage.MISSED,
    OrderState.APPLIED: ReportStage.APPLIED,
}


@dataclass(frozen=True)
class Timing:
    """How long before ``play_at`` the agent decodes, and hands over to the player's fine wait."""

    prepare_lead_s: float = 5.0
    start_lead_s: float = 0.5


@dataclass(eq=False)
class _Job:
    order: PlayOrder
    state: OrderState
    playback: Playback
    task: asyncio.Task[None] | None = None
    playing: bool = False  # the player thread owns it: stop through the playback, not the task
    cancel_reason: str | None = None


class Conductor:
    """Schedules, plays and reports every accepted order."""

    def __init__(self, *, store: AgentStore, fetcher: AudioFetcher, player: Player, reporter: Reporter,
                 timing: Timing, clock: ServerClock) -> None:
        self._clock = clock
        self._store = store
        self._fetcher = fetcher
        self._player = player
        self._reporter = reporter
        self._timing = timing
        self._speaker = Speaker()
        self._jobs: dict[UUID, _Job] = {}
        self.volume: int | None = None  # the volume the server last set in an order, once one played

    # --- lifecycle ---------------------------------------------------------------------------

    def submit(self, order: PlayOrder) -> None:
        """Start carrying out a freshly accepted (and stored) order."""
        self._spawn(order, OrderState.RECEIVED)

    async def resume(self) -> None:
        """After a start: pick up every unfinished order from the store."""
        for stored in self._store.active_orders():
            if stored.state is OrderState.PLAYING:
                # We died while it sounded: its airing is broken, say so rather than replay half of it.
                self._finish_order(stored.order, OrderState.FAILED, "interrupted")
            else:
                log.info("resuming order %s (%s)", stored.order.order_id, stored.state.value)
                self._spawn(stored.order, stored.state)
        self._fetcher.discard_unused(self._store.audio_in_use())

    async def shutdown(self, grace_s: float = 3.0) -> None:
        """Stop what plays (reported ``interrupted``); leave pending orders stored for the restart."""
        playing = [job for job in self._jobs.values() if job.playing and job.task]
        for job in playing:
            job.playback.request_stop("interrupted")
        if playing:
            await asyncio.wait([job.task for job in playing if job.task], timeout=grace_s)
        rest = [job.task for job in self._jobs.values() if job.task and not job.task.done()]
        for task in rest:
            task.cancel()
        await asyncio.gather(*rest, return_exceptions=True)

    # --- what the status endpoint and heartbeats show ---------------------------------------

    def now_playing(self) -> NowPlaying | None:
        """The order sounding right now, if any."""
        holder = self._speaker.holder
        if holder is None or holder.playback.started_at is None or holder.playback.ended_at is not None:
            return None
        return NowPlaying(order_id=holder.order.order_id, airing_id=holder.order.airing_id,
                          priority=holder.order.priority,
                          started_at=local_time(self._clock.to_server(holder.playback.started_at)))

    def queue_length(self) -> int:
        """Orders accepted and not finished."""
        return len(self._jobs)

    def queue(self) -> list[dict[str, Any]]:
        """The unfinished orders, soonest first, as plain data."""
        jobs = sorted(self._jobs.values(), key=lambda job: (job.order.play_at, job.order.seq))
        return [{"order_id": str(job.order.order_id), "seq": job.order.seq, "airing_id": job.order.airing_id,
                 "kind": job.order.kind.value, "priority": job.order.priority.value,
                 "play_at": job.order.play_at.isoformat(), "state": "playing" if job.playing else job.state.value}
                for job in jobs]

    # --- the tasks ---------------------------------------------------------------------------

    def _spawn(self, order: PlayOrder, state: OrderState) -> None:
        loop = asyncio.get_running_loop()

        def on_start(at: float) -> None:  # called in the player's thread
            loop.call_soon_threadsafe(partial(self._reporter.report, ReportStage.PLAYING, order, started_at=at))

        job = _Job(order, state, Playback(str(order.order_id), self._clock.to_local(order.play_at.timestamp()),
                                          on_start, clock=self._clock.local_now))
        self._jobs[order.order_id] = job
        job.task = asyncio.create_task(self._run(job), name=f"order-{order.order_id}")

    async def _run(self, job: _Job) -> None:
        try:
            if job.order.kind is OrderKind.STOP:
                await self._run_stop(job)
            else:
                await self._run_play(job)
        except asyncio.CancelledError:
            if job.cancel_reason is None:
                raise  # shutdown: the order stays stored as it was, and resumes at the next start
            self._finish(job, OrderState.FAILED, job.cancel_reason)
        except Exception:
            log.exception("order %s failed inside the agent", job.order.order_id)
            self._finish(job, OrderState.FAILED, "agent_error")
        finally:
            self._jobs.pop(job.order.order_id, None)

    async def _run_play(self, job: _Job) -> None:
        order = job.order
        assert order.audio_url and order.audio_sha256 and order.audio_size
        if self._expired(order):
            return self._finish(job, OrderState.MISSED, "expired")
        try:
            path = await self._fetcher.fetch(order.audio_url, order.audio_sha256, order.audio_size,
                                             deadline=time.time() + order.expires_at.timestamp() - self._clock.now())
        except BroadcasterError as error:  # AudioMismatch, DownloadFailed
            return self._finish(job, OrderState.FAILED, error.code, error.message)
        if job.state is OrderState.RECEIVED:
            job.state = OrderState.DOWNLOADED
            self._store.set_state(order, OrderState.DOWNLOADED)
            self._reporter.report(ReportStage.DOWNLOADED, order)
        crash_point("downloaded")
        await self._sleep_until(order.play_at.timestamp() - self._timing.prepare_lead_s)
        try:
            audio = await self._load_checked(order, path)
        except BroadcasterError as error:  # AudioMismatch past expiry, UnreadableAudio, DownloadFailed
            return self._finish(job, OrderState.FAILED, error.code, error.message)
        await self._sleep_until(order.play_at.timestamp() - self._timing.start_lead_s)
        async with self._speaker.turn(order, job.playback):
            if self._expired(order):
                return self._finish(job, OrderState.MISSED, "expired")
            # Late (the horns were busy, or the download was slow) but not expired: play at once.
            job.playback.start_at = max(self._clock.to_local(order.play_at.timestamp()), self._clock.local_now())
            job.playing = True
            self._store.set_state(order, OrderState.PLAYING)
            asyncio.get_running_loop().run_in_executor(None, crash_point, "playing")
            try:
                await asyncio.to_thread(self._player.play, audio, job.playback)
            except BroadcasterError as error:  # PlayerError
                return self._finish(job, OrderState.FAILED, error.code, error.message)
        playback = job.playback
        if playback.completed:
            return self._finish(job, OrderState.PLAYED, started=playback.started_at, ended=playback.ended_at)
        reason = playback.stop_reason or "interrupted"
        if playback.started_at is None and reason == "stopped":
            reason = "cancelled"
        self._finish(job, OrderState.FAILED, reason, started=playback.started_at, ended=playback.ended_at)

    async def _run_stop(self, job: _Job) -> None:
        await self._sleep_until(job.order.play_at.timestamp())
        hit = 0
        for other in list(self._jobs.values()):
            if other is job or other.order.kind is not OrderKind.PLAY or other.order.airing_id != job.order.airing_id:
                continue
            if other.order.seq > job.order.seq:
                continue  # issued after the stop: the airing's replacement programme, not what it withdraws
            hit += 1
            if other.playing:
                other.playback.request_stop("stopped")
            elif other.task is not None:
                other.cancel_reason = "cancelled"
                other.task.cancel()
        self._finish(job, OrderState.APPLIED, message=f"Đã dừng/hủy {hit} lệnh phát của buổi phát này.")

    async def _load_checked(self, order: PlayOrder, path: Path) -> LoadedAudio:
        """Decode the stored audio; if it was damaged on the card since, download it again while the order lasts."""
        assert order.audio_url and order.audio_sha256 and order.audio_size
        while True:
            try:
                return await asyncio.to_thread(self._load, path, order.audio_sha256, order.volume)
            except AudioMismatch:
                if self._expired(order):
                    raise
                log.warning("stored audio of order %s was damaged on disk: downloading it again", order.order_id)
                path.unlink(missing_ok=True)
                path = await self._fetcher.fetch(order.audio_url, order.audio_sha256, order.audio_size,
                                                 deadline=order.expires_at.timestamp())

    def _load(self, path: Path, sha256: str, volume: int | None) -> LoadedAudio:
        # Check the very bytes we decode: nothing unchecked reaches the horns, even if the file changed.
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != sha256:
            raise AudioMismatch("Tệp âm thanh đã tải bị thay đổi trên đĩa; không phát.", detail=str(path))
        if volume is not None:
            self.volume = volume
        return self._player.load(data, volume)

    def _expired(self, order: PlayOrder) -> bool:
        return self._clock.now() > order.expires_at.timestamp()

    async def _sleep_until(self, server_unix: float) -> None:
        delay = self._clock.to_local(server_unix) - self._clock.local_now()
        if delay > 0:
            await asyncio.sleep(delay)

    def _finish(self, job: _Job, state: OrderState, reason: str | None = None, message: str | None = None,
                *, started: float | None = None, ended: float | None = None) -> None:
        job.state = state
        self._finish_order(job.order, state, reason, message, started=started, ended=ended)

    def _finish_order(self, order: PlayOrder, state: OrderState, reason: str | None = None,
                      message: str | None = None, *, started: float | None = None, ended: float | None = None) -> None:
        self._store.set_state(order, state, reason)
        self._reporter.report(_STAGE_OF[state], order, reason=reason,
                              message=message or REASON_MESSAGES.get(reason or ""), started_at=started, ended_at=ended)
        if order.kind is OrderKind.PLAY:
            self._fetcher.discard_unused(self._store.audio_in_use())
