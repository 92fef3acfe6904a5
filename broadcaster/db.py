"""Database engine and sessions: SQLite in WAL mode by default, PostgreSQL by URL; migrations via Alembic."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from broadcaster.errors import InvalidInput
from broadcaster.private_files import private_sqlite


class DatabaseUnavailable(InvalidInput):
    """The database URL names a driver that is not installed, or is not a URL at all."""

    code = "database_unavailable"

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


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


def utc_now() -> datetime:
    """The current time, aware, in UTC (what the database stores)."""
    return datetime.now(UTC)


def aware_utc(moment: datetime | str) -> datetime:
    """A time from an aggregate (``func.max()``...), which the driver returns without the column's zone."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


DEFAULT_BUSY_TIMEOUT_S = 10.0


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


def make_engine(url: str, *, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> Engine:
    """An engine for ``url``; SQLite gets a private file (0600 in a 0700 folder) and the pragmas above."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            private_sqlite(Path(path))  # report secrets and drafts: 0600, and so its WAL and SHM
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": busy_timeout_s})
        event.listen(engine, "connect", _sqlite_pragmas(busy_timeout_s))
        return engine
    try:
        return create_engine(url, pool_pre_ping=True)
    except (ImportError, NoSuchModuleError) as error:
        raise DatabaseUnavailable(
            f"Thiếu trình điều khiển cho cơ sở dữ liệu «{url.split(':', 1)[0]}» (với PostgreSQL: gói psycopg). "
            "Cài gói đó hoặc sửa database_url.", code="database_driver_missing", detail=str(error),
        ) from None
    except ArgumentError as error:
        raise DatabaseUnavailable("Địa chỉ cơ sở dữ liệu (database_url) không hợp lệ.",
                                  code="database_url_invalid", detail=str(error)) from None


class Database:
    """The engine plus a session factory; created once by the app and passed down."""

    def __init__(self, url: str, *, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> None:
        self.url = url
        self.busy_timeout_s = busy_timeout_s
        self.engine = make_engine(url, busy_timeout_s=busy_timeout_s)
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
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
