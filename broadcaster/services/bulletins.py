"""Bulletins: create (text or recording), read, list, and edit while a draft.

The workflow that moves a bulletin between states lives in ``services.workflow``. Every change is
committed, with its audit event, before the service returns: what the API acknowledges is on disk.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import TYPE_CHECKING, BinaryIO, TypeVar

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from broadcaster.clock import Clock, local
from broadcaster.db import utc_now
from broadcaster.errors import Conflict, InvalidInput, NotFound, PermissionDenied, ServiceFailure
from broadcaster.models import (
    AuditEvent,
    Bulletin,
    BulletinStatus,
    Cluster,
    Commune,
    Priority,
    Role,
    User,
    Zone,
)
from broadcaster.services import scoping
from broadcaster.services.audit import AuditAction, events_for, first_event, record
from broadcaster.services.voices import VoiceCheck, reading_of, stored_voice
from broadcaster.uploads import StoredUpload, UploadStore

if TYPE_CHECKING:
    from broadcaster.speech import RenderedAudio, SpeechService

MAX_REPEAT = 10
MAX_WINDOW_DAYS = 366
TITLE_MAX_LENGTH = 300
IDEMPOTENCY_KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,200}$")
Target = TypeVar("Target", Zone, Cluster)

STATUS_LABELS = {
    BulletinStatus.DRAFT: "bản nháp",
    BulletinStatus.SUBMITTED: "chờ duyệt",
    BulletinStatus.APPROVED: "đã duyệt",
    BulletinStatus.REJECTED: "bị từ chối",
    BulletinStatus.CANCELLED: "đã hủy",
    BulletinStatus.AIRED: "đã phát",
    BulletinStatus.EXPIRED: "hết hạn",
}


class BulletinNotFound(NotFound):
    """No such bulletin, or one of another commune."""

    code = "bulletin_not_found"


class BulletinWrongStatus(Conflict):
    """The bulletin's current status does not allow this action."""

    code = "bulletin_wrong_status"


class NotAuthor(PermissionDenied):
    """Only the author (or an approver) may change this bulletin."""

    code = "not_author"


class TitleInvalid(InvalidInput):
    """The title is blank, too long, or has control characters."""

    code = "title_invalid"


class ContentInvalid(InvalidInput):
    """A bulletin is either text or a recording, never both or neither."""

    code = "content_invalid"


class WindowInvalid(InvalidInput):
    """The airing window ends before it starts, or is absurdly long."""

    code = "window_invalid"


class WindowInPast(InvalidInput):
    """The airing window is already over."""

    code = "window_in_past"


class TargetUnknown(InvalidInput):
    """A zone or cluster that does not exist in the bulletin's commune."""

    code = "target_unknown"


class RepeatOutOfRange(InvalidInput):
    """Repeat count outside 1..MAX_REPEAT."""

    code = "repeat_out_of_range"


class RecordingMissing(ServiceFailure):
    """The bulletin's uploaded recording is gone from the upload store (restored backup without uploads?)."""

    code = "recording_missing"


class IdempotencyKeyInvalid(InvalidInput):
    """The Idempotency-Key header is empty, too long or not printable ASCII."""

    code = "idempotency_key_invalid"


class IdempotencyKeyReused(Conflict):
    """The Idempotency-Key was already used for a different request."""

    code = "idempotency_key_reused"


@dataclass(frozen=True)
class BulletinFields:
    """What a caller gives to create a bulletin (``text`` None for a recording)."""

    title: str
    text: str | None = None
    priority: Priority = Priority.NORMAL
    commune_id: int | None = None
    zone_ids: tuple[int, ...] = ()
    cluster_ids: tuple[int, ...] = ()
    start_date: date | None = None  # default: today (commune time)
    end_date: date | None = None  # default: the start date
    repeat: int = 1
    voice: str | None = None  # "engine:voice"; None or "": the commune's default voice
    replay_in_sessions: bool = False  # an emergency also airs in today's sessions (opt-in)


@dataclass(frozen=True)
class BulletinChanges:
    """Fields of a draft that may change; None leaves a field as it is."""

    title: str | None = None
    text: str | None = None
    priority: Priority | None = None
    zone_ids: tuple[int, ...] | None = None
    cluster_ids: tuple[int, ...] | None = None
    start_date: date | None = None
    end_date: date | None = None
    repeat: int | None = None
    voice: str | None = None  # "" goes back to the commune's default voice
    replay_in_sessions: bool | None = None


@dataclass(frozen=True)
class BulletinFilters:
    """What a bulletin list may be narrowed to."""

    commune_id: int | None = None
    statuses: tuple[BulletinStatus, ...] = ()
    priority: Priority | None = None
    author_id: int | None = None
    airing_on: date | None = None  # the window contains this date
    search: str | None = None  # in the title or the text
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True)
class BulletinPage:
    """One page of a bulletin list and the total count."""

    items: Sequence[Bulletin]
    total: int


@dataclass(frozen=True)
class Created:
    """A created bulletin; ``created`` is False when an idempotent retry returned the original."""

    bulletin: Bulletin
    created: bool = field(default=True)


def check_idempotency_key(key: str | None) -> str | None:
    """The key if well-formed (or None if absent); ``IdempotencyKeyInvalid`` otherwise."""
    if key is None:
        return None
    if not IDEMPOTENCY_KEY_PATTERN.match(key):
        raise IdempotencyKeyInvalid("Khóa Idempotency-Key phải gồm 1–200 ký tự ASCII in được, không có dấu cách.")
    return key


def validate_text(text: str) -> str:
    """The bulletin text in NFC, validated by the text package (empty, too long, nothing to speak)."""
    from broadcaster.text import validate_bulletin_text  # lazy: the text package is built in parallel

    return validate_bulletin_text(text)


def clean_title(title: str) -> str:
    """A title with its whitespace collapsed; ``TitleInvalid`` if blank, too long or with control characters.

    Like the text, a title may not hold characters that make it show other than it reads (bidi
    controls, invisible characters in numbers, confusable digits): a text error says which.
    """
    from broadcaster.text import check_shown_as_spoken

    if any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 for ch in title):
        raise TitleInvalid("Tiêu đề không được chứa ký tự điều khiển.")
    check_shown_as_spoken(title, "Tiêu đề")
    cleaned = " ".join(title.split())
    if not cleaned:
        raise TitleInvalid("Tiêu đề không được để trống.")
    if len(cleaned) > TITLE_MAX_LENGTH:
        raise TitleInvalid(f"Tiêu đề dài quá {TITLE_MAX_LENGTH} ký tự.")
    return cleaned


class BulletinService:
    """Creating, reading and editing bulletins for one database session."""

    def __init__(
        self, session: Session, *, clock: Clock, uploads: UploadStore, check_voice: VoiceCheck | None = None
    ) -> None:
        self.session = session
        self.clock = clock
        self.uploads = uploads
        self.check_voice = check_voice  # without it, only the form of a voice choice is checked

    def today(self) -> date:
        """Today's date in the communes' zone (airing windows are commune-local dates)."""
        return local(self.clock.now()).date()

    # Reading

    def get(self, actor: User, bulletin_id: int) -> Bulletin:
        """One bulletin the actor may see; ``BulletinNotFound`` otherwise."""
        bulletin = self.session.get(Bulletin, bulletin_id)
        if bulletin is None or not scoping.can_see_commune(actor, bulletin.commune_id):
            raise BulletinNotFound(f"Không tìm thấy bản tin số {bulletin_id}.")
        return bulletin

    def list_page(self, actor: User, filters: BulletinFilters) -> BulletinPage:
        """The bulletins the actor may see, newest first, narrowed by ``filters``."""
        query = select(Bulletin).where(scoping.commune_filter(actor, Bulletin.commune_id))
        if filters.commune_id is not None:
            scoping.visible_commune(self.session, actor, filters.commune_id)
            query = query.where(Bulletin.commune_id == filters.commune_id)
        if filters.statuses:
            query = query.where(Bulletin.status.in_(filters.statuses))
        if filters.priority is not None:
            query = query.where(Bulletin.priority == filters.priority)
        if filters.author_id is not None:
            query = query.where(Bulletin.author_id == filters.author_id)
        if filters.airing_on is not None:
            query = query.where(Bulletin.start_date <= filters.airing_on, Bulletin.end_date >= filters.airing_on)
        if filters.search:
            pattern = "%" + filters.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            query = query.where(or_(Bulletin.title.ilike(pattern, escape="\\"),
                                    Bulletin.text.ilike(pattern, escape="\\")))
        total = self.session.scalar(select(func.count()).select_from(query.subquery())) or 0
        items = self.session.scalars(
            query.order_by(Bulletin.created_at.desc(), Bulletin.id.desc()).limit(filters.limit).offset(filters.offset)
        ).all()
        return BulletinPage(items=items, total=total)

    def history(self, actor: User, bulletin_id: int) -> Sequence[AuditEvent]:
        """The audit events of one visible bulletin, oldest first."""
        return events_for(self.session, "bulletin", self.get(actor, bulletin_id).id)

    def preview(self, actor: User, bulletin_id: int, speech: Callable[[], SpeechService]) -> RenderedAudio:
        """The bulletin read once, rendered through the speech service's cache."""
        bulletin = self.get(actor, bulletin_id)
        if bulletin.text is not None:
            reading = reading_of(bulletin)
            return speech().render_text(bulletin.text, voice=reading.voice, rate=reading.rate,
                                         commune_id=bulletin.commune_id)
        path = self.uploads.path_for(bulletin.upload_sha256 or "")
        if path is None:
            raise RecordingMissing(f"Không tìm thấy tệp ghi âm của bản tin số {bulletin.id} trên máy chủ.",
                                   detail=f"upload {bulletin.upload_sha256} missing")
        return speech().render_upload(path)

    # Creating

    def create(self, actor: User, fields: BulletinFields, *, upload: BinaryIO | None = None,
               upload_filename: str | None = None, idempotency_key: str | None = None) -> Created:
        """Validate and store a draft (text, or a recording streamed from ``upload``) and commit it.

        With an ``idempotency_key``, a retry of the same request returns the original bulletin and a
        different request under the same key is refused with ``IdempotencyKeyReused``.
        """
        key = check_idempotency_key(idempotency_key)
        commune = scoping.acting_commune(self.session, actor, fields.commune_id)
        fields = replace(fields, commune_id=commune.id)
        if (fields.text is None) == (upload is None):
            raise ContentInvalid("Bản tin phải có nội dung văn bản hoặc một tệp ghi âm (không cả hai).")
        text = validate_text(fields.text) if fields.text is not None else None
        title = clean_title(fields.title)
        start, end = self._check_window(fields.start_date, fields.end_date)
        self._check_repeat(fields.repeat)
        voice = stored_voice(fields.voice, self.check_voice) if fields.voice and text is not None else None
        zones, clusters = self._targets(commune, fields.zone_ids, fields.cluster_ids)
        stored: StoredUpload | None = self.uploads.save(upload) if upload is not None else None
        fingerprint = _fingerprint(fields, stored)
        if key is not None and (original := self._replay(actor, key, fingerprint)) is not None:
            return Created(original, created=False)
        filename = (upload_filename or "recording")[:300] if stored else None
        bulletin = Bulletin(
            commune_id=commune.id, title=title, text=text, priority=fields.priority,
            upload_sha256=stored.sha256 if stored else None, upload_filename=filename,
            spoken_duration_s=stored.duration_s if stored else None,
            target_all=not zones and not clusters, zones=zones, clusters=clusters,
            start_date=start, end_date=end, repeat=fields.repeat, status=BulletinStatus.DRAFT,
            author_id=actor.id, idempotency_key=key, voice=voice, replay_in_sessions=fields.replay_in_sessions,
        )
        self.session.add(bulletin)
        try:
            self.session.flush()
        except IntegrityError:
            # Two retries raced on one key: the other one won; answer as a replay.
            self.session.rollback()
            original = self._replay(actor, key, fingerprint) if key is not None else None
            if original is None:
                raise
            return Created(original, created=False)
        record(self.session, actor=actor, action=AuditAction.CREATE, object_type="bulletin",
               object_id=bulletin.id, commune_id=commune.id,
               details={"title": title, "priority": str(fields.priority), "fingerprint": fingerprint,
                        "idempotency_key": key, "upload_sha256": stored.sha256 if stored else None,
                        "voice": voice})
        self.session.commit()
        return Created(bulletin)

    def _replay(self, actor: User, key: str, fingerprint: str) -> Bulletin | None:
        original = self.session.scalars(
            select(Bulletin).where(Bulletin.author_id == actor.id, Bulletin.idempotency_key == key)
        ).first()
        if original is None:
            return None
        event = first_event(self.session, "bulletin", original.id, AuditAction.CREATE)
        if event is None or event.details.get("fingerprint") != fingerprint:
            raise IdempotencyKeyReused(
                "Khóa Idempotency-Key này đã được dùng cho một yêu cầu khác. Hãy dùng khóa mới cho bản tin mới."
            )
        return original

    # Editing

    def edit(self, actor: User, bulletin_id: int, changes: BulletinChanges) -> Bulletin:
        """Change a draft (its author or an approver) and commit."""
        bulletin = self.get(actor, bulletin_id)
        require_not_province_copy(actor, bulletin, "sửa")
        require_author_or(actor, bulletin, Role.APPROVER)
        commune = self.session.get(Commune, bulletin.commune_id)
        assert commune is not None
        changed: dict[str, object] = {}
        if changes.title is not None:
            changed["title"] = clean_title(changes.title)
        if changes.text is not None:
            if bulletin.upload_sha256 is not None:
                raise ContentInvalid("Bản tin này là tệp ghi âm; không thể thêm nội dung văn bản.")
            changed["text"] = validate_text(changes.text)
        if changes.priority is not None:
            changed["priority"] = changes.priority
        if changes.repeat is not None:
            self._check_repeat(changes.repeat)
            changed["repeat"] = changes.repeat
        if changes.voice is not None and changes.voice != (bulletin.voice or ""):
            if bulletin.upload_sha256 is not None and changes.voice:
                raise ContentInvalid("Bản tin này là tệp ghi âm, không đọc bằng giọng máy.")
            changed["voice"] = stored_voice(changes.voice, self.check_voice)
        if changes.replay_in_sessions is not None:
            changed["replay_in_sessions"] = changes.replay_in_sessions
        if changes.start_date is not None or changes.end_date is not None:
            start, end = self._check_window(changes.start_date or bulletin.start_date,
                                            changes.end_date or bulletin.end_date)
            changed["start_date"], changed["end_date"] = start, end
        zones = clusters = None
        if changes.zone_ids is not None or changes.cluster_ids is not None:
            zones, clusters = self._targets(
                commune,
                changes.zone_ids if changes.zone_ids is not None else tuple(z.id for z in bulletin.zones),
                changes.cluster_ids if changes.cluster_ids is not None else tuple(c.id for c in bulletin.clusters),
            )
        claim_in_status(self.session, bulletin, (BulletinStatus.DRAFT,), "sửa")
        for name, value in changed.items():
            setattr(bulletin, name, value)
        if zones is not None and clusters is not None:
            bulletin.zones, bulletin.clusters = zones, clusters
            bulletin.target_all = not zones and not clusters
            changed["zone_ids"] = [z.id for z in zones]
            changed["cluster_ids"] = [c.id for c in clusters]
        record(self.session, actor=actor, action=AuditAction.EDIT, object_type="bulletin", object_id=bulletin.id,
               commune_id=bulletin.commune_id, details=_jsonable(changed))
        self.session.commit()
        return bulletin

    # Checks

    def _check_window(self, start: date | None, end: date | None) -> tuple[date, date]:
        start = start or self.today()
        end = end or start
        if end < start:
            raise WindowInvalid("Ngày kết thúc phát phải sau hoặc bằng ngày bắt đầu.")
        if (end - start) > timedelta(days=MAX_WINDOW_DAYS):
            raise WindowInvalid(f"Thời gian phát không được dài quá {MAX_WINDOW_DAYS} ngày.")
        check_window_not_past(end, self.today())
        return start, end

    @staticmethod
    def _check_repeat(repeat: int) -> None:
        if not 1 <= repeat <= MAX_REPEAT:
            raise RepeatOutOfRange(f"Số lần đọc mỗi buổi phải từ 1 đến {MAX_REPEAT}.")

    def _targets(self, commune: Commune, zone_ids: Sequence[int], cluster_ids: Sequence[int]
                 ) -> tuple[list[Zone], list[Cluster]]:
        zones = self._owned(Zone, commune, zone_ids, "thôn/bản")
        clusters = self._owned(Cluster, commune, cluster_ids, "cụm loa")
        return zones, clusters

    def _owned(self, model: type[Target], commune: Commune, ids: Sequence[int], label: str) -> list[Target]:
        wanted = sorted(set(ids))
        if not wanted:
            return []
        found = self.session.scalars(select(model).where(model.id.in_(wanted), model.commune_id == commune.id)).all()
        missing = sorted(set(wanted) - {item.id for item in found})
        if missing:
            # A foreign target and a missing one look the same: no hint that the other commune has it.
            raise TargetUnknown(f"Xã không có {label} số {', '.join(map(str, missing))}.")
        return sorted(found, key=lambda item: item.id)


def check_window_not_past(end: date, today: date) -> None:
    """``WindowInPast`` if the airing window ended before ``today``."""
    if end < today:
        raise WindowInPast("Thời gian phát đã qua: ngày kết thúc phải từ hôm nay trở đi.")


class ProvinceCopyReadOnly(PermissionDenied):
    """A commune's copy of a province bulletin is the province's: the commune cannot change it."""

    code = "province_bulletin_read_only"


def require_not_province_copy(actor: User, bulletin: Bulletin, verb: str) -> None:
    """Refuse a commune user changing its copy of a province bulletin (the province owns it)."""
    if bulletin.province_bulletin_id is not None and actor.commune_id is not None:
        raise ProvinceCopyReadOnly(f"Bản tin số {bulletin.id} là bản tin của tỉnh; xã không được {verb}.")


def require_author_or(actor: User, bulletin: Bulletin, role: Role) -> None:
    """Refuse with 403 unless the actor wrote the bulletin or has ``role`` or above."""
    if bulletin.author_id != actor.id and not scoping.has_role(actor, role):
        raise NotAuthor("Chỉ người soạn bản tin hoặc lãnh đạo xã mới được làm việc này.")


def claim_in_status(session: Session, bulletin: Bulletin, statuses: Sequence[BulletinStatus], verb: str,
                    **values: object) -> None:
    """Atomically check the status and start the write (setting ``values``); 409 if it moved on.

    The conditional UPDATE is the first write of the transaction: it takes the write lock (SQLite)
    or row lock (PostgreSQL) and fails if a concurrent request already changed the status. Its
    RETURNING refreshes ``bulletin`` with the row as it now stands (one round trip, not two).
    """
    claimed = session.scalars(
        update(Bulletin)
        .where(Bulletin.id == bulletin.id, Bulletin.status.in_(statuses))
        .values(updated_at=utc_now(), **values)
        .returning(Bulletin)
        .execution_options(synchronize_session=False, populate_existing=True)
    ).all()
    if not claimed:
        session.rollback()
        session.refresh(bulletin)
        raise BulletinWrongStatus(
            f"Bản tin đang ở trạng thái «{STATUS_LABELS[bulletin.status]}», không thể {verb}.",
            detail=f"status {bulletin.status}, expected one of {[str(s) for s in statuses]}",
        )


def _fingerprint(fields: BulletinFields, stored: StoredUpload | None) -> str:
    canonical = {
        "title": fields.title, "text": fields.text, "priority": str(fields.priority),
        "commune_id": fields.commune_id, "zone_ids": sorted(set(fields.zone_ids)),
        "cluster_ids": sorted(set(fields.cluster_ids)),
        "start_date": fields.start_date.isoformat() if fields.start_date else None,
        "end_date": fields.end_date.isoformat() if fields.end_date else None,
        "repeat": fields.repeat, "upload_sha256": stored.sha256 if stored else None,
        "replay_in_sessions": fields.replay_in_sessions,
    }
    if fields.voice:  # only when given, so requests from before voices existed keep their fingerprint
        canonical["voice"] = fields.voice
    return hashlib.sha256(json.dumps(canonical, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _jsonable(values: dict[str, object]) -> dict[str, object]:
    return {k: (v.isoformat() if isinstance(v, date) else str(v) if isinstance(v, Priority) else v)
            for k, v in values.items()}
