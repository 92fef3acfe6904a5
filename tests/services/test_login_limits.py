"""The failed-login limit per user name and client address, on a clock the test moves."""

from __future__ import annotations

import pytest

from broadcaster.services.auth import LoginFailed
from broadcaster.services.login_limits import LoginLimiter, LoginRateLimited


class Ticks:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fail(limiter: LoginLimiter, username: str, client: str, times: int) -> None:
    for _ in range(times):
        limiter.check(username, client)
        limiter.failed(username, client)


def test_a_pair_is_paused_after_the_limit_until_its_oldest_failure_leaves_the_window() -> None:
    ticks = Ticks()
    limiter = LoginLimiter(max_failures=5, window_s=300, clock=ticks)
    fail(limiter, "canbo", "10.0.0.1", 4)
    ticks.now += 100
    fail(limiter, "CanBo ", "10.0.0.1", 1)  # the same account, as logins normalize it
    with pytest.raises(LoginRateLimited) as paused:
        limiter.check("canbo", "10.0.0.1")
    assert paused.value.status == 429 and paused.value.code == "login_rate_limited"
    assert paused.value.retry_after_s == 200
    assert "thử lại sau 4 phút" in paused.value.message
    # Another address, or another account, is not paused.
    limiter.check("canbo", "10.0.0.2")
    limiter.check("lanhdao", "10.0.0.1")
    ticks.now += 199
    with pytest.raises(LoginRateLimited) as still:
        limiter.check("canbo", "10.0.0.1")
    assert still.value.retry_after_s == 1 and "1 giây" in still.value.message
    ticks.now += 1
    limiter.check("canbo", "10.0.0.1")  # the first four left the window
    assert limiter.failures("canbo", "10.0.0.1") == 1


def test_a_successful_login_clears_the_count_and_attempt_counts_only_failed_logins() -> None:
    limiter = LoginLimiter(max_failures=3, window_s=60, clock=Ticks())

    def wrong() -> str:
        raise LoginFailed("Tên đăng nhập hoặc mật khẩu không đúng.")

    for _ in range(2):
        with pytest.raises(LoginFailed):
            limiter.attempt("canbo", "10.0.0.1", wrong)
    assert limiter.attempt("canbo", "10.0.0.1", lambda: "token") == "token"
    assert limiter.failures("canbo", "10.0.0.1") == 0
    for _ in range(3):
        with pytest.raises(LoginFailed):
            limiter.attempt("canbo", "10.0.0.1", wrong)
    # Paused: the password is not even checked.
    with pytest.raises(LoginRateLimited):
        limiter.attempt("canbo", "10.0.0.1", lambda: pytest.fail("login ran while paused"))


def test_made_up_names_do_not_grow_the_table_without_bound() -> None:
    ticks = Ticks()
    limiter = LoginLimiter(max_failures=2, window_s=60, clock=ticks, max_keys=3)
    for name in ("a", "b", "c"):
        fail(limiter, name, "10.0.0.9", 1)
    ticks.now += 30
    fail(limiter, "d", "10.0.0.9", 2)  # full of live counts: the oldest pair ("a") goes
    assert [limiter.failures(n, "10.0.0.9") for n in "abcd"] == [0, 1, 1, 2]
    ticks.now += 31  # b and c left the window: room without forgetting anyone who still counts
    fail(limiter, "e", "10.0.0.9", 1)
    assert [limiter.failures(n, "10.0.0.9") for n in "de"] == [2, 1]
    with pytest.raises(LoginRateLimited):
        limiter.check("d", "10.0.0.9")
