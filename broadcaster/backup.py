"""``broadcaster backup`` and ``broadcaster restore``: one archive holds everything a server needs.

The archive (``.tar.gz``) holds ``manifest.json``, the database, the data directory (the server's
signing key and secrets under ``keys/`` with their file modes, uploaded recordings, voices) and
the timetable files. The audio cache is left out: it is made again from the database on demand.

- SQLite: an online backup (``sqlite3.Connection.backup``), consistent while the server runs.
- PostgreSQL: ``pg_dump --format=custom`` (a consistent snapshot while the server runs), restored
  with ``pg_restore`` into an empty database.

Restoring goes into a fresh place only (no database tables, no ``keys/``): a restore never
overwrites a live server. Afterwards every cluster's order sequence number jumps ahead by
``RESTORE_SEQ_GAP``: agents refuse an order whose seq is not above the last they accepted (replay
guard), and they accepted orders after the backup was taken, which the restored database forgot.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import inspect, make_url, update

from broadcaster.clock import SystemClock
from broadcaster.config import Settings
from broadcaster.db import Database
from broadcaster.errors import Conflict, InvalidInput, ServiceFailure
from broadcaster.models import Cluster

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database/broadcaster.sqlite3"
PG_MEMBER = "database/postgresql.dump"
DATA_PREFIX = "data/"
SCHEDULES_PREFIX = "schedules/"
# Far more orders than a cluster receives between a backup and a disaster (a few dozen a day),
# and small enough for thousands of restores within a 32-bit seq.
RESTORE_SEQ_GAP = 100_000
_SQLITE_FILES = ("broadcaster.sqlite3", "broadcaster.sqlite3-wal", "broadcaster.sqlite3-shm", "broadcaster.sqlite3-journal")


class BackupUnreadable(InvalidInput):
    """The file is not a broadcaster backup (or it is damaged)."""

    code = "backup_unreadable"


class RestoreTargetNotEmpty(Conflict):
    """The data directory or database to restore into already holds a server's data."""

    code = "restore_target_not_empty"


class BackupToolFailed(ServiceFailure):
    """pg_dump / pg_restore failed (or is missing)."""

    code = "backup_tool_failed"


@dataclass(frozen=True)
class BackupSummary:
    """What a backup or restore did."""

    archive: Path
    backend: str
    created_at: str
    files: int
    clusters_advanced: int = 0


def backup(settings: Settings, archive: Path) -> BackupSummary:
    """Write a backup of the server these settings describe to ``archive`` (written atomically)."""
    url = settings.effective_database_url
    backend = "postgresql" if make_url(url).get_backend_name() == "postgresql" else "sqlite"
    created_at = SystemClock().now().isoformat()
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="broadcaster-backup-") as scratch:
        dump = Path(scratch) / "database"
        if backend == "sqlite":
            _sqlite_backup(make_url(url).database or "", dump)
        else:
            _run_pg_tool("pg_dump", url, ["--format=custom", "--no-owner", "--no-acl", "--file", str(dump)])
        partial = archive.with_name(f".{archive.name}.partial")
        files = 0
        with tarfile.open(partial, "w:gz") as tar:
            tar.add(dump, SQLITE_MEMBER if backend == "sqlite" else PG_MEMBER)
            files += _add_tree(tar, settings.data_dir, DATA_PREFIX, skip=set(_SQLITE_FILES))
            files += _add_tree(tar, settings.schedules_dir, SCHEDULES_PREFIX, skip=set())
            manifest = {"format": FORMAT, "backend": backend, "created_at": created_at, "files": files}
            _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=2).encode())
        os.replace(partial, archive)
    return BackupSummary(archive, backend, created_at, files)


def restore(settings: Settings, archive: Path) -> BackupSummary:
    """Restore ``archive`` into the (empty) data directory and database these settings describe."""
    url = settings.effective_database_url
    backend = "postgresql" if make_url(url).get_backend_name() == "postgresql" else "sqlite"
    with _open_archive(archive) as tar:
        manifest = _manifest(tar)
        if manifest["backend"] != backend:
            raise InvalidInput(
                f"Bản sao lưu là của cơ sở dữ liệu {manifest['backend']}, cấu hình hiện dùng {backend}.",
                code="backup_backend_mismatch")
        _check_empty(settings, url, backend)
        members = tar.getmembers()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        settings.schedules_dir.mkdir(parents=True, exist_ok=True)
        files = 0
        for member in members:
            for prefix, target in ((DATA_PREFIX, settings.data_dir), (SCHEDULES_PREFIX, settings.schedules_dir)):
                if member.name.startswith(prefix) and member.name != prefix.rstrip("/"):
                    member.name = member.name.removeprefix(prefix)
                    tar.extract(member, target, filter="data")  # refuses paths outside, keeps 0600
                    files += member.isfile()
        with tempfile.TemporaryDirectory(prefix="broadcaster-restore-") as scratch:
            name = SQLITE_MEMBER if backend == "sqlite" else PG_MEMBER
            dump = _extract_one(tar, name, Path(scratch))
            if backend == "sqlite":
                target = Path(make_url(url).database or "")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(dump, target)
            else:
                _run_pg_tool("pg_restore", url, ["--no-owner", "--no-acl", "--exit-on-error", str(dump)])
    db = Database(url)
    try:
        db.upgrade()  # a backup made by an older version
        with db.session() as s:
            advanced = s.execute(update(Cluster).values(order_seq=Cluster.order_seq + RESTORE_SEQ_GAP)).rowcount
    finally:
        db.dispose()
    return BackupSummary(archive, backend, str(manifest["created_at"]), files, int(advanced or 0))


# --- the pieces --------------------------------------------------------------------------------


def _sqlite_backup(source: str, target: Path) -> None:
    if not Path(source).is_file():
        raise InvalidInput(f"Không có cơ sở dữ liệu SQLite «{source}» để sao lưu.", code="database_missing")
    live, copy = sqlite3.connect(f"file:{source}?mode=ro", uri=True), sqlite3.connect(target)
    try:
        live.backup(copy)  # page by page, consistent even while the server writes
    finally:
        copy.close()
        live.close()


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parent.parent.name))
    if not candidates:
        raise BackupToolFailed(f"Không tìm thấy {name} (gói Debian postgresql-client).", detail=f"{name} not on PATH")
    return str(candidates[-1])


def _run_pg_tool(name: str, url: str, args: list[str]) -> None:
    parsed = make_url(url)
    env = {**os.environ}
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)  # not on the command line, where ps shows it
    libpq_url = parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    result = subprocess.run([_pg_tool(name), "--dbname", libpq_url, *args], env=env,
                            capture_output=True, text=True, check=False)  # fmt: skip
    if result.returncode != 0:
        raise BackupToolFailed(f"{name} thất bại: {result.stderr.strip()[-300:]}",
                               detail=f"{name} exited {result.returncode}: {result.stderr[-2000:]}")  # fmt: skip


def _add_tree(tar: tarfile.TarFile, root: Path, prefix: str, *, skip: set[str]) -> int:
    if not root.is_dir():
        return 0
    count = 0
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if relative.parts[0] in skip or path.is_symlink() or not (path.is_file() or path.is_dir()):
            continue
        tar.add(path, prefix + relative.as_posix(), recursive=False)  # mode, owner and mtime kept
        count += path.is_file()
    return count


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o600, int(SystemClock().now().timestamp())
    tar.addfile(info, io.BytesIO(data))


def _open_archive(archive: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(archive, "r:gz")
    except (OSError, tarfile.TarError, EOFError) as error:
        raise BackupUnreadable(f"Không đọc được tệp sao lưu «{archive}».", detail=str(error)) from None


def _manifest(tar: tarfile.TarFile) -> dict[str, object]:
    try:
        member = tar.extractfile(MANIFEST)
        manifest = json.loads(member.read()) if member is not None else None
    except (KeyError, ValueError, tarfile.TarError, EOFError, OSError) as error:
        raise BackupUnreadable("Tệp không phải bản sao lưu của broadcaster (thiếu manifest).",
                               detail=str(error)) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or manifest.get("backend") not in (
            "sqlite", "postgresql"):
        raise BackupUnreadable("Bản sao lưu có định dạng không hỗ trợ.", detail=f"manifest {manifest!r}")
    return manifest


def _extract_one(tar: tarfile.TarFile, name: str, directory: Path) -> Path:
    try:
        tar.extract(name, directory, filter="data")
    except (KeyError, tarfile.TarError, EOFError, OSError) as error:
        raise BackupUnreadable(f"Bản sao lưu thiếu hoặc hỏng phần «{name}».", detail=str(error)) from None
    return directory / name


def _check_empty(settings: Settings, url: str, backend: str) -> None:
    if (settings.data_dir / "keys").exists():
        raise RestoreTargetNotEmpty(
            f"Thư mục dữ liệu «{settings.data_dir}» đã có khóa của một máy chủ: chỉ khôi phục vào chỗ trống.")
    if backend == "sqlite":
        if Path(make_url(url).database or "").exists():
            raise RestoreTargetNotEmpty("Đã có cơ sở dữ liệu SQLite: chỉ khôi phục vào chỗ trống.")
        return
    db = Database(url)
    try:
        tables = inspect(db.engine).get_table_names()
    finally:
        db.dispose()
    if tables:
        raise RestoreTargetNotEmpty("Cơ sở dữ liệu PostgreSQL đã có bảng: chỉ khôi phục vào một cơ sở dữ liệu trống.")
