"""Request and response bodies of the bulletin endpoints."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from broadcaster.api.schemas.common import DayDate, Id, InputModel, LocalTime
from broadcaster.models import AuditEvent, Bulletin, BulletinStatus, Priority
from broadcaster.services.bulletins import MAX_REPEAT, BulletinChanges, BulletinFields

MAX_TARGETS = 500


class BulletinCreate(InputModel):
    """A text bulletin. Leave zone_ids and cluster_ids empty to air it in the whole commune."""

    title: str = Field(description="Tiêu đề", examples=["Thông báo tiêm phòng"])
    text: str = Field(description="Nội dung sẽ được đọc", examples=["Sáng mai 7 giờ, trạm y tế xã tiêm phòng."])
    priority: Priority = Priority.NORMAL
    commune_id: Id | None = Field(default=None, description="Chỉ cần với quản trị viên cấp tỉnh")
    zone_ids: list[Id] = Field(default_factory=list, max_length=MAX_TARGETS)
    cluster_ids: list[Id] = Field(default_factory=list, max_length=MAX_TARGETS)
    start_date: DayDate | None = Field(default=None, description="Ngày bắt đầu phát (mặc định: hôm nay)")
    end_date: DayDate | None = Field(default=None, description="Ngày cuối phát (mặc định: ngày bắt đầu)")
    repeat: int = Field(default=1, ge=1, le=MAX_REPEAT, description="Số lần đọc mỗi buổi")
    voice: str | None = Field(
        default=None, max_length=160, description="Giọng đọc (bộ-đọc:giọng, xem /api/v1/voices); mặc định: giọng của xã",
        examples=["piper:vi_VN-vais1000-medium"],
    )
    replay_in_sessions: bool = Field(
        default=False, description="Bản tin khẩn: phát lại trong các buổi hôm nay (mặc định chỉ phát một lần, ngay)")

    def fields(self, *, text: bool = True) -> BulletinFields:
        """The service's view of this body."""
        return BulletinFields(
            title=self.title, text=self.text if text else None, priority=self.priority, commune_id=self.commune_id,
            zone_ids=tuple(self.zone_ids), cluster_ids=tuple(self.cluster_ids), start_date=self.start_date,
            end_date=self.end_date, repeat=self.repeat, voice=self.voice, replay_in_sessions=self.replay_in_sessions,
        )


class EmergencyCreate(InputModel):
    """An emergency: aired at once on the targeted clusters, pre-empting whatever plays."""

    title: str = Field(examples=["Khẩn: bão số 3 đổ bộ"])
    text: str = Field(examples=["Đề nghị bà con khẩn trương chằng chống nhà cửa, không ra biển."])
    commune_id: Id | None = None
    zone_ids: list[Id] = Field(default_factory=list, max_length=MAX_TARGETS)
    cluster_ids: list[Id] = Field(default_factory=list, max_length=MAX_TARGETS)
    repeat: int = Field(default=3, ge=1, le=MAX_REPEAT)
    replay_in_sessions: bool = Field(
        default=False, description="Bản tin khẩn: phát lại trong các buổi hôm nay (mặc định chỉ phát một lần, ngay)")
    sole_leader_on_duty: bool = Field(
        default=False, description="Xã bật duyệt hai người: tôi là lãnh đạo trực duy nhất lúc này (ghi vào nhật ký)")

    def fields(self) -> BulletinFields:
        """The service's view of this body (the window is today)."""
        return BulletinFields(
            title=self.title, text=self.text, priority=Priority.EMERGENCY, commune_id=self.commune_id,
            zone_ids=tuple(self.zone_ids), cluster_ids=tuple(self.cluster_ids), repeat=self.repeat,
            replay_in_sessions=self.replay_in_sessions,
        )


class RecordingForm(InputModel):
    """The form fields that go with an uploaded recording (the ``file`` part)."""

    # The file part arrives in the same form; FastAPI hands it over separately, so it is not "extra".
    model_config = ConfigDict(extra="ignore")

    title: str
    priority: Priority = Priority.NORMAL
    commune_id: Id | None = None
    zone_ids: list[Id] = Field(default_factory=list, max_length=MAX_TARGETS)
    cluster_ids: list[Id] = Field(default_factory=list, max_length=MAX_TARGETS)
    start_date: DayDate | None = None
    end_date: DayDate | None = None
    repeat: int = Field(default=1, ge=1, le=MAX_REPEAT)
    replay_in_sessions: bool = Field(
        default=False, description="Bản tin khẩn: phát lại trong các buổi hôm nay (mặc định chỉ phát một lần, ngay)")
    sole_leader_on_duty: bool = Field(
        default=False, description="Chỉ với phát khẩn. Xã bật duyệt hai người: tôi là lãnh đạo trực duy nhất lúc này (ghi vào nhật ký)")

    def fields(self) -> BulletinFields:
        """The service's view of this form."""
        return BulletinFields(
            title=self.title, text=None, priority=self.priority, commune_id=self.commune_id,
            zone_ids=tuple(self.zone_ids), cluster_ids=tuple(self.cluster_ids), start_date=self.start_date,
            end_date=self.end_date, repeat=self.repeat, replay_in_sessions=self.replay_in_sessions,
        )


class BulletinUpdate(InputModel):
    """Changes to a draft; fields left out stay as they are."""

    title: str | None = None
    text: str | None = None
    priority: Priority | None = None
    zone_ids: list[Id] | None = Field(default=None, max_length=MAX_TARGETS)
    cluster_ids: list[Id] | None = Field(default=None, max_length=MAX_TARGETS)
    start_date: DayDate | None = None
    end_date: DayDate | None = None
    repeat: int | None = Field(default=None, ge=1, le=MAX_REPEAT)
    voice: str | None = Field(default=None, max_length=160, description="\"\": trở về giọng mặc định của xã")
    replay_in_sessions: bool | None = None

    def changes(self) -> BulletinChanges:
        """The service's view of this body."""
        return BulletinChanges(
            title=self.title, text=self.text, priority=self.priority,
            zone_ids=tuple(self.zone_ids) if self.zone_ids is not None else None,
            cluster_ids=tuple(self.cluster_ids) if self.cluster_ids is not None else None,
            start_date=self.start_date, end_date=self.end_date, repeat=self.repeat, voice=self.voice,
            replay_in_sessions=self.replay_in_sessions,
        )


class RejectBody(InputModel):
    """Why the bulletin is rejected (shown to its author)."""

    reason: str = Field(examples=["Sai ngày tiêm phòng, đề nghị sửa lại."])


class CancelBody(InputModel):
    """Why the bulletin is cancelled (optional)."""

    reason: str = Field(default="", max_length=2000)


class BulletinOut(BaseModel):
    """A bulletin as the API shows it."""

    id: int
    commune_id: int
    title: str
    kind: Literal["text", "recording"]
    text: str | None
    upload_sha256: str | None
    upload_filename: str | None
    priority: Priority
    target_all: bool
    zone_ids: list[int]
    cluster_ids: list[int]
    start_date: date
    end_date: date
    repeat: int
    voice: str | None = Field(description="Giọng đọc đã chọn; null: giọng mặc định của xã")
    replay_in_sessions: bool
    status: BulletinStatus
    author_id: int
    approver_id: int | None
    rejection_reason: str | None
    spoken_duration_s: float | None
    created_at: LocalTime
    updated_at: LocalTime
    submitted_at: LocalTime | None
    decided_at: LocalTime | None
    preview_url: str

    @classmethod
    def of(cls, bulletin: Bulletin) -> BulletinOut:
        """Build from the model (inside the request's session)."""
        return cls(
            id=bulletin.id, commune_id=bulletin.commune_id, title=bulletin.title,
            kind="recording" if bulletin.upload_sha256 else "text", text=bulletin.text,
            upload_sha256=bulletin.upload_sha256, upload_filename=bulletin.upload_filename,
            priority=bulletin.priority, target_all=bulletin.target_all,
            # A whole-commune bulletin has no zones or clusters (services.bulletins keeps it so): no need to load them.
            zone_ids=[] if bulletin.target_all else sorted(z.id for z in bulletin.zones),
            cluster_ids=[] if bulletin.target_all else sorted(c.id for c in bulletin.clusters),
            start_date=bulletin.start_date, end_date=bulletin.end_date, repeat=bulletin.repeat,
            voice=bulletin.voice, replay_in_sessions=bulletin.replay_in_sessions, status=bulletin.status,
            author_id=bulletin.author_id, approver_id=bulletin.approver_id,
            rejection_reason=bulletin.rejection_reason, spoken_duration_s=bulletin.spoken_duration_s,
            created_at=bulletin.created_at, updated_at=bulletin.updated_at, submitted_at=bulletin.submitted_at,
            decided_at=bulletin.decided_at, preview_url=f"/api/v1/bulletins/{bulletin.id}/preview",
        )


class BulletinList(BaseModel):
    """One page of bulletins and how many match in all."""

    items: list[BulletinOut]
    total: int


class EmergencyAiringOut(BaseModel):
    """The emergency's airing as it stands: handed off (when, which audio, where), or still on its way."""

    airing_id: int
    status: str = Field(description="planned (đang đưa lên loa hoặc sẽ thử lại), handed_off (đã giao cho các cụm "
                                    "loa), missed/failed (không phát được: xem note), cancelled")
    cluster_ids: list[int]
    play_at: LocalTime | None = Field(default=None, description="Giờ phát trên loa")
    audio_sha256: str | None = None
    duration_s: float | None = None
    failed_cluster_ids: list[int] = Field(default_factory=list)
    note: str | None = Field(default=None, description="Lý do nếu chưa phát, phát lại sau khởi động lại...")

    @classmethod
    def of(cls, airing: Any) -> EmergencyAiringOut:
        """Build from the programming service's ``EmergencyAiring``."""
        return cls(airing_id=airing.airing_id, status=airing.status, cluster_ids=list(airing.cluster_ids),
                   play_at=airing.play_at, audio_sha256=airing.audio_sha256, duration_s=airing.duration_s,
                   failed_cluster_ids=list(airing.failed_cluster_ids), note=airing.note)


class EmergencyOut(BaseModel):
    """An emergency bulletin, approved, and its airing (also when a retry with the same key asks again)."""

    bulletin: BulletinOut
    airing: EmergencyAiringOut


class AuditEventOut(BaseModel):
    """One entry of the audit log."""

    id: int
    at: LocalTime
    actor_id: int | None
    action: str
    object_type: str
    object_id: int | None
    details: dict[str, Any]

    @classmethod
    def of(cls, event: AuditEvent) -> AuditEventOut:
        """Build from the model."""
        return cls(id=event.id, at=event.at, actor_id=event.actor_id, action=event.action,
                   object_type=event.object_type, object_id=event.object_id, details=event.details)
