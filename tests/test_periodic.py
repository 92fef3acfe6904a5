"""``Periodic``: work called again and again in its own thread, from start to close."""

from __future__ import annotations

import threading

from broadcaster.periodic import Periodic


def test_work_runs_repeatedly_in_its_thread_and_stops_at_close() -> None:
    calls: list[str] = []
    third = threading.Event()

    def work() -> None:
        calls.append(threading.current_thread().name)
        if len(calls) >= 3:
            third.set()

    periodic = Periodic(work, 0.01, name="thu-dinh-ky")
    periodic.start()
    periodic.start()  # a second start does not add a thread
    assert third.wait(30)
    periodic.close()
    assert set(calls) == {"thu-dinh-ky"}
    assert not any(t.name == "thu-dinh-ky" for t in threading.enumerate())  # the thread ended: no call after


def test_close_before_the_first_interval_calls_nothing() -> None:
    calls: list[int] = []
    periodic = Periodic(lambda: calls.append(1), 3600.0, name="thu-dong-som")
    periodic.start()
    periodic.close()  # does not wait out the hour
    assert calls == []
