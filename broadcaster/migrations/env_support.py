"""What the Alembic environment and the migration tests share."""

from __future__ import annotations

# APScheduler's SQLAlchemyJobStore creates and owns this table; autogenerate must not drop it.
FOREIGN_TABLES = frozenset({"apscheduler_jobs"})


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Leave tables that other libraries own out of migrations."""
    return not (type_ == "table" and name in FOREIGN_TABLES)
