"""The broadcast log: what aired where and when, as JSON or as a CSV export."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from broadcaster.api.deps import CurrentUser, DbSession
from broadcaster.api.schemas.common import ERROR_RESPONSES, DayDate, Id, LocalTime
from broadcaster.services import broadcast_log
from broadcaster.services.broadcast_log import LogFilters

router = APIRouter(prefix="/broadcast-log", tags=["nhật ký phát"], responses=ERROR_RESPONSES)


class LogRowOut(BaseModel):
    """One bulletin of one airing at one cluster (cluster and bulletin empty when the airing had none)."""

    model_config = ConfigDict(from_attributes=True)

    airing_id: int
    commune_id: int
    kind: str
    session_name: str
    starts_at: LocalTime
    airing_status: str
    note: str | None
    cluster_id: int | None
    cluster_name: str | None
    delivery_state: str | None
    play_at: LocalTime | None
    played_at: LocalTime | None
    delivery_error: str | None
    play_count: int | None = Field(description="Số lần bắt đầu phát tại cụm loa (hơn 1: bị ngắt rồi phát lại)")
    plays: str | None = Field(description="Từng lần phát: giờ bắt đầu, trọn hay dở và vì sao")
    bulletin_id: int | None
    bulletin_title: str | None
    item_status: str | None
    position: int | None
    duration_s: float | None


def _filters(
    commune_id: Annotated[Id | None, Query()] = None,
    date_from: Annotated[DayDate | None, Query(description="Từ ngày (giờ Việt Nam)")] = None,
    date_to: Annotated[DayDate | None, Query(description="Đến hết ngày (giờ Việt Nam)")] = None,
    cluster_id: Annotated[Id | None, Query()] = None,
    bulletin_id: Annotated[Id | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=broadcast_log.MAX_ROWS)] = 1000,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> LogFilters:
    return LogFilters(commune_id=commune_id, date_from=date_from, date_to=date_to, cluster_id=cluster_id,
                      bulletin_id=bulletin_id, limit=limit, offset=offset)


LogFilterDep = Annotated[LogFilters, Depends(_filters)]


@router.get("", response_model=list[LogRowOut])
def read_log(user: CurrentUser, session: DbSession, filters: LogFilterDep) -> list[LogRowOut]:
    """Log rows, oldest airing first; filter by dates, cluster and bulletin."""
    return [LogRowOut.model_validate(row) for row in broadcast_log.query_log(session, user, filters)]


@router.get(".csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}, "description": "Nhật ký phát dạng CSV (UTF-8)"}})
def export_log(user: CurrentUser, session: DbSession, filters: LogFilterDep) -> Response:
    """The same rows as CSV, for a spreadsheet."""
    body = broadcast_log.to_csv(broadcast_log.query_log(session, user, filters))
    return Response(content=body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="nhat-ky-phat.csv"'})
