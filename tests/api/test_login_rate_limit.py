"""``POST /api/v1/auth/token`` is rate-limited per user name and client address (the real app, real argon2)."""

from __future__ import annotations

from tests.api.world import PASSWORD, World, looks_vietnamese

TOKEN = "/api/v1/auth/token"


def login(world: World, username: str, password: str) -> tuple[int, dict[str, str], dict[str, object]]:
    response = world.client.post(TOKEN, json={"username": username, "password": password})
    return response.status_code, dict(response.headers), response.json()


def test_five_failures_pause_the_account_from_this_address_with_retry_after(world: World) -> None:
    limit = world.settings.login_max_failures
    for _ in range(limit):
        assert login(world, "officer-a", "sai-mat-khau")[0] == 401
    # Paused: even the right password is refused, with when to try again.
    status, headers, body = login(world, "Officer-A", PASSWORD)
    assert status == 429
    error = body["error"]
    assert isinstance(error, dict) and error["code"] == "login_rate_limited" and looks_vietnamese(error["message"])
    assert 0 < int(headers["retry-after"]) <= world.settings.login_window_s
    # Another account from the same address is not paused.
    assert login(world, "approver-a", PASSWORD)[0] == 200


def test_a_successful_login_resets_the_count(world: World) -> None:
    limit = world.settings.login_max_failures
    for _ in range(limit - 1):
        assert login(world, "officer-b", "sai-mat-khau")[0] == 401
    assert login(world, "officer-b", PASSWORD)[0] == 200
    for _ in range(limit - 1):
        assert login(world, "officer-b", "sai-mat-khau")[0] == 401
    assert login(world, "officer-b", PASSWORD)[0] == 200
