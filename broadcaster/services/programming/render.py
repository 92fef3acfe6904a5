"""Rendering programmes that fit their session: exact durations first, then a check on the real render.

The chimes and pauses around the speech take a few seconds that only the rendered file tells
exactly. The fit reserves ``overhead_s`` for them, learned from the last render; if a render still
comes out longer than the session, the reserve grows to what was measured and the programme is
fitted again (so a full session costs at most one extra render).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from broadcaster.errors import BroadcasterError, InvalidInput
from broadcaster.models import Cluster
from broadcaster.services.programming.plan import Candidate, ClusterPlan, plan_clusters

if TYPE_CHECKING:
    from broadcaster.speech import RenderedAudio, SpeechService

FIT_TOLERANCE_S = 0.05  # encoder frame rounding: not worth a second render
DEFAULT_OVERHEAD_S = 6.0  # chimes and pauses, until the first render measures them


class ProgrammeDoesNotFit(BroadcasterError):
    """Refitting did not converge: a bug, since dropping bulletins always shortens a programme."""

    code = "programme_does_not_fit"


class ProgrammeRenderer:
    """Durations and fitted renders through one SpeechService; remembers the chime/pause overhead."""

    def __init__(self, speech: SpeechService, overhead_s: float = DEFAULT_OVERHEAD_S) -> None:
        self.speech = speech
        self.overhead_s = overhead_s
        self._lock = threading.Lock()  # session jobs run in several threads

    def durations(self, candidates: Sequence[Candidate]) -> tuple[dict[int, float], dict[int, str]]:
        """Exact length of each candidate with its repeats; and the ones that cannot be rendered, with why.

        A bulletin that is itself at fault (its recording is gone, its text cannot be spoken) is
        left out; a failure on our side (no engine speaks, ffmpeg broke) raises: the whole session
        is retried rather than aired without its bulletins.
        """
        durations: dict[int, float] = {}
        failures: dict[int, str] = {}
        for candidate in candidates:
            try:
                durations[candidate.bulletin_id] = self.speech.piece_duration_s(candidate.piece())
            except InvalidInput as error:
                failures[candidate.bulletin_id] = f"[{error.code}] {error.message}"
        return durations, failures

    def estimate_s(self, candidate: Candidate) -> float:
        """A quick length estimate for planning views: the known spoken length, or one from the text."""
        if candidate.spoken_duration_s is not None:
            return candidate.spoken_duration_s * candidate.repeat
        if candidate.text is not None:
            return self.speech.estimate_duration_s(candidate.text, commune_id=candidate.commune_id) * candidate.repeat
        return self.speech.piece_duration_s(candidate.piece())

    def fit_and_render(
        self, clusters: Sequence[Cluster], candidates: Sequence[Candidate], durations: dict[int, float], cap_s: float
    ) -> tuple[list[ClusterPlan], dict[tuple[int, ...], RenderedAudio]]:
        """Each cluster's plan and one render per distinct programme, every render within ``cap_s``."""
        pieces = {c.bulletin_id: c.piece() for c in candidates}
        renders: dict[tuple[int, ...], RenderedAudio] = {}
        for _attempt in range(len(candidates) + 2):
            plans = plan_clusters(clusters, candidates, durations, cap_s - self._overhead())
            keys = {plan.key for plan in plans if plan.included}
            for key in keys - renders.keys():
                renders[key] = self.speech.render_programme([pieces[i] for i in key], chime=True)
            if not keys:
                return plans, renders
            measured = max(renders[k].duration_s - sum(durations[i] for i in k) for k in keys)
            fits = all(renders[k].duration_s <= cap_s + FIT_TOLERANCE_S for k in keys)
            with self._lock:
                # Fitting: learn the overhead as measured. Too long: reserve what was measured, then refit.
                self.overhead_s = measured if fits else max(self.overhead_s, measured) + FIT_TOLERANCE_S
            if fits:
                return plans, renders
        raise ProgrammeDoesNotFit(
            "Không xếp được chương trình vừa thời lượng buổi phát.", detail=f"cap {cap_s}s, overhead {self.overhead_s}s"
        )

    def _overhead(self) -> float:
        with self._lock:
            return self.overhead_s
