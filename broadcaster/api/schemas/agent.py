"""Bodies of the agent endpoints (reports, heartbeats, public key) and a cluster's presence."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from broadcaster.api.schemas.common import LocalTime
from broadcaster.services.agent_reports import Presence, ReportReceipt


class ReportReceiptOut(BaseModel):
    """How many reports of the batch were new; the rest had arrived before (a resent batch)."""

    accepted: int
    duplicates: int
    rejected: int = Field(default=0, description="Báo cáo sai định dạng, bị bỏ qua")

    @classmethod
    def of(cls, receipt: ReportReceipt) -> ReportReceiptOut:
        """Build from the service's receipt."""
        return cls(accepted=receipt.accepted, duplicates=receipt.duplicates, rejected=receipt.rejected)


class PresenceOut(BaseModel):
    """Whether the cluster's agent is alive (a heartbeat within 2.5 intervals) and what it said last."""

    online: bool = Field(description="Có nhịp tim gần đây (trong 2,5 chu kỳ)")
    last_heartbeat_at: LocalTime | None = None
    status: str | None = Field(default=None, description="idle (đang nghỉ) hoặc playing (đang phát)")
    volume: int | None = Field(default=None, description="Âm lượng 0–100")
    now_playing: dict[str, Any] | None = Field(default=None, description="Lệnh đang phát: order_id, airing_id...")
    agent_version: str | None = None
    queue_length: int | None = Field(default=None, description="Số lệnh đang chờ trên cụm loa")
    health: str | None = Field(default=None, description="ok hoặc degraded (cụm loa tự đánh giá)")
    problems: list[dict[str, str]] = Field(default_factory=list, description="Lý do suy giảm: code, message")
    free_disk_bytes: int | None = Field(default=None, description="Dung lượng trống trên thẻ nhớ của cụm loa")
    clock_offset_ms: float | None = Field(
        default=None, description="Đồng hồ cụm loa trừ đồng hồ máy chủ (ms; dương: cụm loa chạy nhanh); cụm loa tự bù khi phát")
    link: str | None = Field(default=None, description="Kết nối nhận lệnh: connected (đang nối) hoặc disconnected")

    @classmethod
    def of(cls, presence: Presence) -> PresenceOut:
        """Build from the service's view."""
        return cls(online=presence.online, last_heartbeat_at=presence.last_heartbeat_at, status=presence.status,
                   volume=presence.volume, now_playing=presence.now_playing, agent_version=presence.agent_version,
                   queue_length=presence.queue_length, health=presence.health, problems=list(presence.problems),
                   free_disk_bytes=presence.free_disk_bytes, clock_offset_ms=presence.clock_offset_ms,
                   link=presence.link)


class PublicKeyOut(BaseModel):
    """The key agents verify orders with: paste ``public_key`` into the agent's server_public_keys."""

    key_id: str
    public_key: str = Field(description="Ed25519, 32 byte thô dạng base64")
    pem: str
