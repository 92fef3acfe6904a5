"""Every test that touches the database runs twice: on SQLite and on PostgreSQL (``tests/databases.py``).

Nothing to do in a test for that. A test touches the database when its module, or the module of a
fixture it uses, imports one of ``DATABASE_MODULES`` (the shared helpers, ``broadcaster.db``,
``broadcaster.app``); such a test gets the session-scoped parameter ``db_backend``
(``test_x[sqlite]``, ``test_x[postgresql]``), and the helpers hand out databases of that backend.

Fixtures shared by several tests (module, package or session scope) that ask the helpers for a
database are rebuilt when the backend changes: the first time one asks, it is made to depend on
``db_backend`` as if it had named it. ``pytest --backends sqlite`` runs one backend only (for a quick
local run; CI runs both). A test that must stay on one backend says ``@pytest.mark.backends("sqlite")``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from tests import databases
from tests.databases import BACKENDS, POSTGRESQL, SQLITE, Backend, PostgresServer

DATABASE_MODULES = frozenset({
    "broadcaster.db", "broadcaster.app", "tests.databases", "tests.api.world", "tests.web.world",
    "tests.scheduler.support", "tests.scheduler.processes", "tests.e2e.harness", "tests.fakes.serve_process",
    "tests.delivery.scripted_agents",
})  # fmt: skip


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--backends``: which database backends the database tests run on."""
    parser.addoption("--backends", default=",".join(BACKENDS),
                     help="comma-separated database backends for the database tests (default: sqlite,postgresql)")


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker and the fixture tracker."""
    config.addinivalue_line("markers", "backends(*names): run this database test on these backends only")
    # As a plugin, not a hook of this conftest: session-scoped fixtures are set up by the session
    # node, which sees only the hooks of plugins and of conftests at the root directory.
    config.pluginmanager.register(FixtureTracker(), "broadcaster-fixture-tracker")


def _imports_database(module: ModuleType | None) -> bool:
    if module is None:
        return False
    for value in vars(module).values():
        name = value.__name__ if inspect.ismodule(value) else getattr(value, "__module__", None)
        if name in DATABASE_MODULES:
            return True
    return False


def touches_database(metafunc: pytest.Metafunc) -> bool:
    """True if the test's module or one of its fixtures' modules uses the database helpers."""
    if _imports_database(metafunc.module):
        return True
    for name in metafunc.fixturenames:
        for fixturedef in metafunc._arg2fixturedefs.get(name, ()):
            if inspect.getfile(fixturedef.func) == __file__:
                continue  # the backend fixtures below are every test's
            if _imports_database(inspect.getmodule(fixturedef.func)):
                return True
    return False


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize the database tests over the backends."""
    if "db_backend" not in metafunc.fixturenames or not touches_database(metafunc):
        return
    chosen = [name.strip() for name in metafunc.config.getoption("--backends").split(",") if name.strip()]
    marker = metafunc.definition.get_closest_marker("backends")
    if marker is not None:
        chosen = [name for name in chosen if name in marker.args]
    unknown = set(chosen) - set(BACKENDS)
    if unknown:
        raise pytest.UsageError(f"unknown database backends {sorted(unknown)}; choose from {BACKENDS}")
    # Session scope: pytest keeps the tests of one backend together instead of switching at each test.
    metafunc.parametrize("db_backend", chosen, indirect=True, scope="session")


# Which fixture is being set up right now (innermost last), to know who asks the helpers for a database.
_setting_up: list[tuple[pytest.FixtureDef[Any], pytest.FixtureRequest]] = []
_backend_fixture: list[pytest.FixtureDef[Any]] = []
_dependents: set[int] = set()


class FixtureTracker:
    """Knows which fixture is being set up (see ``_bind_shared_fixture``)."""

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(self, fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest) -> Any:
        """Track the fixture being set up."""
        if fixturedef.argname == "db_backend":
            _backend_fixture[:] = [fixturedef]
            _dependents.clear()
        _setting_up.append((fixturedef, request))
        try:
            return (yield)
        finally:
            _setting_up.pop()


def _bind_shared_fixture() -> None:
    """A shared fixture asked for a database: tear it down whenever ``db_backend`` changes, like a dependent."""
    if not _setting_up or not _backend_fixture:
        return
    fixturedef, request = _setting_up[-1]
    if fixturedef.scope == "function" or fixturedef.argname == "db_backend" or id(fixturedef) in _dependents:
        return
    _dependents.add(id(fixturedef))
    _backend_fixture[0].addfinalizer(functools.partial(fixturedef.finish, request=request))


databases.on_use(_bind_shared_fixture)


@pytest.fixture(scope="session")
def postgres_backend() -> Iterator[Backend]:
    """A PostgreSQL cluster of this test process (one per xdist worker), started on first use."""
    server = PostgresServer().start()
    try:
        yield Backend(POSTGRESQL, server)
    finally:
        server.stop()


@pytest.fixture(scope="session", autouse=True)
def db_backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """The database backend of this test (parametrized for database tests; SQLite for the others)."""
    name = getattr(request, "param", SQLITE)
    backend = request.getfixturevalue("postgres_backend") if name == POSTGRESQL else Backend(SQLITE)
    databases.activate(backend)
    yield backend
    databases.activate(Backend(SQLITE))


@pytest.fixture(autouse=True)
def _drop_test_databases(db_backend: Backend) -> Iterator[None]:
    """Drop the PostgreSQL databases a test made (shared fixtures' databases live as long as they do)."""
    before = len(db_backend.created)
    yield
    if db_backend.server is not None:
        db_backend.drop_since(before)


# The longest test files, longest first: the 50 longest of a full run's --junitxml (2026-12-06, this
# 2-core machine; each file's test times summed, from 329 s for e2e_dialout down to 28 s). xdist
# (--dist loadfile --no-loadscope-reorder, pyproject.toml) hands files out in collection order; a long
# file handed out last keeps the run going while the other workers sit idle, so these start first and
# the short files fill in. Without --no-loadscope-reorder xdist (3.5+) sorts files by their number of
# tests instead, which starts the 872 text cases first and leaves the e2e, fault and browser files,
# few tests each but minutes long, for the end.
LONGEST_FILES_FIRST = (
    "tests/e2e/test_e2e_dialout.py",
    "tests/web/test_web_recording.py",
    "tests/e2e/test_e2e_replicas.py",
    "tests/faults/test_faults_server.py",
    "tests/web/test_web_admin.py",
    "tests/scheduler/test_processes.py",
    "tests/e2e/test_e2e_dialout_restart.py",
    "tests/web/test_web_flow.py",
    "tests/e2e/test_e2e_resilience.py",
    "tests/api/test_auth_matrix.py",
    "tests/e2e/test_e2e_airing.py",
    "tests/api/test_login_rate_limit.py",
    "tests/api/test_live_server.py",
    "tests/api/test_schemathesis.py",
    "tests/faults/test_faults_agent.py",
    "tests/scheduler/test_replica_audio.py",
    "tests/web/test_web_lexicon.py",
    "tests/e2e/test_e2e_mqtt.py",
    "tests/e2e/test_e2e_recall.py",
    "tests/faults/test_faults_resources.py",
    "tests/cli/test_cli_errors.py",
    "tests/faults/test_faults_session.py",
    "tests/e2e/test_e2e_restore.py",
    "tests/web/test_web_province_bulletins.py",
    "tests/web/test_web_emergency.py",
    "tests/web/test_web_security.py",
    "tests/api/test_province_bulletins.py",
    "tests/cli/test_say_cli.py",
    "tests/api/test_emergencies_and_preview.py",
    "tests/web/test_web_timetable_editor.py",
    "tests/agent/test_agent_resilience.py",
    "tests/agent/test_agent_conductor.py",
    "tests/api/test_four_eyes.py",
    "tests/services/test_lexicon_service.py",
    "tests/web/test_web_compose.py",
    "tests/scheduler/test_scheduler.py",
    "tests/e2e/test_e2e_demo.py",
    "tests/web/test_web_route_inventory.py",
    "tests/cli/test_user_cli.py",
    "tests/api/test_registry_timetable_system.py",
    "tests/api/test_bad_inputs.py",
    "tests/cli/test_serve_cli.py",
    "tests/services/test_emergency_rules.py",
    "tests/api/test_emergency_history.py",
    "tests/web/test_web_voices.py",
    "tests/cli/test_setup_cli.py",
    "tests/api/test_voices_api.py",
    "tests/services/test_workflow_rules.py",
    "tests/api/test_bulletins_api.py",
    "tests/services/test_programming.py",
)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the longest files first (a stable sort: each file keeps its own order, backends grouped)."""
    rank = {path: position for position, path in enumerate(LONGEST_FILES_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))
