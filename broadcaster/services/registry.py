"""The registry: communes, their zones (thôn, bản) and speaker clusters.

Only admins change it: a commune admin its own commune's zones and clusters, a province admin
everything including communes themselves. Anyone may read their own commune's registry (officers
need the zones and clusters to target bulletins).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from broadcaster.errors import Conflict, InvalidInput, NotFound
from broadcaster.models import (
    Airing,
    AiringItem,
    Bulletin,
    Cluster,
    Commune,
    Delivery,
    Role,
    User,
    Zone,
    bulletin_clusters,
    bulletin_zones,
)
from broadcaster.services import scoping
from broadcaster.services.audit import AuditAction, record
from broadcaster.services.provisioning import issue_agent_credentials
from broadcaster.services.voices import VoiceCheck, checked_rate, stored_voice

CODE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")

log = logging.getLogger(__name__)

# Called with a commune id once a change to the sessions it airs is committed (a new commune, another
# timetable name, an override set or removed): the running app passes ``Runtime.reschedule``, so the
# scheduler re-plans that commune at once rather than at its next housekeeping.
TimetableChanged = Callable[[int], object]


class CommuneCodeInvalid(InvalidInput):
    """Commune codes are short lower-case slugs."""

    code = "commune_code_invalid"


class CommuneCodeTaken(Conflict):
    """Another commune already has this code."""

    code = "commune_code_taken"


class CommuneNotEmpty(Conflict):
    """A commune that anything refers to cannot be deleted: its record must survive."""

    code = "commune_not_empty"


class TimetableUnknown(InvalidInput):
    """No timetable file of that name in the schedules directory."""

    code = "timetable_unknown"


class NameTaken(Conflict):
    """Another zone or cluster of the commune already has this name."""

    code = "name_taken"


class NameInvalid(InvalidInput):
    """A name must have some visible characters."""

    code = "name_invalid"


class ZoneNotFound(NotFound):
    """No such zone, or one of another commune."""

    code = "zone_not_found"


class ClusterNotFound(NotFound):
    """No such cluster, or one of another commune."""

    code = "cluster_not_found"


class InUse(Conflict):
    """Bulletins or the broadcast log still refer to it."""

    code = "in_use"


@dataclass(frozen=True)
class CommuneChanges:
    """Fields of a commune that may change; None leaves a field as it is."""

    name: str | None = None
    province: str | None = None
    timetable: str | None = None
    default_voice: str | None = None  # "engine:voice"; "" goes back to the server's voice
    speech_rate: float | None = None  # speaking-rate factor, 0.5-2 (below 1 is slower); 0: the server's
    four_eyes: bool | None = None  # a bulletin needs an approver other than its author


@dataclass(frozen=True)
class ClusterFields:
    """Fields of a cluster that may be set; None leaves a field as it is (``zone_id=0`` clears it)."""

    name: str | None = None
    zone_id: int | None = None
    agent_url: str | None = None
    transport: str | None = None


def _clean_name(name: str, what: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned or any(ord(ch) < 32 for ch in name):
        raise NameInvalid(f"Tên {what} không được để trống hoặc chứa ký tự điều khiển.")
    return cleaned


def notify_timetable_changed(hook: TimetableChanged | None, commune_id: int) -> None:
    """Tell ``hook`` that a commune's sessions changed; a failure is logged, never raised.

    The change is committed by then: failing the request would make the caller think it was not
    made, and the scheduler's housekeeping re-plans every commune anyway.
    """
    if hook is None:
        return
    try:
        hook(commune_id)
    except Exception:  # noqa: BLE001 - see the docstring
        log.exception("re-planning the sessions of commune %s failed; housekeeping will", commune_id)


def check_timetable_name(schedules_dir: Path, name: str) -> str:
    """``name`` if schedules/<name>.yaml exists; ``TimetableUnknown`` otherwise."""
    if not CODE_PATTERN.match(name) or not (schedules_dir / f"{name}.yaml").is_file():
        raise TimetableUnknown(f"Không có lịch phát «{name}» trong thư mục lịch.")
    return name


# Communes


def list_communes(session: Session, actor: User) -> Sequence[Commune]:
    """The communes the actor may see."""
    return session.scalars(select(Commune).where(scoping.commune_filter(actor, Commune.id)).order_by(Commune.id)).all()


def find_commune_by_code(session: Session, code: str) -> Commune:
    """The commune with this code (trusted caller: the command line)."""
    commune = session.scalars(select(Commune).where(Commune.code == code.strip().lower())).first()
    if commune is None:
        raise scoping.CommuneNotFound(f"Không có xã mã «{code}».")
    return commune


def get_commune(session: Session, actor: User, commune_id: int) -> Commune:
    """One visible commune."""
    return scoping.visible_commune(session, actor, commune_id)


def create_commune(session: Session, actor: User | None, *, code: str, name: str, province: str = "",
                   timetable: str = "default", schedules_dir: Path, four_eyes: bool = True,
                   on_timetable_change: TimetableChanged | None = None) -> Commune:
    """Register a commune (province admin only), commit, and have its sessions planned."""
    if actor is not None:
        scoping.require_province_admin(actor)
    code = code.strip().lower()
    if not CODE_PATTERN.match(code):
        raise CommuneCodeInvalid("Mã xã gồm tối đa 64 ký tự: chữ thường không dấu, số, gạch ngang, gạch dưới.")
    if session.scalar(select(func.count()).select_from(Commune).where(Commune.code == code)):
        raise CommuneCodeTaken(f"Mã xã «{code}» đã được dùng.")
    commune = Commune(code=code, name=_clean_name(name, "xã"), province=" ".join(province.split()),
                      timetable=check_timetable_name(schedules_dir, timetable), four_eyes=four_eyes)
    session.add(commune)
    session.flush()
    record(session, actor=actor, action=AuditAction.CREATE, object_type="commune", object_id=commune.id,
           commune_id=commune.id, details={"code": code, "four_eyes": four_eyes})
    session.commit()
    notify_timetable_changed(on_timetable_change, commune.id)
    return commune


def update_commune(session: Session, actor: User, commune_id: int, changes: CommuneChanges, *,
                   schedules_dir: Path, on_timetable_change: TimetableChanged | None = None,
                   check_voice: VoiceCheck | None = None) -> Commune:
    """Rename a commune, switch its timetable or how it is read (its admin or a province admin) and commit."""
    commune = scoping.visible_commune(session, actor, commune_id)
    scoping.require_role(actor, Role.ADMIN)
    if changes.name is not None:
        commune.name = _clean_name(changes.name, "xã")
    if changes.province is not None:
        commune.province = " ".join(changes.province.split())
    previous_timetable = commune.timetable
    if changes.timetable is not None:
        commune.timetable = check_timetable_name(schedules_dir, changes.timetable)
    if changes.default_voice is not None:
        commune.default_voice = stored_voice(changes.default_voice, check_voice)
    if changes.speech_rate is not None:
        commune.speech_rate = checked_rate(changes.speech_rate) if changes.speech_rate else None
    if changes.four_eyes is not None:
        commune.four_eyes = changes.four_eyes
    record(session, actor=actor, action=AuditAction.EDIT, object_type="commune", object_id=commune.id,
           commune_id=commune.id, details=_given(changes))
    session.commit()
    if commune.timetable != previous_timetable:
        notify_timetable_changed(on_timetable_change, commune.id)
    return commune


def delete_commune(session: Session, actor: User, commune_id: int, *,
                   on_timetable_change: TimetableChanged | None = None) -> None:
    """Delete an empty commune (province admin only), commit, and drop its planned sessions."""
    commune = scoping.visible_commune(session, actor, commune_id)
    scoping.require_province_admin(actor)
    # Accounts, bulletins and the broadcast log are history: only a commune registered by mistake
    # and never used can go. Its audit events stay, with its id (they hold no foreign key).
    for model in (User, Bulletin, Zone, Cluster, Airing):
        if session.scalar(select(exists().where(model.commune_id == commune_id))):
            raise CommuneNotEmpty("Xã đã có dữ liệu (tài khoản, thôn, cụm loa, bản tin hoặc nhật ký phát) "
                                  "nên không xóa được.", detail=f"{model.__tablename__} refer to it")
    record(session, actor=actor, action=AuditAction.DELETE, object_type="commune", object_id=commune.id,
           commune_id=commune.id, details={"code": commune.code, "name": commune.name})
    session.delete(commune)
    session.commit()
    notify_timetable_changed(on_timetable_change, commune_id)


# Zones


def list_zones(session: Session, actor: User, commune_id: int) -> Sequence[Zone]:
    """The zones of a visible commune."""
    scoping.visible_commune(session, actor, commune_id)
    return session.scalars(select(Zone).where(Zone.commune_id == commune_id).order_by(Zone.id)).all()


def get_zone(session: Session, actor: User, zone_id: int) -> Zone:
    """One zone of a visible commune."""
    zone = session.get(Zone, zone_id)
    if zone is None or not scoping.can_see_commune(actor, zone.commune_id):
        raise ZoneNotFound(f"Không tìm thấy thôn/bản số {zone_id}.")
    return zone


def _check_unique_name(session: Session, model: type[Zone] | type[Cluster], commune_id: int, name: str,
                       own_id: int | None = None) -> None:
    query = select(func.count()).select_from(model).where(model.commune_id == commune_id, model.name == name)
    if own_id is not None:
        query = query.where(model.id != own_id)
    if session.scalar(query):
        raise NameTaken(f"Xã đã có «{name}».")


def _admin_of(session: Session, actor: User | None, commune_id: int) -> None:
    """Check ``actor`` is an admin who sees the commune; no actor is the trusted command line (the commune must exist)."""
    if actor is None:
        if session.get(Commune, commune_id) is None:
            raise scoping.CommuneNotFound(f"Không có xã số {commune_id}.")
        return
    scoping.visible_commune(session, actor, commune_id)
    scoping.require_role(actor, Role.ADMIN)


def create_zone(session: Session, actor: User | None, commune_id: int, name: str) -> Zone:
    """Add a zone to a commune (admin; None: the command line) and commit."""
    _admin_of(session, actor, commune_id)
    name = _clean_name(name, "thôn/bản")
    _check_unique_name(session, Zone, commune_id, name)
    zone = Zone(commune_id=commune_id, name=name)
    session.add(zone)
    session.flush()
    record(session, actor=actor, action=AuditAction.CREATE, object_type="zone", object_id=zone.id,
           commune_id=commune_id, details={"name": name})
    session.commit()
    return zone


def rename_zone(session: Session, actor: User, zone_id: int, name: str) -> Zone:
    """Rename a zone (admin) and commit."""
    zone = get_zone(session, actor, zone_id)
    scoping.require_role(actor, Role.ADMIN)
    name = _clean_name(name, "thôn/bản")
    _check_unique_name(session, Zone, zone.commune_id, name, zone.id)
    zone.name = name
    record(session, actor=actor, action=AuditAction.EDIT, object_type="zone", object_id=zone.id,
           commune_id=zone.commune_id, details={"name": name})
    session.commit()
    return zone


def delete_zone(session: Session, actor: User, zone_id: int) -> None:
    """Delete a zone no bulletin targets (admin) and commit; its clusters keep working, zone-less."""
    zone = get_zone(session, actor, zone_id)
    scoping.require_role(actor, Role.ADMIN)
    if session.scalar(select(exists().where(bulletin_zones.c.zone_id == zone.id))):
        raise InUse("Còn bản tin nhắm tới thôn/bản này nên không xóa được.")
    record(session, actor=actor, action=AuditAction.DELETE, object_type="zone", object_id=zone.id,
           commune_id=zone.commune_id, details={"name": zone.name})
    session.delete(zone)
    session.commit()


# Clusters


def list_clusters(session: Session, actor: User, commune_id: int, *, include_retired: bool = False
                  ) -> Sequence[Cluster]:
    """The speaker clusters of a visible commune (in service; with ``include_retired``, all of them)."""
    scoping.visible_commune(session, actor, commune_id)
    query = select(Cluster).where(Cluster.commune_id == commune_id).order_by(Cluster.id)
    if not include_retired:
        query = query.where(Cluster.retired_at.is_(None))
    return session.scalars(query).all()


def get_cluster(session: Session, actor: User, cluster_id: int) -> Cluster:
    """One cluster of a visible commune."""
    cluster = session.get(Cluster, cluster_id)
    if cluster is None or not scoping.can_see_commune(actor, cluster.commune_id):
        raise ClusterNotFound(f"Không tìm thấy cụm loa số {cluster_id}.")
    return cluster


def _apply_cluster_fields(session: Session, cluster: Cluster, values: ClusterFields) -> None:
    if values.name is not None:
        cluster.name = _clean_name(values.name, "cụm loa")
        _check_unique_name(session, Cluster, cluster.commune_id, cluster.name, cluster.id)
    if values.zone_id is not None:
        if values.zone_id == 0:
            cluster.zone_id = None
        else:
            zone = session.get(Zone, values.zone_id)
            if zone is None or zone.commune_id != cluster.commune_id:
                raise ZoneNotFound(f"Xã này không có thôn/bản số {values.zone_id}.")
            cluster.zone_id = zone.id
    if values.agent_url is not None:
        cluster.agent_url = values.agent_url
    if values.transport is not None:
        cluster.transport = values.transport


def create_cluster(session: Session, actor: User | None, commune_id: int, values: ClusterFields) -> Cluster:
    """Add a speaker cluster (admin; None: the command line) and commit; its agent's credential is issued
    but not kept (see below)."""
    return create_provisioned_cluster(session, actor, commune_id, values)[0]


def create_provisioned_cluster(session: Session, actor: User | None, commune_id: int,
                               values: ClusterFields) -> tuple[Cluster, str]:
    """Add a speaker cluster (admin; None: the command line) and commit; the cluster and its agent's secret
    (shown once, never stored)."""
    _admin_of(session, actor, commune_id)
    if values.name is None:
        raise NameInvalid("Cụm loa cần có tên.")
    cluster = Cluster(commune_id=commune_id, name="")
    secret = issue_agent_credentials(cluster)
    _apply_cluster_fields(session, cluster, values)
    session.add(cluster)
    session.flush()
    record(session, actor=actor, action=AuditAction.CREATE, object_type="cluster", object_id=cluster.id,
           commune_id=commune_id, details=_given(values))
    session.commit()
    return cluster, secret


def update_cluster(session: Session, actor: User, cluster_id: int, values: ClusterFields) -> Cluster:
    """Change a cluster (admin) and commit."""
    cluster = get_cluster(session, actor, cluster_id)
    scoping.require_role(actor, Role.ADMIN)
    _apply_cluster_fields(session, cluster, values)
    record(session, actor=actor, action=AuditAction.EDIT, object_type="cluster", object_id=cluster.id,
           commune_id=cluster.commune_id, details=_given(values))
    session.commit()
    return cluster


def delete_cluster(session: Session, actor: User, cluster_id: int) -> None:
    """Delete a cluster that neither bulletins nor the broadcast log refer to (admin) and commit."""
    cluster = get_cluster(session, actor, cluster_id)
    scoping.require_role(actor, Role.ADMIN)
    targeted = session.scalar(select(exists().where(bulletin_clusters.c.cluster_id == cluster.id)))
    logged = session.scalar(select(exists().where(Delivery.cluster_id == cluster.id))) or session.scalar(
        select(exists().where(AiringItem.cluster_id == cluster.id))
    )
    if targeted or logged:
        raise InUse("Cụm loa đã có trong bản tin hoặc nhật ký phát nên không xóa được.")
    record(session, actor=actor, action=AuditAction.DELETE, object_type="cluster", object_id=cluster.id,
           commune_id=cluster.commune_id, details={"name": cluster.name})
    session.delete(cluster)
    session.commit()


def _given(values: Any) -> dict[str, Any]:
    return {f.name: getattr(values, f.name) for f in fields(values) if getattr(values, f.name) is not None}
