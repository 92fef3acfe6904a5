"""The scheduler lease: taken by one process at a time, renewed, lost on expiry, released on shutdown."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from broadcaster.db import Database
from broadcaster.scheduler import Lease
from tests.scheduler.support import make_database, make_settings


def database(tmp_path: Path) -> Database:
    return make_database(make_settings(tmp_path))


def test_only_one_holder_and_a_standby_takes_over_after_release(tmp_path: Path) -> None:
    db = database(tmp_path)
    first, second = Lease(db, 30, holder="first"), Lease(db, 30, holder="second")
    assert first.try_acquire()
    assert not second.try_acquire()
    assert not second.renew()
    assert first.renew() and first.is_held() and not second.is_held()
    first.release()
    assert not first.is_held()
    assert second.try_acquire()
    assert second.previous is not None and second.previous.holder == "first"
    assert not first.renew()  # the old holder learns it lost the lease


def test_an_expired_lease_passes_to_the_standby_and_the_old_holder_cannot_renew(tmp_path: Path) -> None:
    db = database(tmp_path)
    first, second = Lease(db, 0.4, holder="first"), Lease(db, 0.4, holder="second")
    assert first.try_acquire()
    time.sleep(0.5)  # first stops renewing, as a killed process would
    assert not first.is_held()
    assert second.try_acquire()
    last_alive = second.last_alive()
    assert last_alive is not None and first.previous is None
    assert not first.renew() and not first.try_acquire()


def contend(lease: Lease, barrier: threading.Barrier, won: list[str]) -> None:
    barrier.wait()
    if lease.try_acquire():
        won.append(lease.holder)


def test_many_processes_racing_for_a_free_or_expired_lease_let_exactly_one_win(tmp_path: Path) -> None:
    db = database(tmp_path)
    for round_ in range(2):  # round 0: no row yet (INSERT race); round 1: an expired row (UPDATE race)
        contenders = [Lease(Database(db.url), 0.5, holder=f"r{round_}-{i}") for i in range(8)]
        barrier = threading.Barrier(len(contenders))
        won: list[str] = []
        threads = [threading.Thread(target=contend, args=(lease, barrier, won)) for lease in contenders]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(won) == 1, won
        state = contenders[0].state()
        assert state is not None and state.holder == won[0]
        time.sleep(0.6)  # let it expire for the next round
