"""Request and response bodies of the registry (communes, zones, clusters) and user endpoints."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, HttpUrl

from broadcaster.api.schemas.agent import PresenceOut
from broadcaster.api.schemas.common import Id, InputModel, LocalTime
from broadcaster.db import utc_now
from broadcaster.models import MAX_ID, Cluster, Commune, Role, User, Zone
from broadcaster.services.agent_reports import presence_of
from broadcaster.services.registry import ClusterFields


class CommuneCreate(InputModel):
    """A new commune (province admin only)."""

    code: str = Field(max_length=64, examples=["xa-tan-lap"])
    name: str = Field(max_length=200, examples=["Xã Tân Lập"])
    province: str = Field(default="", max_length=200)
    timetable: str = Field(default="default", max_length=64, description="Tên lịch phát trong thư mục schedules")
    four_eyes: bool = Field(default=True, description="Duyệt hai người: người soạn không tự duyệt bản tin của mình")


class CommuneUpdate(InputModel):
    """Changes to a commune; fields left out stay as they are."""

    name: str | None = Field(default=None, max_length=200)
    province: str | None = Field(default=None, max_length=200)
    timetable: str | None = Field(default=None, max_length=64)
    default_voice: str | None = Field(
        default=None, max_length=160, description="Giọng đọc mặc định (bộ-đọc:giọng, xem /api/v1/voices); \"\" là giọng của máy chủ",
        examples=["piper:vi_VN-vais1000-medium"],
    )
    speech_rate: float | None = Field(
        default=None, ge=0.0, le=2.0, description="Tốc độ đọc 0,5–2 (nhỏ hơn 1 là chậm hơn); 0: theo máy chủ"
    )
    four_eyes: bool | None = Field(default=None, description="Duyệt hai người (bật/tắt)")


class CommuneOut(BaseModel):
    """A commune."""

    id: int
    code: str
    name: str
    province: str
    timetable: str
    has_timetable_override: bool
    default_voice: str | None
    speech_rate: float | None
    four_eyes: bool
    created_at: LocalTime

    @classmethod
    def of(cls, commune: Commune) -> CommuneOut:
        """Build from the model."""
        return cls(id=commune.id, code=commune.code, name=commune.name, province=commune.province,
                   timetable=commune.timetable, has_timetable_override=commune.timetable_override is not None,
                   default_voice=commune.default_voice, speech_rate=commune.speech_rate,
                   four_eyes=commune.four_eyes, created_at=commune.created_at)


class ZoneBody(InputModel):
    """A zone (thôn, bản, tổ dân phố) name."""

    name: str = Field(max_length=200, examples=["Thôn Đông"])


class ZoneOut(BaseModel):
    """A zone."""

    id: int
    commune_id: int
    name: str

    @classmethod
    def of(cls, zone: Zone) -> ZoneOut:
        """Build from the model."""
        return cls(id=zone.id, commune_id=zone.commune_id, name=zone.name)


class ClusterBody(InputModel):
    """A speaker cluster's fields; on update, fields left out stay as they are (zone_id 0 clears the zone)."""

    name: str | None = Field(default=None, max_length=200, examples=["Cụm loa chợ"])
    zone_id: int | None = Field(default=None, ge=0, le=MAX_ID)
    agent_url: HttpUrl | Literal[""] | None = Field(default=None, description="Địa chỉ của máy điều khiển cụm loa")
    transport: Literal["pull", "http", "mqtt"] | None = None

    def values(self) -> ClusterFields:
        """The service's view of this body."""
        return ClusterFields(name=self.name, zone_id=self.zone_id,
                             agent_url=str(self.agent_url) if self.agent_url is not None else None,
                             transport=self.transport)


class ClusterOut(BaseModel):
    """A speaker cluster."""

    id: int
    commune_id: int
    zone_id: int | None
    name: str
    agent_url: str
    transport: str
    last_heartbeat_at: LocalTime | None
    presence: PresenceOut  # from the agent's heartbeats (delivery)

    @classmethod
    def of(cls, cluster: Cluster) -> ClusterOut:
        """Build from the model."""
        return cls(id=cluster.id, commune_id=cluster.commune_id, zone_id=cluster.zone_id, name=cluster.name,
                   agent_url=cluster.agent_url, transport=cluster.transport,
                   last_heartbeat_at=cluster.last_heartbeat_at,
                   presence=PresenceOut.of(presence_of(cluster, utc_now())))


class ClusterCreated(ClusterOut):
    """A new cluster, with its agent's secret (shown only this once: the server keeps only its public key)."""

    report_secret: str

    @classmethod
    def of(cls, cluster: Cluster, secret: str) -> ClusterCreated:  # type: ignore[override]
        """Build from the model and the secret just issued."""
        return cls(**ClusterOut.of(cluster).model_dump(), report_secret=secret)


class UserCreate(InputModel):
    """A new account; leave commune_id out for your own commune (or a province admin)."""

    username: str = Field(max_length=64, examples=["canbo.tanlap"])
    password: str = Field(max_length=256)
    role: Role
    commune_id: Id | None = None
    full_name: str = Field(default="", max_length=200)


class UserUpdate(InputModel):
    """Changes to an account; fields left out stay as they are. Disabling revokes its tokens."""

    full_name: str | None = Field(default=None, max_length=200)
    role: Role | None = None
    is_active: bool | None = None
    password: str | None = Field(default=None, max_length=256)


class UserOut(BaseModel):
    """An account (never its password hash)."""

    id: int
    username: str
    full_name: str
    role: Role
    commune_id: int | None
    is_active: bool
    created_at: LocalTime

    @classmethod
    def of(cls, user: User) -> UserOut:
        """Build from the model."""
        return cls(id=user.id, username=user.username, full_name=user.full_name, role=user.role,
                   commune_id=user.commune_id, is_active=user.is_active, created_at=user.created_at)


class LoginBody(InputModel):
    """User name and password."""

    username: str = Field(max_length=64)
    password: str = Field(max_length=256)


class TokenOut(BaseModel):
    """A bearer token: send it as ``Authorization: Bearer <access_token>``."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: LocalTime
    user: UserOut
