"""Login limits through HTTP: the API's ``POST /api/v1/auth/token`` in the app, and real ``broadcaster serve``
processes for what only a real server shows (X-Forwarded-For from untrusted clients, replicas sharing counts)."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from broadcaster.config import Settings
from tests.api.world import PASSWORD, Template, looks_vietnamese, make_settings, running_world
from tests.fakes.serve_process import start_serve_process

TOKEN = "/api/v1/auth/token"
SLOW = {"login_max_failures": 3, "login_first_delay_s": 60.0}


def test_failures_make_the_pair_wait_with_retry_after(template: Template, tmp_path: Path) -> None:
    with running_world(template, tmp_path, **SLOW) as world:
        def login(username: str, password: str) -> httpx.Response:
            return world.client.post(TOKEN, json={"username": username, "password": password})

        assert [login("officer-a", "sai").status_code for _ in range(4)] == [401] * 4
        # Waiting: even the right password is refused, with when to try again.
        waiting = login("Officer-A", PASSWORD)
        assert waiting.status_code == 429
        error = waiting.json()["error"]
        assert error["code"] == "login_rate_limited" and looks_vietnamese(error["message"])
        assert 0 < int(waiting.headers["retry-after"]) <= 60
        assert login("approver-a", PASSWORD).status_code == 200  # another account from the same address


def test_a_successful_login_resets_the_count(template: Template, tmp_path: Path) -> None:
    with running_world(template, tmp_path, **SLOW) as world:
        for _ in range(2):
            for _ in range(3):
                assert world.client.post(TOKEN, json={"username": "officer-b", "password": "sai"}).status_code == 401
            assert world.client.post(TOKEN, json={"username": "officer-b", "password": PASSWORD}).status_code == 200


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Servers:
    """``broadcaster serve`` processes on one seeded database, each with its own extra settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, **env: str) -> str:
        """Start one more server (``env``: settings by name) and return its URL."""
        variables = {"BROADCASTER_" + key.upper(): value for key, value in env.items()}
        variables.update({"BROADCASTER_LOGIN_MAX_FAILURES": "3", "BROADCASTER_LOGIN_FIRST_DELAY_S": "60"})
        for attempt in range(3):  # a free port can be taken by another process before the server binds it
            port = _free_port()
            try:
                self.processes.append(start_serve_process(self.settings, port, env=variables))
                return f"http://127.0.0.1:{port}"
            except RuntimeError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def stop(self) -> None:
        """Stop every server started."""
        for process in self.processes:
            process.terminate()
            process.wait(timeout=30)


@pytest.fixture
def served(template: Template, tmp_path: Path) -> Iterator[Servers]:
    """A ``Servers`` on a fresh copy of the seeded database."""
    settings = make_settings(tmp_path)
    template.install(settings)
    servers = Servers(settings)
    try:
        yield servers
    finally:
        servers.stop()


def _login(url: str, username: str, password: str, forwarded_for: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return httpx.post(url + TOKEN, json={"username": username, "password": password}, headers=headers,
                      timeout=30).status_code


def test_forwarded_addresses_from_an_untrusted_client_change_nothing(served: Servers) -> None:
    url = served.start()
    # A loopback client inventing a new address for every guess: still one address, soon waiting.
    answers = [_login(url, "officer-a", "sai", forwarded_for=f"198.51.100.{n}") for n in range(1, 6)]
    assert answers == [401, 401, 401, 401, 429]


def test_a_trusted_proxy_forwards_addresses_and_the_account_stays_usable(served: Servers) -> None:
    url = served.start(trusted_proxies=json.dumps(["127.0.0.1"]))
    answers = [_login(url, "officer-a", "sai", forwarded_for="198.51.100.66") for _ in range(5)]
    assert answers == [401, 401, 401, 401, 429]
    # The real officer, behind the same proxy from another address, logs in: no account is locked.
    assert _login(url, "officer-a", PASSWORD, forwarded_for="203.0.113.5, 127.0.0.1") == 200


def test_replicas_on_one_database_share_the_counts(served: Servers) -> None:
    first, second = served.start(), served.start()
    assert [_login(first, "approver-b", "sai") for _ in range(4)] == [401] * 4
    assert _login(second, "approver-b", PASSWORD) == 429  # the other replica knows
