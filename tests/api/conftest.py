"""Fixtures of the API tests (helpers live in ``tests.api.world``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from broadcaster.app import create_app
from broadcaster.services.handoff import RecordingHandoff
from tests.api.world import Template, World, make_settings, make_template, running_world
from tests.fakes.live_server import LiveServer


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """The seeded database, made once per test run."""
    return make_template(tmp_path_factory.mktemp("api-template"))


@pytest.fixture
def world(template: Template, tmp_path: Path) -> Iterator[World]:
    """A running app on a fresh copy of the seeded database."""
    with running_world(template, tmp_path) as seeded:
        yield seeded


@pytest.fixture
def live_world(template: Template, tmp_path: Path) -> Iterator[tuple[World, LiveServer]]:
    """A running app on a fresh copy of the seeded database, also served by a real uvicorn."""
    settings = make_settings(tmp_path)
    template.install(settings)
    handoff = RecordingHandoff()
    app = create_app(settings, handoff=handoff)
    with LiveServer(app) as server:
        # The TestClient is not entered (uvicorn ran the lifespan); tests talk to the live server.
        yield World(app=app, client=TestClient(app), seed=template.seed, handoff=handoff), server


@pytest.fixture
def delivering_world(template: Template, tmp_path: Path) -> Iterator[World]:
    """The app on a copy of the seeded database, handing off through the real delivery service (lanes running)."""
    settings = make_settings(tmp_path, handoff="deliver")
    template.install(settings)
    app = create_app(settings)
    with TestClient(app) as client:
        yield World(app=app, client=client, seed=template.seed, handoff=None)  # type: ignore[arg-type]
