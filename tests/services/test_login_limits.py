"""Failed logins slow down per (account, address) and per address, never lock an account, and are counted
in the database: every replica shares them (real SQLite and PostgreSQL, a clock the test moves)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from broadcaster.clock import FixedClock
from broadcaster.db import Database
from broadcaster.models import LoginThrottle
from broadcaster.services.auth import LoginFailed
from broadcaster.services.login_limits import ADDRESS_FACTOR, LoginLimiter, LoginRateLimited
from tests.databases import database_url


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = Database(database_url(tmp_path))
    db.upgrade()
    yield db
    db.dispose()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 12, 5, 8, 0, tzinfo=UTC))


def limiter_on(database: Database, clock: FixedClock, **options: float) -> LoginLimiter:
    values = {"free_failures": 3, "window_s": 900.0, "first_delay_s": 1.0, "max_delay_s": 600.0, **options}
    return LoginLimiter(database, clock=clock, **values)  # type: ignore[arg-type]


def wait_of(limiter: LoginLimiter, username: str, address: str) -> int:
    try:
        limiter.check(username, address)
    except LoginRateLimited as waiting:
        assert waiting.status == 429 and waiting.code == "login_rate_limited"
        return waiting.retry_after_s
    return 0


def test_failures_beyond_the_free_ones_wait_longer_and_longer(database: Database, clock: FixedClock) -> None:
    limiter = limiter_on(database, clock)
    waits = []
    for _ in range(12):
        limiter.failed("chutich", "203.0.113.7")
        waits.append(wait_of(limiter, "chutich", "203.0.113.7"))
        clock.advance(waits[-1])  # a patient guesser tries again as soon as allowed
    assert waits == [0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256]
    limiter.failed("chutich", "203.0.113.7")
    limiter.failed("chutich", "203.0.113.7")
    assert wait_of(limiter, "chutich", "203.0.113.7") == 600  # capped at max_delay_s
    with pytest.raises(LoginRateLimited) as waiting:
        limiter.check(" ChuTich", "203.0.113.7")  # the same account, as logins normalize it
    assert "10 phút" in waiting.value.message


def test_no_one_can_lock_the_chairman_out_from_another_address(database: Database, clock: FixedClock) -> None:
    limiter = limiter_on(database, clock)
    for _ in range(10):
        limiter.failed("chutich", "198.51.100.66")  # an attacker before the storm
    assert wait_of(limiter, "chutich", "198.51.100.66") > 0
    assert wait_of(limiter, "chutich", "10.1.1.20") == 0  # the chairman, from the commune office
    assert limiter.attempt("chutich", "10.1.1.20", lambda: "token") == "token"


def test_an_address_guessing_many_accounts_waits_for_every_account(database: Database, clock: FixedClock) -> None:
    limiter = limiter_on(database, clock)
    for index in range(3 * ADDRESS_FACTOR + 1):
        limiter.failed(f"nguoi-{index}", "198.51.100.9")
    assert wait_of(limiter, "someone-new", "198.51.100.9") == 1
    assert wait_of(limiter, "someone-new", "198.51.100.10") == 0


def test_success_clears_the_pair_and_old_failures_are_forgotten(database: Database, clock: FixedClock) -> None:
    limiter = limiter_on(database, clock)

    def wrong() -> str:
        raise LoginFailed("Tên đăng nhập hoặc mật khẩu không đúng.")

    for _ in range(3):
        with pytest.raises(LoginFailed):
            limiter.attempt("canbo", "10.0.0.1", wrong)
    assert limiter.attempt("canbo", "10.0.0.1", lambda: "token") == "token"
    assert limiter.failures("canbo", "10.0.0.1") == 0
    for _ in range(4):
        limiter.failed("canbo", "10.0.0.1")
    with pytest.raises(LoginRateLimited):  # waiting: the password is not even checked
        limiter.attempt("canbo", "10.0.0.1", lambda: pytest.fail("login ran while waiting"))
    clock.advance(901)
    assert wait_of(limiter, "canbo", "10.0.0.1") == 0
    limiter.failed("canbo", "10.0.0.1")
    assert limiter.failures("canbo", "10.0.0.1") == 1  # a stale count starts again at one
    clock.advance(900 + 601)
    limiter.failed("other", "10.0.0.2")  # any failure sweeps rows nobody failed on for a window
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(LoginThrottle)) == 2


def test_replicas_share_the_counts_and_lose_none_when_they_count_at_once(database: Database,
                                                                        clock: FixedClock) -> None:
    replicas = [limiter_on(database, clock, free_failures=100) for _ in range(4)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: replicas[i % 4].failed("canbo", "10.0.0.1"), range(80)))
    assert replicas[0].failures("canbo", "10.0.0.1") == 80
    for _ in range(21):
        replicas[1].failed("canbo", "10.0.0.1")
    assert wait_of(replicas[3], "canbo", "10.0.0.1") == 1  # one replica counted, another refuses
    with database.session() as session:
        keys = session.scalars(select(LoginThrottle.key)).all()
    assert all("canbo" not in key and len(key) == 64 for key in keys)  # hashed, not stored in clear
