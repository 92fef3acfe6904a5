"""Who may sound now. One cluster has one set of horns: one playback at a time.

Orders that want the horns while they are busy wait their turn: emergencies first, then
``priority``, then ``normal``; within a rank the earlier ``play_at``, then the lower seq. An
emergency does not wait for a non-emergency: it asks the current playback to stop ("preempted")
and takes the horns as soon as the player lets go (one 20–100 ms chunk).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from broadcaster.agent.players.base import Playback
from broadcaster.delivery.orders import PlayOrder, Priority

_RANK = {Priority.EMERGENCY: 0, Priority.PRIORITY: 1, Priority.NORMAL: 2}


@dataclass(eq=False)
class Turn:
    """An order holding, or waiting for, the horns."""

    order: PlayOrder
    playback: Playback

    def key(self) -> tuple[int, float, int]:
        """Sort key: who goes first among waiters."""
        return _RANK[self.order.priority], self.order.play_at.timestamp(), self.order.seq

    def preempts(self, other: Turn) -> bool:
        """Whether this turn may interrupt ``other``: only an emergency, and never another emergency."""
        return self.order.priority is Priority.EMERGENCY and other.order.priority is not Priority.EMERGENCY


class Speaker:
    """Arbitrates the horns between the orders' tasks (all on one event loop)."""

    def __init__(self) -> None:
        self._condition = asyncio.Condition()
        self._holder: Turn | None = None
        self._waiting: list[Turn] = []

    @property
    def holder(self) -> Turn | None:
        """The turn currently holding the horns."""
        return self._holder

    @asynccontextmanager
    async def turn(self, order: PlayOrder, playback: Playback) -> AsyncIterator[None]:
        """Hold the horns for the body of the ``async with``, waiting (or pre-empting) as the rules say."""
        me = Turn(order, playback)
        async with self._condition:
            self._waiting.append(me)
            try:
                while self._holder is not None or min(self._waiting, key=Turn.key) is not me:
                    if self._holder is not None and me.preempts(self._holder):
                        self._holder.playback.request_stop("preempted")
                    await self._condition.wait()
            finally:
                self._waiting.remove(me)
                self._condition.notify_all()  # the best waiter may have changed
            self._holder = me
        try:
            yield
        finally:
            async with self._condition:
                self._holder = None
                self._condition.notify_all()
