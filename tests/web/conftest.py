"""Fixtures of the web tests: one served app (with a real agent) and one Chromium for the package."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from tests.web.world import CHROMIUM, WebWorld, chromium, running_web_world


@pytest.fixture(scope="package")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebWorld]:
    """The app served by uvicorn on a seeded database, scheduler and delivery on, cluster A's agent running."""
    with running_web_world(tmp_path_factory.mktemp("web")) as world:
        yield world


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's headless Chromium (installed by scripts/setup --test).

    Per module, not per package: Playwright's sync API keeps an event loop running in the main
    thread while it is open, and with pytest-xdist another package's asyncio tests may run next in
    the same worker; they cannot start their own loop while that one runs.
    """
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/setup --test (it installs Debian's chromium)")
    with chromium() as (_, launched):
        yield launched
