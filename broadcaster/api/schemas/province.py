"""Request and response bodies of the province bulletin endpoints (province → communes, TT39)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from broadcaster.api.schemas.common import DayDate, Id, InputModel
from broadcaster.models import BulletinStatus, Priority, ProvinceBulletin, ProvinceTarget, ProvinceTargetState
from broadcaster.services.bulletins import MAX_REPEAT
from broadcaster.services.province_bulletins import CommuneOutcome, ProvinceBulletinFields

MAX_COMMUNES = 1000


class ProvinceBulletinCreate(InputModel):
    """A province bulletin; leave commune_ids empty to send it to every commune of the province."""

    title: str = Field(description="Tiêu đề", examples=["Thông báo của UBND tỉnh về phòng chống bão"])
    text: str = Field(description="Nội dung sẽ được đọc")
    priority: Priority = Priority.NORMAL
    commune_ids: list[Id] = Field(default_factory=list, max_length=MAX_COMMUNES,
                                  description="Các xã/phường nhận (để trống: toàn tỉnh)")
    start_date: DayDate | None = None
    end_date: DayDate | None = None
    repeat: int = Field(default=1, ge=1, le=MAX_REPEAT)

    def fields(self) -> ProvinceBulletinFields:
        """The service's view of this body."""
        return ProvinceBulletinFields(title=self.title, text=self.text, priority=self.priority,
                                      commune_ids=tuple(self.commune_ids), start_date=self.start_date,
                                      end_date=self.end_date, repeat=self.repeat)


class AcceptBody(InputModel):
    """The dates the commune airs a normal province bulletin in its sessions (default: the province's window)."""

    start_date: DayDate | None = None
    end_date: DayDate | None = None


class DeclineBody(InputModel):
    """Why the commune does not air the bulletin."""

    reason: str = Field(max_length=2000, examples=["Xã đã phát thông báo này trong buổi sáng."])


class ProvinceBulletinOut(BaseModel):
    """A province bulletin as the province sees it."""

    id: int
    title: str
    text: str
    priority: Priority
    status: BulletinStatus
    start_date: date
    end_date: date
    repeat: int
    author_id: int
    approver_id: int | None
    rejection_reason: str | None
    created_at: datetime
    commune_ids: list[int]

    @classmethod
    def of(cls, bulletin: ProvinceBulletin) -> ProvinceBulletinOut:
        """The body for one province bulletin."""
        return cls(id=bulletin.id, title=bulletin.title, text=bulletin.text, priority=bulletin.priority,
                   status=bulletin.status, start_date=bulletin.start_date, end_date=bulletin.end_date,
                   repeat=bulletin.repeat, author_id=bulletin.author_id, approver_id=bulletin.approver_id,
                   rejection_reason=bulletin.rejection_reason, created_at=bulletin.created_at,
                   commune_ids=[t.commune_id for t in bulletin.targets])


class InboxItemOut(BaseModel):
    """A province bulletin in one commune's inbox, and what the commune made of it."""

    province_bulletin_id: int
    title: str
    text: str
    priority: Priority
    start_date: date
    end_date: date
    state: ProvinceTargetState
    bulletin_id: int | None = Field(description="Bản tin của xã (bản sao) sẽ phát, nếu có")
    decline_reason: str | None

    @classmethod
    def of(cls, target: ProvinceTarget) -> InboxItemOut:
        """The body for one commune's place in a province bulletin."""
        bulletin = target.province_bulletin
        return cls(province_bulletin_id=bulletin.id, title=bulletin.title, text=bulletin.text,
                   priority=bulletin.priority, start_date=bulletin.start_date, end_date=bulletin.end_date,
                   state=target.state, bulletin_id=target.bulletin_id, decline_reason=target.decline_reason)


class CommuneOutcomeOut(BaseModel):
    """One commune's line of a province bulletin's report."""

    commune_id: int
    commune_name: str
    outcome: str = Field(description="aired (đã phát), declined (xã từ chối) hoặc pending (chưa phát)")
    state: ProvinceTargetState
    bulletin_id: int | None
    decline_reason: str | None
    clusters_played: int
    clusters_missed: int

    @classmethod
    def of(cls, outcome: CommuneOutcome) -> CommuneOutcomeOut:
        """The body for one report line."""
        return cls(**outcome.__dict__)


class ProvinceReportOut(BaseModel):
    """A province bulletin and, per commune, what became of it."""

    bulletin: ProvinceBulletinOut
    communes: list[CommuneOutcomeOut]
