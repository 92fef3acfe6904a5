"""The hand-off from planning to delivery: one rendered programme per speaker cluster.

Programming composes and renders; whatever implements ``ProgrammeHandoff`` (the delivery service
of issue 4) turns each ``ClusterProgramme`` into a signed play order. The hand-off is
at-least-once: after a crash between hand-off and the commit that records it, the same airing is
handed off again, so ``(airing_id, cluster_id)`` is the idempotency key a delivery must honour.

``RecordingHandoff`` keeps what it was given (in memory, and as JSON lines in a file if asked):
for tests, and for running the service without loudspeakers.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from broadcaster.errors import InvalidInput
from broadcaster.models import Priority

if TYPE_CHECKING:
    from broadcaster.speech import RenderedAudio

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClusterProgramme:
    """One airing's programme for one cluster: the audio, when to play it and until when it may."""

    airing_id: int
    cluster_id: int
    audio: RenderedAudio
    play_at: datetime
    expires_at: datetime
    priority: Priority

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (paths and times as strings)."""
        audio = {key: str(value) if isinstance(value, Path) else value
                 for key, value in dataclasses.asdict(self.audio).items()}  # fmt: skip
        return {
            "airing_id": self.airing_id,
            "cluster_id": self.cluster_id,
            "audio": audio,
            "play_at": self.play_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "priority": str(self.priority),
        }


class ProgrammeHandoff(Protocol):
    """What delivery offers to programming: take a programme; stop an airing (emergency cancelled).

    Called from the scheduler's worker threads (and API request threads for emergencies), so an
    implementation must be thread-safe and should queue the order rather than wait for the agent.
    """

    def hand_off(self, programme: ClusterProgramme) -> None:
        """Deliver ``programme`` to its cluster (asynchronously; errors about reaching it are delivery's)."""
        ...

    def hand_off_many(self, programmes: Sequence[ClusterProgramme], *, keep_issued: bool = False) -> dict[int, str]:
        """Deliver many programmes (a commune-wide airing); the clusters that failed, with why.

        ``keep_issued``: a cluster already holding an order for the airing keeps it (only a recall replaces).
        """
        ...

    def stop(self, airing_id: int, cluster_ids: Sequence[int]) -> None:
        """Stop ``airing_id`` on these clusters, whether it is waiting or already playing."""
        ...


def hand_off_each(handoff: ProgrammeHandoff, programmes: Sequence[ClusterProgramme]) -> dict[int, str]:
    """``hand_off_many`` for hand-offs with nothing to batch: one by one, a failure never silences the rest."""
    failed: dict[int, str] = {}
    for programme in programmes:
        try:
            handoff.hand_off(programme)
        except Exception as error:  # noqa: BLE001 - one cluster's failure must not keep the others silent
            log.exception("hand-off of airing %s to cluster %s failed", programme.airing_id, programme.cluster_id)
            failed[programme.cluster_id] = str(error) or type(error).__name__
    return failed


class UnknownHandoff(InvalidInput):
    """The ``handoff`` setting names no hand-off we know."""

    code = "handoff_unknown"


class RecordingHandoff:
    """Keeps every call; with a path, also appends each one as a JSON line (fsynced) to that file."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.programmes: list[ClusterProgramme] = []
        self.stops: list[tuple[int, tuple[int, ...]]] = []
        self._lock = threading.Lock()  # compositions run in several scheduler threads
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    def hand_off(self, programme: ClusterProgramme) -> None:
        """Record the programme."""
        with self._lock:
            self.programmes.append(programme)
            self._append({"event": "hand_off", **programme.to_json()})
        log.info("programme of airing %s for cluster %s handed off (play at %s)",
                 programme.airing_id, programme.cluster_id, programme.play_at.isoformat())  # fmt: skip

    def hand_off_many(self, programmes: Sequence[ClusterProgramme], *, keep_issued: bool = False) -> dict[int, str]:
        """Record each programme (``keep_issued`` changes nothing here: every call is recorded)."""
        return hand_off_each(self, programmes)

    def stop(self, airing_id: int, cluster_ids: Sequence[int]) -> None:
        """Record the stop."""
        with self._lock:
            self.stops.append((airing_id, tuple(cluster_ids)))
            self._append({"event": "stop", "airing_id": airing_id, "cluster_ids": list(cluster_ids)})

    def _append(self, record: dict[str, Any]) -> None:
        if self.path is None:
            return
        # One write per line plus fsync: a reader in another process never sees half a record
        # that later vanishes, even if this process is killed right after.
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


def read_records(path: Path) -> list[dict[str, Any]]:
    """The JSON lines a ``RecordingHandoff`` wrote to ``path`` (none if the file does not exist)."""
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def handoff_from_spec(spec: str) -> ProgrammeHandoff:
    """Build the hand-off the ``handoff`` setting names: ``record`` or ``record:/path/to/file.jsonl``."""
    kind, _, argument = spec.partition(":")
    if kind == "record":
        return RecordingHandoff(Path(argument) if argument else None)
    raise UnknownHandoff(
        f"Không biết cách chuyển chương trình «{spec}»; dùng «record» hoặc «record:/đường/dẫn.jsonl».",
        detail=f"handoff={spec!r}",
    )
