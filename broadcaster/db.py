"""Database engine and sessions: SQLite in WAL mode by default, PostgreSQL by URL; migrations via Alembic."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, create_engine, event
from sqlalchemy.engine import Dialect, ExceptionContext
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

from broadcaster.errors import InvalidInput

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


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: readers never block the writer. synchronous=FULL: a commit we acknowledged survives
    # a power cut on a commune PC, not just a killed process.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def driver_url(url: str) -> str:
    """``url`` with the driver we ship spelled out: ``postgresql://`` means psycopg 3, not psycopg2."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets its directory created and the pragmas above."""
    url = driver_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _configure_sqlite)
        return engine
    # Several replicas, each with request threads, the scheduler's workers and the delivery lanes.
    engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    event.listen(engine, "handle_error", _refused_value)
    return engine


def _migration_engine(url: str) -> Engine:
    """An engine for one migration run whose transaction holds the database's migration lock from its start.

    SQLite: ``BEGIN IMMEDIATE`` takes the write lock before Alembic reads the version, and makes
    the DDL part of the transaction (pysqlite would otherwise run it outside any). PostgreSQL:
    a transaction-level advisory lock. A second process starting at the same moment waits, then
    finds the schema at head and does nothing.
    """
    url = driver_url(url)
    if not url.startswith("sqlite"):
        engine = create_engine(url, poolclass=NullPool)

        @event.listens_for(engine, "begin")
        def lock_postgres(connection: Any) -> None:
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")

        return engine
    engine = create_engine(url, poolclass=NullPool, connect_args={"check_same_thread": False, "timeout": 60})

    @event.listens_for(engine, "connect")
    def manual_transactions(dbapi_connection: Any, record: Any) -> None:
        _configure_sqlite(dbapi_connection, record)
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below

    @event.listens_for(engine, "begin")
    def lock_sqlite(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class Database:
    """The engine plus a session factory; created once by the app and passed down."""

    def __init__(self, url: str) -> None:
        self.url = driver_url(url)
        self.engine = make_engine(self.url)
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
