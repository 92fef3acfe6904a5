"""The agent's own health, sent with every heartbeat and shown by ``GET /status``.

What would keep the cluster from playing, each with a stable code and a Vietnamese message:
``storage_full`` / ``disk_space_low`` (the state directory's disk: downloads need room),
``store_unwritable`` / ``database_busy`` (the SQLite store takes a write: orders and reports
are kept there), ``server_unreachable`` (reports wait in the outbox).
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from broadcaster.agent.store import AgentStore
from broadcaster.delivery.orders import AgentProblem
from broadcaster.resource_faults import as_resource_error

log = logging.getLogger(__name__)


class _Reporter(Protocol):
    @property
    def failing(self) -> bool:
        """True while the server does not take reports."""
        ...


class _Fetcher(Protocol):
    @property
    def storage_error(self) -> str | None:
        """Why the last download could not be stored, if it could not."""
        ...


@dataclass(frozen=True)
class AgentHealth:
    """The problems found (none: healthy) and the free space of the state directory."""

    problems: list[AgentProblem]
    free_disk_bytes: int

    @property
    def status(self) -> str:
        """``ok`` or ``degraded``."""
        return "degraded" if self.problems else "ok"


class HealthWatch:
    """Checks disk, store, downloads and reports each time a heartbeat is built."""

    def __init__(self, state_dir: Path, store: AgentStore, fetcher: _Fetcher, reporter: _Reporter, *,
                 min_free_bytes: int) -> None:
        self._state_dir = state_dir
        self._store = store
        self._fetcher = fetcher
        self._reporter = reporter
        self._min_free_bytes = min_free_bytes

    def check(self) -> AgentHealth:
        """The agent's health now."""
        problems: list[AgentProblem] = []
        free = shutil.disk_usage(self._state_dir).free
        if free < self._min_free_bytes:
            problems.append(AgentProblem(
                code="disk_space_low" if free else "storage_full",
                message=f"Thẻ nhớ của cụm loa chỉ còn {free // 1024**2} MB trống "
                        f"(cần {self._min_free_bytes // 1024**2} MB để tải âm thanh)."))
        try:
            self._store.probe_write()
        except Exception as error:  # noqa: BLE001 - the answer is the problem reported
            fault = as_resource_error(error)
            code = fault.code if fault is not None else "store_unwritable"
            problems.append(AgentProblem(code=code, message="Cụm loa không ghi được vào bộ nhớ của mình "
                                                            f"(lệnh phát, báo cáo): {fault.message if fault else error}"))
        if self._fetcher.storage_error:
            problems.append(AgentProblem(code="storage_full", message="Không lưu được âm thanh tải về: "
                                                                      "thẻ nhớ đầy."))
        if self._reporter.failing:
            problems.append(AgentProblem(code="server_unreachable", message=(
                f"Chưa gửi được {self._store.outbox_count()} báo cáo về máy chủ; cụm loa vẫn phát và sẽ gửi lại.")))
        return AgentHealth(problems, free)
