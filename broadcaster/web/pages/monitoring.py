"""Cụm loa (clusters, refreshing by themselves), Lịch phát (what will air) and Nhật ký phát thanh (the log)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

if TYPE_CHECKING:  # programming (and the speech stack) is imported only once a page needs it
    from broadcaster.services.programming import PlannedItem
    from broadcaster.services.timetables import UpcomingCluster, UpcomingSession

from broadcaster.api.deps import Bulletins, DbSession, RuntimeDep
from broadcaster.models import Commune, User
from broadcaster.services import broadcast_log, commune_overview, registry, timetable_access
from broadcaster.services.broadcast_log import LogFilters
from broadcaster.web import forms
from broadcaster.web.log_export import spreadsheet_csv
from broadcaster.web.pages.common import commune_choices, page_commune
from broadcaster.web.rendering import render
from broadcaster.web.routing import PageUser, WebRoute

router = APIRouter(route_class=WebRoute)
REFRESH_S = 5
LOG_ROWS = 500
LOG_DEFAULT_DAYS = 7
UPCOMING_CHOICES = (1, 3, 7, 14)


def _clusters_context(
    request: Request, session: DbSession, user: User, runtime: RuntimeDep, commune: Commune
) -> dict[str, object]:
    now = runtime.clock.now()
    return {
        "commune": commune,
        "states": commune_overview.cluster_states(session, user, commune.id, now),
        "checked_at": now,
        "refresh_s": REFRESH_S,
    }


@router.get("/cum-loa")
def clusters(
    request: Request, user: PageUser, session: DbSession, runtime: RuntimeDep, xa: str = ""
) -> Response:
    """Each cluster: online or not, last heartbeat, what it plays, its volume; the page refreshes itself."""
    commune = page_commune(session, user, xa)
    context = _clusters_context(request, session, user, runtime, commune)
    return render(request, "clusters.html", {**context, "communes": commune_choices(session, user)})


@router.get("/cum-loa/bang")
def clusters_table(
    request: Request, user: PageUser, session: DbSession, runtime: RuntimeDep, xa: str = ""
) -> Response:
    """Only the clusters' table: what the page's script fetches every few seconds."""
    commune = page_commune(session, user, xa)
    return render(
        request, "_clusters_table.html", _clusters_context(request, session, user, runtime, commune)
    )


@dataclass(frozen=True)
class PlanGroup:
    """Clusters of one coming session that air the same programme (shown once, with their names)."""

    cluster_ids: tuple[int, ...]
    cluster_names: tuple[str, ...]
    included: tuple[PlannedItem, ...]
    deferred: tuple[PlannedItem, ...]
    estimated_s: float


def group_plans(coming: UpcomingSession) -> list[PlanGroup]:
    """The session's cluster plans, clusters with the same bulletins in the same order merged."""
    groups: dict[tuple[tuple[int, ...], tuple[int, ...]], list[UpcomingCluster]] = {}
    for cluster in coming.clusters:
        if cluster.included or cluster.deferred:
            key = (
                tuple(i.bulletin_id for i in cluster.included),
                tuple(i.bulletin_id for i in cluster.deferred),
            )
            groups.setdefault(key, []).append(cluster)
    return [
        PlanGroup(
            tuple(c.cluster_id for c in members),
            tuple(c.cluster_name for c in members),
            members[0].included,
            members[0].deferred,
            max(c.estimated_s for c in members),
        )
        for members in groups.values()
    ]


@router.get("/lich-phat")
def timetable(
    request: Request, user: PageUser, session: DbSession, runtime: RuntimeDep, xa: str = "", so_ngay: str = ""
) -> Response:
    """The coming days: each session, what will air at each cluster, and what overflows to later."""
    from broadcaster.services.timetables import MAX_UPCOMING_DAYS

    commune = page_commune(session, user, xa)
    days = forms.number(so_ngay, "Số ngày", default=3, low=1, high=MAX_UPCOMING_DAYS)
    schedule = timetable_access.read(session, user, commune.id, runtime.timetables)
    upcoming = timetable_access.upcoming(session, user, commune.id, days, lambda: runtime.programming)
    return render(
        request,
        "timetable.html",
        {
            "commune": commune,
            "communes": commune_choices(session, user),
            "timetable": schedule,
            "sessions": [(coming, group_plans(coming)) for coming in upcoming],
            "days": days,
            "day_choices": UPCOMING_CHOICES,
        },
    )


@dataclass(frozen=True)
class LogQuery:
    """The log's filters as the address gives them (``?xa=&tu_ngay=&den_ngay=&cum=&ban_tin=``)."""

    xa: str
    tu_ngay: str
    den_ngay: str
    cum: str
    ban_tin: str


def log_query(xa: str = "", tu_ngay: str = "", den_ngay: str = "", cum: str = "", ban_tin: str = "") -> LogQuery:
    """Read the log's filters from the query string (a FastAPI dependency)."""
    return LogQuery(xa=xa, tu_ngay=tu_ngay, den_ngay=den_ngay, cum=cum, ban_tin=ban_tin)


LogQueryDep = Annotated[LogQuery, Depends(log_query)]


def _log_filters(
    session: DbSession, user: User, bulletins: Bulletins, query: LogQuery
) -> tuple[Commune, LogFilters, dict[str, str]]:
    commune = page_commune(session, user, query.xa)
    start = forms.optional_date(query.tu_ngay, "Từ ngày")
    if not query.tu_ngay.strip():
        start = bulletins.today() - timedelta(days=LOG_DEFAULT_DAYS - 1)
    end = forms.optional_date(query.den_ngay, "Đến ngày")
    values = {
        "xa": str(commune.id),
        "tu_ngay": forms.date_text(start),
        "den_ngay": forms.date_text(end),
        "cum": query.cum.strip(),
        "ban_tin": query.ban_tin.strip(),
    }
    filters = LogFilters(
        commune_id=commune.id,
        date_from=start,
        date_to=end,
        cluster_id=forms.optional_id(query.cum, "Cụm loa"),
        bulletin_id=forms.optional_id(query.ban_tin, "Mã bản tin"),
        limit=LOG_ROWS,
    )
    return commune, filters, values


@router.get("/nhat-ky")
def log_page(
    request: Request,
    user: PageUser,
    session: DbSession,
    bulletins: Bulletins,
    runtime: RuntimeDep,
    query: LogQueryDep,
) -> Response:
    """What aired where and when (or did not, and why), filtered by dates, cluster and bulletin."""
    commune, filters, values = _log_filters(session, user, bulletins, query)
    rows = broadcast_log.query_log(session, user, filters)
    labels = _session_labels(session, user, commune.id, runtime)
    return render(
        request,
        "log.html",
        {
            "commune": commune,
            "communes": commune_choices(session, user),
            "rows": rows,
            "filters": values,
            "clusters": registry.list_clusters(session, user, commune.id),
            "session_labels": labels,
            "limit": LOG_ROWS,
        },
    )


def _session_labels(session: DbSession, user: PageUser, commune_id: int, runtime: RuntimeDep) -> dict[str, str]:
    from broadcaster.services.programming.emergency import EMERGENCY_SESSION
    from broadcaster.services.programming.test_tone import TEST_TONE_SESSION

    schedule = timetable_access.read(session, user, commune_id, runtime.timetables)
    labels = {s.name: s.label for s in schedule.sessions} | {EMERGENCY_SESSION: "Phát khẩn cấp",
                                                             TEST_TONE_SESSION: "Phát thử"}
    return labels | {e.extra_name: e.label or "Buổi phát thêm" for e in schedule.exceptions if e.kind == "extra"}


@router.get("/nhat-ky.csv")
def log_csv(user: PageUser, session: DbSession, bulletins: Bulletins, runtime: RuntimeDep,
            query: LogQueryDep) -> Response:
    """The same rows as a spreadsheet in Vietnamese: headings, labels, dd/mm/yyyy times (UTF-8 with BOM)."""
    commune, filters, _ = _log_filters(session, user, bulletins, query)
    filters = dataclasses.replace(filters, limit=broadcast_log.MAX_ROWS)
    rows = broadcast_log.query_log(session, user, filters)
    body = spreadsheet_csv(rows, _session_labels(session, user, commune.id, runtime))
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="nhat-ky-phat-thanh.csv"',
            "Cache-Control": "no-store",
        },
    )
