"""Database engine and sessions: SQLite in WAL mode by default, PostgreSQL by URL; migrations via Alembic."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, create_engine, event
from sqlalchemy.engine import Dialect, ExceptionContext
from sqlalchemy.exc import ArgumentError, DataError, DisconnectionError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

from broadcaster.errors import InvalidInput
from broadcaster.private_files import private_sqlite


class DatabaseUnavailable(InvalidInput):
    """The database URL names a driver that is not installed, or is not a URL at all."""

    code = "database_unavailable"


MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# pg_advisory_xact_lock key of "migrate" (any constant; only our migrations take it).
MIGRATION_LOCK_KEY = 0x6D696772617465


class AwareDateTime(TypeDecorator[datetime]):
    """Stores UTC, returns aware UTC datetimes; refuses naive ones (SQLite would drop the zone silently)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use aware datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class ValueNotStorable(InvalidInput):
    """The database refused a value (a number out of range, a string too long, a NUL character)."""

    code = "value_not_storable"


def _refused_value(context: ExceptionContext) -> None:
    # PostgreSQL checks what SQLite lets through (INTEGER range, VARCHAR length, NUL). Inputs are
    # validated before they get here; this is the net under that, so a miss is a 422, not a 500.
    if isinstance(context.sqlalchemy_exception, DataError):
        raise ValueNotStorable("Có giá trị không lưu được (số quá lớn, chuỗi quá dài hoặc ký tự không hợp lệ).",
                               detail=str(context.original_exception)) from context.original_exception


def utc_now() -> datetime:
    """The current time, aware, in UTC (what the database stores)."""
    return datetime.now(UTC)


def aware_utc(moment: datetime | str) -> datetime:
    """A time from an aggregate (``func.max()``...), which the driver returns without the column's zone."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


DEFAULT_BUSY_TIMEOUT_S = 10.0
MIGRATION_BUSY_TIMEOUT_S = 60.0  # a replica starting beside another waits for its migration this long


def _sqlite_pragmas(busy_timeout_s: float) -> Any:
    def configure(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # WAL: readers never block the writer. synchronous=FULL: a commit we acknowledged survives
        # a power cut on a commune PC, not just a killed process.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # How long a writer waits for another's lock before answering "database busy" (503).
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        cursor.close()

    return configure


def driver_url(url: str) -> str:
    """``url`` with the driver we ship spelled out: ``postgresql://`` means psycopg 3, not psycopg2."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _create(url: str, busy_timeout_s: float, **options: Any) -> Engine:
    """An engine with what all of ours need (SQLite: private file, busy timeout, pragmas; coded URL/driver errors).

    ``options`` go to ``create_engine``; the application's engine and the migration engine add their own.
    """
    url = driver_url(url)
    sqlite = url.startswith("sqlite")
    if sqlite:
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            private_sqlite(Path(path))  # report secrets and drafts: 0600, and so its WAL and SHM
        options["connect_args"] = {"check_same_thread": False, "timeout": busy_timeout_s}
    try:
        engine = create_engine(url, **options)
    except (ImportError, NoSuchModuleError) as error:
        raise DatabaseUnavailable(
            f"Thiếu trình điều khiển cho cơ sở dữ liệu «{url.split(':', 1)[0]}» (với PostgreSQL: gói psycopg). "
            "Cài gói đó hoặc sửa database_url.", code="database_driver_missing", detail=str(error),
        ) from None
    except ArgumentError as error:
        raise DatabaseUnavailable("Địa chỉ cơ sở dữ liệu (database_url) không hợp lệ.",
                                  code="database_url_invalid", detail=str(error)) from None
    if sqlite:
        event.listen(engine, "connect", _sqlite_pragmas(busy_timeout_s))
    return engine


def make_engine(url: str, *, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S, ping_idle_s: float | None = None) -> Engine:
    """The application's engine for ``url``; SQLite gets a private file (0600 in a 0700 folder) and the pragmas above."""
    if driver_url(url).startswith("sqlite"):
        return _create(url, busy_timeout_s)
    # Several replicas, each with request threads, the scheduler's workers and the delivery lanes.
    engine = _create(url, busy_timeout_s, pool_size=10, max_overflow=20)
    event.listen(engine, "handle_error", _refused_value)
    _ping_when_idle(engine, PING_IDLE_S if ping_idle_s is None else ping_idle_s)
    return engine


# A pooled connection that sat idle this long is pinged before use. ``pool_pre_ping`` pings on every
# checkout: a round trip per request and several per session composed, for connections that were
# in use a moment ago. A restart or an idle timeout of the server drops idle connections; one in
# steady use that dies fails its next query, which invalidates the whole pool at once.
PING_IDLE_S = 5.0


def _ping_when_idle(engine: Engine, idle_s: float) -> None:
    @event.listens_for(engine.pool, "checkin")
    def checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        idle_since = record.info.get("idle_since")  # None: connected just now
        if idle_since is None or time.monotonic() - idle_since < idle_s:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise DisconnectionError(str(error)) from error  # the pool connects afresh and tries again


def _migration_engine(url: str) -> Engine:
    """An engine for one migration run whose transaction holds the database's migration lock from its start.

    SQLite: ``BEGIN IMMEDIATE`` takes the write lock before Alembic reads the version, and makes
    the DDL part of the transaction (pysqlite would otherwise run it outside any). PostgreSQL:
    a transaction-level advisory lock. A second process starting at the same moment waits, then
    finds the schema at head and does nothing.
    """
    engine = _create(url, MIGRATION_BUSY_TIMEOUT_S, poolclass=NullPool)  # one connection, closed after the run
    if engine.dialect.name != "sqlite":

        @event.listens_for(engine, "begin")
        def lock_postgres(connection: Any) -> None:
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")

        return engine

    @event.listens_for(engine, "connect")
    def manual_transactions(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below (the pragmas ran just before)

    @event.listens_for(engine, "begin")
    def lock_sqlite(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class Database:
    """The engine plus a session factory; created once by the app and passed down."""

    def __init__(self, url: str, *, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
                 ping_idle_s: float | None = None) -> None:
        self.url = driver_url(url)
        self.busy_timeout_s = busy_timeout_s
        self.engine = make_engine(self.url, busy_timeout_s=busy_timeout_s, ping_idle_s=ping_idle_s)
        self.session_factory = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on any error."""
        with self.session_factory() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def upgrade(self) -> None:
        """Bring the schema to the newest migration (Alembic ``upgrade head``)."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        engine = _migration_engine(self.url)
        try:
            with engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        finally:
            engine.dispose()

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
