"""The previews' lane: bounded per person and in total, refused at once beyond, run at a lower CPU priority."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator

import pytest

from broadcaster.render_lanes import PREVIEW_NICE, PreviewLane, PreviewLimitReached, RenderBusy
from tests.fakes.held_renders import Held


@pytest.fixture
def held() -> Iterator[Held]:
    lane = PreviewLane(workers=1, per_user=2, queue=2)
    hold = Held(lane)
    yield hold
    hold.close()
    lane.close()


def test_one_person_gets_at_most_per_user_previews(held: Held) -> None:
    first, second = held.start("7"), held.start("7")
    with pytest.raises(PreviewLimitReached) as refused:
        held.lane.run("7", lambda: "never")
    assert refused.value.status == 429 and refused.value.retry_after_s > 0
    assert held.lane.admitted == 2
    held.release.set()
    assert (first.result(5), second.result(5)) == ("7", "7")
    assert held.lane.run("7", lambda: "again") == "again"  # the slots came back


def test_the_lane_refuses_at_once_when_every_slot_is_taken(held: Held) -> None:
    running = [held.start(user) for user in ("1", "2", "3")]  # one rendering, two waiting: capacity 3
    with pytest.raises(RenderBusy) as busy:
        held.lane.run("4", lambda: "never")
    assert busy.value.status == 503 and busy.value.code == "render_busy" and busy.value.retry_after_s > 0
    held.release.set()
    assert sorted(f.result(5) for f in running) == ["1", "2", "3"]


def test_previews_and_the_processes_they_start_run_at_a_lower_priority() -> None:
    lane = PreviewLane(workers=1)
    try:
        def measure() -> tuple[int, str]:
            child = subprocess.run(["nice"], capture_output=True, text=True, check=True).stdout.strip()
            return os.getpriority(os.PRIO_PROCESS, threading.get_native_id()), child

        base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        thread_nice, child_nice = lane.run("1", measure)
        assert thread_nice == min(19, base + PREVIEW_NICE) and int(child_nice) == thread_nice
        assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == base  # the caller is untouched
    finally:
        lane.close()
