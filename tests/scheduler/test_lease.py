"""The scheduler lease: taken by one process at a time, renewed, lost on expiry, released on shutdown."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

from broadcaster.db import Database, utc_now
from broadcaster.models import SchedulerLease
from broadcaster.node_identity import claim_node_identity
from broadcaster.scheduler import Lease
from broadcaster.scheduler.lease import new_holder_id
from tests.scheduler.support import make_database, make_settings


def database(tmp_path: Path) -> Database:
    return make_database(make_settings(tmp_path))


def test_only_one_holder_and_a_standby_takes_over_after_release(tmp_path: Path) -> None:
    db = database(tmp_path)
    first, second = Lease(db, 30, holder="first"), Lease(db, 30, holder="second")
    assert first.try_acquire() is True
    assert second.try_acquire() is False
    assert second.renew() is False
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
    assert last_alive is not None and first.previous is None and first.last_alive() is None
    assert not first.renew() and not first.try_acquire()


def contend(lease: Lease, barrier: threading.Barrier, won: list[str], answers: list[object]) -> None:
    barrier.wait()
    answer = lease.try_acquire()
    answers.append(answer)
    if answer:
        won.append(lease.holder)


def test_many_processes_racing_for_a_free_or_expired_lease_let_exactly_one_win(tmp_path: Path) -> None:
    db = database(tmp_path)
    for round_ in range(2):  # round 0: no row yet (INSERT race); round 1: an expired row (UPDATE race)
        # A long TTL: on a busy machine the race may take seconds, and the winner must still hold it after.
        contenders = [Lease(Database(db.url), 300, holder=f"r{round_}-{i}") for i in range(8)]
        barrier = threading.Barrier(len(contenders))
        won: list[str] = []
        answers: list[object] = []
        threads = [threading.Thread(target=contend, args=(lease, barrier, won, answers)) for lease in contenders]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(won) == 1, won
        assert sorted(answers, key=str) == [False] * 7 + [True]  # a lost INSERT race says False too
        state = contenders[0].state()
        assert state is not None and state.holder == won[0]
        with db.session() as s:  # the winner dies: its lease expires for the next round
            s.get_one(SchedulerLease, contenders[0].name).expires_at = utc_now() - timedelta(seconds=1)


def test_a_restarted_node_takes_its_own_lease_back_at_once_and_another_node_still_waits(tmp_path: Path) -> None:
    db = database(tmp_path)
    node = claim_node_identity(tmp_path / "node-a")
    try:
        assert node.stable
        # The node's previous life (another pid, same node id) held the lease and was killed.
        previous_life = Lease(db, 300, holder=f"host:4242:{node.node_id}")
        assert previous_life.try_acquire()
        other_node = claim_node_identity(tmp_path / "node-b")
        assert not Lease(db, 300, node=other_node).try_acquire()  # a different node waits out the TTL
        restarted = Lease(db, 300, node=node)
        assert restarted.try_acquire()
        assert restarted.previous is not None and restarted.previous.holder == previous_life.holder
        assert restarted.last_alive() is not None  # the sessions missed while it was down get planned
        assert not previous_life.renew()
    finally:
        node.release()


def test_a_second_process_on_a_data_dir_in_use_is_a_different_node(tmp_path: Path) -> None:
    first = claim_node_identity(tmp_path / "data")
    try:
        second = claim_node_identity(tmp_path / "data")  # the lock is held: not the same node
        assert not second.stable and second.node_id != first.node_id
        db = database(tmp_path)
        assert Lease(db, 300, node=first).try_acquire()
        assert not Lease(db, 300, node=second).try_acquire()
        assert not second.owns(first.holder_id())
    finally:
        first.release()
    again = claim_node_identity(tmp_path / "data")  # released (as a dead process's lock is)
    assert again.stable and again.node_id == first.node_id
    again.release()


def test_the_last_renewal_of_the_holder_taken_over_is_known_and_a_lease_held_again_took_over_nobody(
    tmp_path: Path,
) -> None:
    db = database(tmp_path)
    first, second = Lease(db, 30, holder="first"), Lease(db, 30, holder="second")
    before = utc_now()
    assert first.try_acquire()
    after = utc_now()
    held = first.state()
    assert held is not None and held.holder == "first"
    assert before + timedelta(seconds=30) <= held.expires_at <= after + timedelta(seconds=30)
    assert first.try_acquire() and first.previous is None and first.last_alive() is None  # its own lease
    assert first.renew()
    renewed = first.state()
    assert renewed is not None and renewed.expires_at >= held.expires_at
    first.release()
    released = first.state()
    assert released is not None and released.expires_at <= utc_now()
    assert second.try_acquire()
    # first last renewed when it released: its expiry then, minus the TTL it renews by.
    assert second.last_alive() == released.expires_at - timedelta(seconds=30)


def test_leases_of_other_names_are_separate_rows(tmp_path: Path) -> None:
    db = database(tmp_path)
    other = Lease(db, 30, holder="other", name="cleanup")
    assert other.try_acquire()
    first = Lease(db, 30, holder="first")
    assert first.try_acquire()  # the first row of its name, beside another name's
    assert not Lease(db, 30, holder="second").try_acquire()
    assert not Lease(db, 30, holder="standby", name="cleanup").try_acquire()
    first.release()
    assert other.is_held() and other.renew()
    assert Lease(db, 30, holder="second").try_acquire()
    state = other.state()
    assert state is not None and state.holder == "other" and state.expires_at > utc_now()


def test_a_lease_held_under_the_stored_name_by_an_earlier_release_keeps_a_new_one_out(tmp_path: Path) -> None:
    # The name is in the database: a node of the previous release, mid-upgrade, holds it by that name.
    db = database(tmp_path)
    with db.session() as s:
        s.add(SchedulerLease(name="broadcast-scheduler", holder="old-release", expires_at=utc_now() + timedelta(minutes=5)))
    assert not Lease(db, 30, holder="new-release").try_acquire()


def test_each_process_start_has_a_holder_id_of_its_own() -> None:
    first, second = new_holder_id(), new_holder_id()
    assert isinstance(first, str) and first and first != second
