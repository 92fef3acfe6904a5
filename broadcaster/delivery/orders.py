"""The signed play order: the only thing a speaker cluster obeys.

Wire format (one HTTP body, UTF-8 JSON)::

    {"order": {...PlayOrder fields...}, "signature": "<base64 Ed25519 signature>"}

The signature covers the *canonical serialization* of the ``order`` object exactly as it
travels: ``json.dumps(order, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``
encoded as UTF-8 — keys sorted, no spaces, non-ASCII characters written as themselves.
An order holds only strings, integers and null (no floats), so that form is unambiguous in
any language. The verifier canonicalizes the object it *received* (not a re-serialized
model), so it checks exactly the bytes the signer signed, whatever JSON library either uses.

Verification errors (``OrderRejected`` and below) carry stable codes: ``order_malformed``,
``order_bad_signature``, ``order_wrong_cluster``, ``order_expired``, ``order_replayed``.
Replay detection needs the agent's memory of seen orders, so ``OrderReplayed`` is raised by
the agent's store, but it lives here with its family.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID
from zoneinfo import ZoneInfo

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from broadcaster.config import TIMEZONE
from broadcaster.delivery.keys import key_id_of
from broadcaster.errors import InvalidInput

LOCAL_ZONE = ZoneInfo(TIMEZONE)
# Cluster ids appear in file names, URLs and logs: keep them plain.
CLUSTER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"
MAX_ENVELOPE_BYTES = 64 * 1024


# --- errors --------------------------------------------------------------------------------


class OrderRejected(InvalidInput):
    """An order the agent will not act on. ``order`` is set when the server provably issued it."""

    code = "order_rejected"
    status = 400

    def __init__(self, message: str, *, detail: str | None = None, order: PlayOrder | None = None) -> None:
        super().__init__(message, detail=detail)
        # Only an order whose signature checked out can be blamed on (and reported to) the server.
        self.order = order


class OrderMalformed(OrderRejected):
    """Not an envelope, or the order inside it breaks the format."""

    code = "order_malformed"
    status = 400


class OrderBadSignature(OrderRejected):
    """The signature does not match the order under any key this agent trusts."""

    code = "order_bad_signature"
    status = 401


class OrderWrongCluster(OrderRejected):
    """A genuine order, but for another cluster."""

    code = "order_wrong_cluster"
    status = 403


class OrderExpired(OrderRejected):
    """A genuine order that arrived after its ``expires_at``."""

    code = "order_expired"
    status = 410


class OrderReplayed(OrderRejected):
    """An order already seen, or older (by ``seq``) than the last one accepted."""

    code = "order_replayed"
    status = 409
    # True when it is byte-for-byte an order already accepted: a retry whose answer was lost.
    duplicate: bool = False


# --- the order -----------------------------------------------------------------------------


class Priority(StrEnum):
    """How urgent an airing is; only ``emergency`` interrupts what is playing."""

    NORMAL = "normal"
    PRIORITY = "priority"
    EMERGENCY = "emergency"


class OrderKind(StrEnum):
    """``play`` airs audio at ``play_at``; ``stop`` ends or cancels every order of the airing."""

    PLAY = "play"
    STOP = "stop"


ClusterId = Annotated[str, Field(pattern=CLUSTER_ID_PATTERN)]


class PlayOrder(BaseModel):
    """One instruction to one cluster. Times are aware and written in Asia/Ho_Chi_Minh."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    order_id: UUID
    seq: StrictInt = Field(ge=1, description="monotonic per cluster; the agent refuses seq <= last accepted")
    cluster_id: ClusterId
    airing_id: str = Field(min_length=1, max_length=128)
    kind: OrderKind = OrderKind.PLAY
    priority: Priority = Priority.NORMAL
    audio_sha256: str | None = Field(default=None, pattern=SHA256_PATTERN)
    audio_size: StrictInt | None = Field(default=None, ge=1)
    audio_url: str | None = Field(default=None, max_length=2048)
    play_at: AwareDatetime = Field(description="play orders: start; stop orders: when to stop")
    expires_at: AwareDatetime = Field(description="latest start; after it the order is missed")
    issued_at: AwareDatetime
    key_id: str = Field(min_length=1, max_length=64)
    # The volume (0–100) an admin set for the cluster; absent: the agent's own configured volume.
    volume: StrictInt | None = Field(default=None, ge=0, le=100)

    @field_validator("play_at", "expires_at", "issued_at")
    @classmethod
    def _local_zone(cls, value: datetime) -> datetime:
        # One zone on the wire keeps logs and signatures readable for the commune's staff.
        return value.astimezone(LOCAL_ZONE)

    @field_validator("audio_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("audio_url must be an http(s) URL")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> PlayOrder:
        audio = (self.audio_sha256, self.audio_size, self.audio_url)
        if self.kind is OrderKind.PLAY and None in audio:
            raise ValueError("a play order needs audio_sha256, audio_size and audio_url")
        if self.expires_at < self.play_at:
            raise ValueError("expires_at is before play_at")
        return self

    def wire(self) -> dict[str, Any]:
        """The order as the JSON object that is signed and sent (no ``volume`` key when none is set)."""
        wire = self.model_dump(mode="json")
        if wire["volume"] is None:
            del wire["volume"]  # orders without a volume stay byte-for-byte what they were before it existed
        return wire


def canonical_bytes(order_object: Mapping[str, Any]) -> bytes:
    """The bytes an order signature covers: sorted keys, no spaces, UTF-8 (see module docstring)."""
    return json.dumps(
        order_object, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


class OrderSigner:
    """Signs orders with the server's Ed25519 private key."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        self.public_key = private_key.public_key()
        self.key_id = key_id_of(self.public_key)

    def sign(self, order: PlayOrder) -> dict[str, Any]:
        """The envelope ``{"order": ..., "signature": ...}`` ready for ``json.dumps``."""
        if order.key_id != self.key_id:
            raise ValueError(f"order names key {order.key_id!r}, this signer holds {self.key_id!r}")
        wire = order.wire()
        signature = self._private_key.sign(canonical_bytes(wire))
        return {"order": wire, "signature": base64.b64encode(signature).decode("ascii")}


class OrderVerifier:
    """Checks envelopes against the server keys an agent trusts (several during a key rotation)."""

    def __init__(self, public_keys: Iterable[Ed25519PublicKey]) -> None:
        self._keys = {key_id_of(key): key for key in public_keys}
        if not self._keys:
            raise ValueError("an order verifier needs at least one public key")

    def verify(self, envelope: bytes | str | Mapping[str, Any], *, cluster_id: str, now: datetime) -> PlayOrder:
        """The order inside ``envelope`` if it is signed, for ``cluster_id`` and not expired at ``now``.

        Raises ``OrderMalformed``, ``OrderBadSignature``, ``OrderWrongCluster`` or ``OrderExpired``.
        Replays are the caller's to detect (it holds the memory of seen orders).
        """
        order_object, signature = _open_envelope(envelope)
        key = self._keys.get(str(order_object.get("key_id")))
        if key is None:
            raise OrderBadSignature(
                "Lệnh phát được ký bằng khóa mà cụm loa này không tin cậy.",
                detail=f"unknown key id {order_object.get('key_id')!r}",
            )
        try:
            key.verify(signature, canonical_bytes(order_object))
        except (InvalidSignature, ValueError, TypeError):
            raise OrderBadSignature(
                "Chữ ký của lệnh phát không hợp lệ: lệnh không do máy chủ phát ra hoặc đã bị sửa.",
                detail="Ed25519 signature mismatch",
            ) from None
        try:
            order = PlayOrder.model_validate(order_object)
        except ValidationError as error:
            raise OrderMalformed(
                "Lệnh phát có chữ ký đúng nhưng sai định dạng.", detail=str(error)[:500]
            ) from None
        if order.cluster_id != cluster_id:
            raise OrderWrongCluster(
                f"Lệnh phát dành cho cụm loa «{order.cluster_id}», không phải cụm loa này («{cluster_id}»).",
                order=order,
            )
        if now > order.expires_at:
            expired = order.expires_at.astimezone(LOCAL_ZONE)
            raise OrderExpired(
                f"Lệnh phát đã hết hạn lúc {expired:%H:%M:%S} ngày {expired:%d/%m/%Y}.", order=order
            )
        return order


def _open_envelope(envelope: bytes | str | Mapping[str, Any]) -> tuple[dict[str, Any], bytes]:
    malformed = "Lệnh phát không đúng định dạng (cần JSON có «order» và «signature»)."
    if isinstance(envelope, bytes | str):
        if len(envelope) > MAX_ENVELOPE_BYTES:
            raise OrderMalformed(malformed, detail=f"envelope larger than {MAX_ENVELOPE_BYTES} bytes")
        try:
            envelope = json.loads(envelope)
        except RecursionError:
            raise OrderMalformed(malformed, detail="JSON nested too deeply") from None
        except (ValueError, UnicodeDecodeError) as error:
            raise OrderMalformed(malformed, detail=f"not JSON: {error}") from None
    if not isinstance(envelope, Mapping):
        raise OrderMalformed(malformed, detail="envelope is not an object")
    order_object, signature_text = envelope.get("order"), envelope.get("signature")
    if not isinstance(order_object, dict) or not isinstance(signature_text, str):
        raise OrderMalformed(malformed, detail="missing order object or signature string")
    if set(envelope) - {"order", "signature"}:
        raise OrderMalformed(malformed, detail=f"unexpected envelope keys {sorted(envelope)}")
    try:
        signature = base64.b64decode(signature_text, validate=True)
        canonical_bytes(order_object)  # floats like NaN cannot be canonical
    except RecursionError:
        raise OrderMalformed(malformed, detail="JSON nested too deeply") from None
    except (binascii.Error, ValueError) as error:
        raise OrderMalformed(malformed, detail=str(error)) from None
    return order_object, signature


# --- what the agent sends back ---------------------------------------------------------------


class ReportStage(StrEnum):
    """The life of an order on a cluster, as the agent reports it."""

    RECEIVED = "received"  # accepted and stored
    DOWNLOADED = "downloaded"  # audio on disk, size and sha256 checked
    PLAYING = "playing"  # sound started; started_at is the measured start
    PLAYED = "played"  # ended normally
    FAILED = "failed"  # reason says why (preempted, stopped, cancelled, audio_checksum_mismatch, ...)
    MISSED = "missed"  # could not start before expires_at
    REFUSED = "refused"  # POST /orders refused it; reason is the order_* code
    APPLIED = "applied"  # a stop order was carried out


# Bounds on what an agent may say: a cluster's credentials must not let it store junk, overflow a
# counter or a column, or make the server fail for anyone else (issue 10, item 2).
MAX_SEQ = 2**31 - 1  # Cluster.order_seq is a 32-bit column on PostgreSQL
MAX_COUNT = 1_000_000
ReasonCode = Annotated[str, Field(max_length=64, pattern=r"^[a-z0-9_.-]+$")]
Text = Annotated[str, Field(max_length=1000)]
BoundedFloat = Annotated[float, Field(ge=-1e13, le=1e13, allow_inf_nan=False)]


class AgentReport(BaseModel):
    """One event of one order on one cluster. ``seq`` orders a cluster's reports; ``report_id`` dedupes."""

    model_config = ConfigDict(extra="forbid")

    report_id: UUID
    seq: int = Field(ge=1, le=2**62, description="agent outbox sequence: strictly increasing per cluster")
    cluster_id: ClusterId
    stage: ReportStage
    at: AwareDatetime
    order_id: UUID | None = None
    order_seq: int | None = Field(default=None, ge=1, le=MAX_SEQ)
    airing_id: str | None = Field(default=None, max_length=128)
    reason: ReasonCode | None = None  # a stable code
    message: Text | None = None  # Vietnamese, for the broadcast log
    play_at: AwareDatetime | None = None
    started_at: AwareDatetime | None = None  # measured by the player, in server time
    ended_at: AwareDatetime | None = None
    start_offset_ms: BoundedFloat | None = None  # started_at - play_at


class NowPlaying(BaseModel):
    """What the cluster's horns are sounding."""

    model_config = ConfigDict(extra="forbid")

    order_id: UUID
    airing_id: str = Field(max_length=128)
    priority: Priority
    started_at: AwareDatetime | None = None


class AgentProblem(BaseModel):
    """Why an agent is degraded: a stable code (storage_full, disk_space_low, store_unwritable, ...) and a message."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[a-z0-9_]{1,64}$")
    message: str = Field(max_length=500)


class ClockEstimate(BaseModel):
    """The agent's estimate of the server clock: ``offset_ms`` = server time − its own clock."""

    model_config = ConfigDict(extra="forbid")

    offset_ms: BoundedFloat
    rtt_ms: float = Field(ge=0, le=1e7, allow_inf_nan=False)
    samples: int = Field(ge=0, le=MAX_COUNT)


class Heartbeat(BaseModel):
    """The agent's periodic sign of life (with its health: what would stop it playing, and why)."""

    model_config = ConfigDict(extra="forbid")

    cluster_id: ClusterId
    at: AwareDatetime
    status: Literal["idle", "playing"]
    volume: int = Field(ge=0, le=100)
    version: str = Field(max_length=64)
    now_playing: NowPlaying | None = None
    queue_length: int = Field(ge=0, le=MAX_COUNT)
    last_seq: int = Field(ge=0, le=MAX_SEQ)
    reports_pending: int = Field(ge=0, le=2**62)
    health: Literal["ok", "degraded"] = "ok"
    problems: list[AgentProblem] = Field(default_factory=list, max_length=10)
    free_disk_bytes: int | None = Field(default=None, ge=0, le=2**62)
    transport: Literal["pull", "mqtt", "http"] | None = None
    clock: ClockEstimate | None = None
