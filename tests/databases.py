"""The database backends every database test runs on: SQLite files, and a throwaway PostgreSQL cluster.

A test never names its backend: the shared helpers (``tests.scheduler.support.make_settings``,
``tests.api.world``, ``tests.web.world``, ``tests.e2e.harness``…) ask ``database_url(data_dir)``,
which answers for the backend of the test being run (``tests/conftest.py`` parametrizes every test
that touches the database over both and activates one here). Each data directory gets its own
database: a SQLite file inside it, or a PostgreSQL database named after it, cloned from a migrated
template (``CREATE DATABASE … TEMPLATE``, ~70 ms), or a SQLite file copied from a migrated one
(~10 ms, where migrating afresh costs ~0.2 s of CPU and over a second of fsyncs on a busy disk), so a
test starts on a fresh schema of its own. ``empty=True`` gives an unmigrated database instead.

PostgreSQL comes from the Debian package: ``initdb`` and ``postgres`` run as the unprivileged
``postgres`` account when the tests run as root (initdb refuses root), in a temp dir, on a free
loopback port, without fsync (the data dies with the run). The server is this process's child and
gets SIGKILL if this process dies, so a killed test run leaves no server behind.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


def _pg_bin() -> Path:
    """The newest PostgreSQL the Debian packages installed (15 on Debian 12)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: run scripts/setup --test (Debian package postgresql)")
    return found[-1].parent


PG_USER = "postgres"
SQLITE = "sqlite"
POSTGRESQL = "postgresql"
BACKENDS = (SQLITE, POSTGRESQL)
MIGRATED_TEMPLATE = "broadcaster_migrated"
START_TIMEOUT_S = 60.0


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres_user() -> list[str]:
    """The command prefix that runs a PostgreSQL tool unprivileged (initdb refuses root)."""
    if os.geteuid() != 0:
        return []
    return ["setpriv", f"--reuid={PG_USER}", f"--regid={PG_USER}", "--clear-groups"]


class PostgresServer:
    """A PostgreSQL cluster of our own: ``initdb`` in a temp dir, ``postgres`` on a free loopback port."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="broadcaster-pg-"))
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def data_dir(self) -> Path:
        """The cluster's files."""
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        """The server's log."""
        return self.root / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of one database (psycopg 3, trust authentication on loopback)."""
        return f"postgresql+psycopg://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def start(self) -> PostgresServer:
        """Create the cluster and start the server; return once it accepts connections."""
        if os.geteuid() == 0:
            account = pwd.getpwnam(PG_USER)
            os.chown(self.root, account.pw_uid, account.pw_gid)
        subprocess.run([*_as_postgres_user(), str(_pg_bin() / "initdb"), "-D", str(self.data_dir), "-U", PG_USER,
                        "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"],
                       check=True, capture_output=True, timeout=120)  # fmt: skip
        # fsync and full-page writes off: nothing here must survive a power cut, and it is several times faster.
        settings = {"listen_addresses": "127.0.0.1", "port": str(self.port), "unix_socket_directories": str(self.root),
                    "fsync": "off", "synchronous_commit": "off", "full_page_writes": "off", "max_connections": "400",
                    "shared_buffers": "64MB", "log_min_messages": "warning", "timezone": "UTC"}  # fmt: skip
        options = [arg for name, value in settings.items() for arg in ("-c", f"{name}={value}")]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*_as_postgres_user(), *(["--pdeathsig=KILL"] if os.geteuid() == 0 else []),
                 str(_pg_bin() / "postgres"), "-D", str(self.data_dir), *options],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._accepts():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"PostgreSQL did not start:\n{self.log_path.read_text(errors='replace')[-2000:]}")
            time.sleep(0.05)
        return self

    def _accepts(self) -> bool:
        import psycopg

        try:
            psycopg.connect(self.dsn(), connect_timeout=2).close()
            return True
        except psycopg.OperationalError:
            return False

    def dsn(self, database: str = "postgres") -> str:
        """A libpq connection string (for psycopg directly)."""
        return f"host=127.0.0.1 port={self.port} user={PG_USER} dbname={database}"

    def execute(self, *statements: str) -> None:
        """Run statements outside a transaction (CREATE / DROP DATABASE need that) on the maintenance database."""
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as connection:
            for statement in statements:
                connection.execute(statement)  # type: ignore[arg-type]

    def stop(self) -> None:
        """Fast shutdown, then remove the cluster's files."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # "fast" shutdown: disconnect everyone, no checkpoint wait
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


def database_name(key: str) -> str:
    """A PostgreSQL database name for a data directory (or any key): short, stable, unique."""
    return "t_" + hashlib.sha256(key.encode()).hexdigest()[:20]


@dataclass
class Backend:
    """One backend as the tests see it: how a data directory maps to a database, and copies of databases."""

    name: str
    server: PostgresServer | None = None
    created: list[str] = field(default_factory=list)  # PostgreSQL databases made so far, oldest first
    _template_ready: bool = False

    def url_for(self, data_dir: Path, *, empty: bool = False) -> str:
        """The database of ``data_dir``, created at first use; run ``Database.upgrade()`` on it as the app does.

        Unless ``empty``, it is a copy of a migrated template (so that upgrade is a quick no-op).
        """
        if self.server is None:
            path = Path(data_dir) / "broadcaster.sqlite3"
            if not empty and not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(_migrated_sqlite_template(), path)
            return f"sqlite:///{path}"
        name = database_name(str(Path(data_dir).resolve()))
        if name not in self.created:
            self._create(name, "template0" if empty else self._migrated_template())
        return self.server.url(name)

    def copy_to(self, source_url: str, data_dir: Path) -> str:
        """Make the database of ``data_dir`` an exact copy of ``source_url``; its URL.

        Nobody may be connected to the source (PostgreSQL refuses to copy a database in use).
        """
        if self.server is None:
            target_url = self.url_for(data_dir)
            source, target = (Path(url.split("///", 1)[1]) for url in (source_url, target_url))
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            return target_url
        name = database_name(str(Path(data_dir).resolve()))
        self.drop(name)
        self._create(name, source_url.rsplit("/", 1)[1])
        return self.server.url(name)

    def drop(self, name: str) -> None:
        """Drop one PostgreSQL database, disconnecting whoever is still connected."""
        assert self.server is not None
        self.server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self.created:
            self.created.remove(name)

    def drop_since(self, count: int) -> None:
        """Drop the databases made after the first ``count`` (those of the test that just ended)."""
        for name in self.created[count:]:
            self.drop(name)

    def _create(self, name: str, template: str) -> None:
        assert self.server is not None
        # FILE_COPY: a few small files copied at once; WAL_LOG would log every block of the template.
        self.server.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
        self.created.append(name)

    def _migrated_template(self) -> str:
        if not self._template_ready:
            from broadcaster.db import Database

            assert self.server is not None
            self.server.execute(f'DROP DATABASE IF EXISTS "{MIGRATED_TEMPLATE}"',
                                f'CREATE DATABASE "{MIGRATED_TEMPLATE}" TEMPLATE template0')
            db = Database(self.server.url(MIGRATED_TEMPLATE))
            db.upgrade()
            db.dispose()
            self._template_ready = True
        return MIGRATED_TEMPLATE


def _migrated_sqlite_template() -> Path:
    """This process's migrated SQLite file, made at first use and removed when the process exits."""
    global _sqlite_template
    if _sqlite_template is None:
        from broadcaster.db import Database

        folder = Path(tempfile.mkdtemp(prefix="broadcaster-template-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        path = folder / "migrated.sqlite3"
        db = Database(f"sqlite:///{path}")
        db.upgrade()
        db.dispose()  # the last connection's close folds the WAL back into the file
        _sqlite_template = path
    return _sqlite_template


_sqlite_template: Path | None = None
_active = Backend(SQLITE)
# Told when a test, or a fixture shared by several tests, asks for a database (tests/conftest.py
# uses it to rebuild shared fixtures when the backend changes).
_on_use: list[Callable[[], None]] = []


def activate(backend: Backend) -> None:
    """Make ``backend`` the one the helpers answer for (done by the ``db_backend`` fixture)."""
    global _active
    _active = backend


def on_use(callback: Callable[[], None]) -> None:
    """Call ``callback`` whenever a helper asks for the active backend."""
    _on_use.append(callback)


def active() -> Backend:
    """The backend of the test being run (SQLite outside the parametrized tests)."""
    for callback in _on_use:
        callback()
    return _active


def database_url(data_dir: Path, *, empty: bool = False) -> str:
    """The active backend's database for ``data_dir`` (what every test helper puts in its Settings)."""
    return active().url_for(data_dir, empty=empty)


def copy_database(source_url: str, data_dir: Path) -> str:
    """Make ``data_dir``'s database on the active backend a copy of ``source_url`` (seeded templates); its URL."""
    return active().copy_to(source_url, data_dir)


def is_postgresql() -> bool:
    """True if the test being run is on PostgreSQL."""
    return active().server is not None
