"""The data model (SQLAlchemy 2). Times are aware UTC in storage; shown in Asia/Ho_Chi_Minh.

Vocabulary:
- an *Airing* is one time a commune's loudspeakers air a programme: a timetable session occurrence
  (e.g. 2026-12-01 morning) or an emergency;
- an *AiringItem* is one bulletin placed in an airing (or deferred from it because the session was full);
- a *Delivery* is one airing at one cluster: the programme audio sent there and what the agent reported.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from broadcaster.db import AwareDateTime, utc_now

# Ids are INTEGER columns: 32-bit on PostgreSQL. Input is checked against this before any query,
# so a larger number is a clear validation error, not a database overflow.
MAX_ID = 2**31 - 1


class Base(DeclarativeBase):
    """Declarative base; every table of broadcaster hangs off its metadata."""

    type_annotation_map = {datetime: AwareDateTime()}


def _enum(cls: type[enum.Enum]) -> Enum:
    # Store the value strings, not names, and no native DB enum: migrations stay simple.
    return Enum(cls, values_callable=lambda e: [m.value for m in e], native_enum=False, length=20)


class Role(enum.StrEnum):
    """What a user may do; each role includes the ones before it."""

    OFFICER = "officer"  # cán bộ văn hóa xã: writes and submits bulletins
    APPROVER = "approver"  # lãnh đạo xã: approves, rejects, sends emergencies
    ADMIN = "admin"  # manages the registry and users; with no commune, acts on the whole province


class Priority(enum.StrEnum):
    """Circular 39/2020/TT-BTTTT: normal airs next session, priority goes first, emergency airs at once."""

    NORMAL = "normal"
    PRIORITY = "priority"
    EMERGENCY = "emergency"


class BulletinStatus(enum.StrEnum):
    """draft → submitted → approved → aired | expired; also rejected and cancelled."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    AIRED = "aired"
    EXPIRED = "expired"


class AiringKind(enum.StrEnum):
    """Whether an airing comes from the timetable, is an emergency, or a test tone at one cluster."""

    SESSION = "session"
    EMERGENCY = "emergency"
    TEST = "test"


class AiringStatus(enum.StrEnum):
    """Life of one airing, as the scheduler sees it."""

    PLANNED = "planned"  # composed or about to be
    HANDED_OFF = "handed_off"  # programmes rendered and given to delivery
    AIRED = "aired"
    AIRED_LATE = "aired_late"  # the server was down at session time but came back within grace
    MISSED = "missed"  # the server was down past grace
    FAILED = "failed"  # could never air (an emergency whose recording is gone...): the note says why
    CANCELLED = "cancelled"
    EMPTY = "empty"  # nothing approved to air


class AiringItemStatus(enum.StrEnum):
    """One bulletin's place in an airing."""

    INCLUDED = "included"
    DEFERRED = "deferred"  # did not fit the session length; moves to the next session


class DeliveryState(enum.StrEnum):
    """One airing at one cluster, as reported by the transport and the agent."""

    PENDING = "pending"
    SENT = "sent"
    RECEIVED = "received"
    DOWNLOADED = "downloaded"
    PLAYED = "played"
    FAILED = "failed"
    MISSED = "missed"
    CANCELLED = "cancelled"


class Commune(Base):
    """A commune (xã, phường, thị trấn): the unit of scoping."""

    __tablename__ = "communes"
    # SQLite would otherwise hand a deleted commune's id to the next one, and the audit log's old
    # events (which keep commune ids) would then read as the new commune's.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    province: Mapped[str] = mapped_column(String(200), default="")
    timetable: Mapped[str] = mapped_column(String(64), default="default")  # a schedules/*.yaml name
    timetable_override: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    # Dated changes to the sessions (holidays, extra sessions, a changed length), see ``timetable``.
    timetable_exceptions: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, default=None)
    # How its bulletins are read: a voice ("engine:voice") and a speaking-rate factor; None: the server's.
    default_voice: Mapped[str | None] = mapped_column(String(160), default=None)
    speech_rate: Mapped[float | None] = mapped_column(default=None)
    # Four eyes: a bulletin needs an approver other than its author (services.workflow explains the exception).
    four_eyes: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(default=utc_now)

    zones: Mapped[list[Zone]] = relationship(back_populates="commune", cascade="all, delete-orphan")
    clusters: Mapped[list[Cluster]] = relationship(back_populates="commune", cascade="all, delete-orphan")


class Zone(Base):
    """A village (thôn, bản, tổ dân phố) inside a commune."""

    __tablename__ = "zones"
    __table_args__ = (UniqueConstraint("commune_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    commune_id: Mapped[int] = mapped_column(ForeignKey("communes.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))

    commune: Mapped[Commune] = relationship(back_populates="zones")
    clusters: Mapped[list[Cluster]] = relationship(back_populates="zone")


class Cluster(Base):
    """A speaker cluster (cụm loa): one agent, several horns."""

    __tablename__ = "clusters"
    __table_args__ = (UniqueConstraint("commune_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    commune_id: Mapped[int] = mapped_column(ForeignKey("communes.id", ondelete="CASCADE"), index=True)
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zones.id", ondelete="SET NULL"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    agent_url: Mapped[str] = mapped_column(String(500), default="")  # where the http transport pushes orders
    transport: Mapped[str] = mapped_column(String(32), default="pull")
    # Only public halves are stored (delivery/agent_auth.py): a read-only leak cannot forge the agent.
    agent_public_key: Mapped[str] = mapped_column(String(64), default="")  # Ed25519, base64
    broker_password_hash: Mapped[str] = mapped_column(String(255), default="")  # Mosquitto PBKDF2 line
    # The transport's own view: is the agent's connection (pull) or broker session (mqtt) up?
    link_state: Mapped[str | None] = mapped_column(String(16), default=None)
    link_changed_at: Mapped[datetime | None] = mapped_column(default=None)
    last_heartbeat_at: Mapped[datetime | None] = mapped_column(default=None)
    last_status: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)  # volume, playing, version
    order_seq: Mapped[int] = mapped_column(Integer, default=0)  # last sequence number issued to this cluster
    volume: Mapped[int | None] = mapped_column(Integer, default=None)  # set from the pages; None: the agent's own
    # A retired cluster gets no more programmes and its secret is revoked; its log history stays.
    retired_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)

    commune: Mapped[Commune] = relationship(back_populates="clusters")
    zone: Mapped[Zone | None] = relationship(back_populates="clusters")


class User(Base):
    """A person who logs in: officer, approver or admin of one commune, or a province admin (no commune)."""

    __tablename__ = "users"
    __table_args__ = {"sqlite_autoincrement": True}  # ids in the audit log are never reused (see Commune)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[Role] = mapped_column(_enum(Role))
    commune_id: Mapped[int | None] = mapped_column(ForeignKey("communes.id", ondelete="CASCADE"), index=True)
    password_hash: Mapped[str] = mapped_column(String(256))  # argon2
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Set when an admin resets the password: the user must choose their own before anything else.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utc_now)

    commune: Mapped[Commune | None] = relationship()


class ApiToken(Base):
    """A bearer token; only its sha256 is stored (tokens are random 256-bit, so no slow hash is needed)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)

    user: Mapped[User] = relationship()


bulletin_zones = Table(
    "bulletin_zones",
    Base.metadata,
    Column("bulletin_id", ForeignKey("bulletins.id", ondelete="CASCADE"), primary_key=True),
    Column("zone_id", ForeignKey("zones.id", ondelete="CASCADE"), primary_key=True),
)

bulletin_clusters = Table(
    "bulletin_clusters",
    Base.metadata,
    Column("bulletin_id", ForeignKey("bulletins.id", ondelete="CASCADE"), primary_key=True),
    Column("cluster_id", ForeignKey("clusters.id", ondelete="CASCADE"), primary_key=True),
)


class Bulletin(Base):
    """An announcement: text to synthesize, or an uploaded recording (e.g. in Tày or Mông)."""

    __tablename__ = "bulletins"
    __table_args__ = (
        UniqueConstraint("author_id", "idempotency_key"),
        Index("ix_bulletins_commune_status", "commune_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    commune_id: Mapped[int] = mapped_column(ForeignKey("communes.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(300))
    text: Mapped[str | None] = mapped_column(Text, default=None)
    # An uploaded recording is stored once under data_dir/uploads/<sha256>; the bulletin names it.
    upload_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    upload_filename: Mapped[str | None] = mapped_column(String(300), default=None)
    priority: Mapped[Priority] = mapped_column(_enum(Priority), default=Priority.NORMAL)
    target_all: Mapped[bool] = mapped_column(Boolean, default=True)  # the whole commune
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    repeat: Mapped[int] = mapped_column(Integer, default=1)  # times read per airing
    voice: Mapped[str | None] = mapped_column(String(160), default=None)  # "engine:voice"; None: the commune's
    status: Mapped[BulletinStatus] = mapped_column(_enum(BulletinStatus), default=BulletinStatus.DRAFT)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    approver_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    rejection_reason: Mapped[str | None] = mapped_column(Text, default=None)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), default=None)
    spoken_duration_s: Mapped[float | None] = mapped_column(default=None)  # known once rendered
    # An emergency airs once, at once; only when asked at submission is it also read in today's sessions.
    replay_in_sessions: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # A commune's copy of a province bulletin (services.province_bulletins): read-only to the commune.
    province_bulletin_id: Mapped[int | None] = mapped_column(
        ForeignKey("province_bulletins.id", ondelete="SET NULL"), index=True, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)
    submitted_at: Mapped[datetime | None] = mapped_column(default=None)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)  # approved or rejected

    commune: Mapped[Commune] = relationship()
    author: Mapped[User] = relationship(foreign_keys=[author_id])
    approver: Mapped[User | None] = relationship(foreign_keys=[approver_id])
    zones: Mapped[list[Zone]] = relationship(secondary=bulletin_zones)
    clusters: Mapped[list[Cluster]] = relationship(secondary=bulletin_clusters)


class ProvinceTargetState(enum.StrEnum):
    """Where a province bulletin stands in one commune."""

    PENDING = "pending"  # normal: in the commune's inbox, not decided yet (or not approved yet)
    ACCEPTED = "accepted"  # normal: the commune chose when to air it; priority/emergency: sent by the province
    DECLINED = "declined"  # normal: the commune declined it, with a reason


class ProvinceBulletin(Base):
    """A bulletin the province (its source information system, TT39) sends to several or all communes."""

    __tablename__ = "province_bulletins"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    priority: Mapped[Priority] = mapped_column(_enum(Priority), default=Priority.NORMAL)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    repeat: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[BulletinStatus] = mapped_column(_enum(BulletinStatus), default=BulletinStatus.SUBMITTED)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    approver_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    rejection_reason: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)

    author: Mapped[User] = relationship(foreign_keys=[author_id])
    targets: Mapped[list[ProvinceTarget]] = relationship(
        back_populates="province_bulletin", cascade="all, delete-orphan", order_by="ProvinceTarget.commune_id")


class ProvinceTarget(Base):
    """One commune a province bulletin goes to, and what became of it there."""

    __tablename__ = "province_targets"
    __table_args__ = (UniqueConstraint("province_bulletin_id", "commune_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    province_bulletin_id: Mapped[int] = mapped_column(ForeignKey("province_bulletins.id", ondelete="CASCADE"))
    commune_id: Mapped[int] = mapped_column(ForeignKey("communes.id", ondelete="CASCADE"), index=True)
    state: Mapped[ProvinceTargetState] = mapped_column(_enum(ProvinceTargetState),
                                                       default=ProvinceTargetState.PENDING)
    bulletin_id: Mapped[int | None] = mapped_column(ForeignKey("bulletins.id", ondelete="SET NULL"), default=None)
    decline_reason: Mapped[str | None] = mapped_column(Text, default=None)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)

    province_bulletin: Mapped[ProvinceBulletin] = relationship(back_populates="targets")
    commune: Mapped[Commune] = relationship()


class Airing(Base):
    """One airing of a commune's programme: a timetable session occurrence or an emergency."""

    __tablename__ = "airings"
    __table_args__ = (UniqueConstraint("commune_id", "session_name", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    commune_id: Mapped[int] = mapped_column(ForeignKey("communes.id", ondelete="CASCADE"), index=True)
    kind: Mapped[AiringKind] = mapped_column(_enum(AiringKind))
    session_name: Mapped[str] = mapped_column(String(64))  # e.g. "morning"; "emergency" for emergencies
    starts_at: Mapped[datetime] = mapped_column(index=True)
    max_duration_s: Mapped[float] = mapped_column(default=900.0)
    status: Mapped[AiringStatus] = mapped_column(_enum(AiringStatus), default=AiringStatus.PLANNED)
    note: Mapped[str | None] = mapped_column(Text, default=None)  # why late / missed / empty
    composed_at: Mapped[datetime | None] = mapped_column(default=None)  # when a process claimed it to compose
    # Which process claimed it (``host:pid:node``): a restarted node knows its own dead claims.
    claimed_by: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)

    items: Mapped[list[AiringItem]] = relationship(
        back_populates="airing", cascade="all, delete-orphan", order_by="AiringItem.position"
    )
    deliveries: Mapped[list[Delivery]] = relationship(back_populates="airing", cascade="all, delete-orphan")


class AiringItem(Base):
    """A bulletin placed in an airing, or deferred from it for lack of room."""

    __tablename__ = "airing_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    airing_id: Mapped[int] = mapped_column(ForeignKey("airings.id", ondelete="CASCADE"), index=True)
    bulletin_id: Mapped[int] = mapped_column(ForeignKey("bulletins.id", ondelete="CASCADE"), index=True)
    # Items are per cluster: a commune's clusters hear different bulletins (targets) and fill up
    # differently, so one bulletin can be included at one cluster and deferred at another.
    cluster_id: Mapped[int | None] = mapped_column(
        ForeignKey("clusters.id", ondelete="CASCADE"), index=True, default=None
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[AiringItemStatus] = mapped_column(_enum(AiringItemStatus))
    duration_s: Mapped[float | None] = mapped_column(default=None)  # with repeats

    airing: Mapped[Airing] = relationship(back_populates="items")
    bulletin: Mapped[Bulletin] = relationship()


class Delivery(Base):
    """One airing at one cluster: the programme sent there and the agent's reports."""

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("airing_id", "cluster_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    airing_id: Mapped[int] = mapped_column(ForeignKey("airings.id", ondelete="CASCADE"), index=True)
    cluster_id: Mapped[int] = mapped_column(ForeignKey("clusters.id", ondelete="CASCADE"), index=True)
    audio_sha256: Mapped[str] = mapped_column(String(64), index=True)  # /audio finds what to re-render by it
    audio_size: Mapped[int] = mapped_column(Integer)
    duration_s: Mapped[float] = mapped_column()
    play_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    order_id: Mapped[str | None] = mapped_column(String(64), default=None)
    order_seq: Mapped[int | None] = mapped_column(Integer, default=None)
    state: Mapped[DeliveryState] = mapped_column(_enum(DeliveryState), default=DeliveryState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    downloaded_at: Mapped[datetime | None] = mapped_column(default=None)
    played_at: Mapped[datetime | None] = mapped_column(default=None)  # the start time the agent measured
    # Every start the agent reported, partial ones included (stopped, pre-empted, replaced):
    # [{"order_id", "started_at", "ended_at", "completed", "reason"}], oldest first.
    plays: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)

    airing: Mapped[Airing] = relationship(back_populates="deliveries")
    cluster: Mapped[Cluster] = relationship()


class AuditEvent(Base):
    """Append-only record of who did what and when (submit, edit, approve, reject, cancel, emergency...)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utc_now, index=True)
    # Plain ids, no foreign keys: evidence keeps the ids it was written with after the user or
    # commune is deleted (a SET NULL would be an update, which the append-only triggers refuse).
    actor_id: Mapped[int | None] = mapped_column(Integer, index=True)
    commune_id: Mapped[int | None] = mapped_column(Integer, index=True)
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class LoginThrottle(Base):
    """Failed logins of one (account, address) pair or one address, shared by every server replica.

    ``key`` is the sha256 of the scope and what it names, so user names typed by strangers (or a
    password typed into the user name box) are not stored in clear.
    """

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))  # "pair" or "address"
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(index=True)
    blocked_until: Mapped[datetime | None] = mapped_column(default=None)
class LexiconEntry(Base):
    """One entry of a commune's own lexicon ("Từ điển địa phương"): how the voice reads a written form.

    Officers edit these on the page; they override the built-in lexicon for that commune only,
    from the next rendering on. Who changed what is in the audit log (object_type "lexicon_entry").
    """

    __tablename__ = "lexicon_entries"
    __table_args__ = (UniqueConstraint("commune_id", "written", name="uq_lexicon_entries_commune_written"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    commune_id: Mapped[int] = mapped_column(ForeignKey("communes.id", ondelete="CASCADE"), index=True)
    written: Mapped[str] = mapped_column(String(120))
    spoken: Mapped[str] = mapped_column(String(400))
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class SchedulerLease(Base):
    """Who runs the scheduler: one row per lock name, held by one process while it renews the lease."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column()


class ServiceNode(Base):
    """A server process's node and its last sign of life (``/health`` writes it: the database takes writes)."""

    __tablename__ = "service_nodes"

    node_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))  # host:pid:node of the process that wrote last
    seen_at: Mapped[datetime] = mapped_column()


class OrderStatus(enum.StrEnum):
    """Where one signed order stands on its way to its cluster (the transport's view)."""

    QUEUED = "queued"  # signed and stored; being delivered, with retries
    ACCEPTED = "accepted"  # the agent (or the transport's medium) took it
    REFUSED = "refused"  # the agent refused it; last_error says why
    EXPIRED = "expired"  # not delivered before expires_at
    CANCELLED = "cancelled"  # withdrawn before delivery (a stop, or a newer programme for the airing)


class DeliveryOrder(Base):
    """One signed order to one cluster, kept exactly as signed: the server's outbox, resumed after a restart.

    Apart from ``Delivery`` (which programming rewrites when it composes an airing again) so that
    re-handing off the same airing finds the order already issued and sends the same bytes.
    """

    __tablename__ = "delivery_orders"
    __table_args__ = (Index("ix_delivery_orders_airing_cluster", "airing_id", "cluster_id"),)

    order_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    airing_id: Mapped[int] = mapped_column(ForeignKey("airings.id", ondelete="CASCADE"))
    cluster_id: Mapped[int] = mapped_column(ForeignKey("clusters.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # "play" or "stop"
    priority: Mapped[Priority] = mapped_column(_enum(Priority))
    seq: Mapped[int] = mapped_column(Integer)
    envelope: Mapped[str] = mapped_column(Text)  # the signed JSON, byte for byte as sent
    audio_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    status: Mapped[OrderStatus] = mapped_column(_enum(OrderStatus), default=OrderStatus.QUEUED, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    play_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    accepted_at: Mapped[datetime | None] = mapped_column(default=None)


class AgentReportRecord(Base):
    """One report an agent sent, kept once per report_id (agents resend a batch whose answer was lost)."""

    __tablename__ = "agent_reports"

    report_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    cluster_id: Mapped[int] = mapped_column(ForeignKey("clusters.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(20))
    order_id: Mapped[str | None] = mapped_column(String(36), index=True, default=None)
    at: Mapped[datetime] = mapped_column()  # the agent's clock
    received_at: Mapped[datetime] = mapped_column(default=utc_now, index=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
