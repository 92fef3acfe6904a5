"""The registry: communes (province admin), and each commune's zones and speaker clusters (admins)."""

from __future__ import annotations

from fastapi import APIRouter, status

from broadcaster.api.deps import CurrentUser, DbSession, JsonBody, RuntimeDep
from broadcaster.api.schemas.common import ERROR_RESPONSES, IdPath
from broadcaster.api.schemas.registry import (
    ClusterBody,
    ClusterCreated,
    ClusterOut,
    CommuneCreate,
    CommuneOut,
    CommuneUpdate,
    ZoneBody,
    ZoneOut,
)
from broadcaster.services import registry
from broadcaster.services.registry import CommuneChanges

router = APIRouter(tags=["danh mục"], responses=ERROR_RESPONSES)


@router.get("/communes", response_model=list[CommuneOut])
def list_communes(user: CurrentUser, session: DbSession) -> list[CommuneOut]:
    """The communes you may see (yours, or all for a province admin)."""
    return [CommuneOut.of(c) for c in registry.list_communes(session, user)]


@router.post("/communes", response_model=CommuneOut, status_code=status.HTTP_201_CREATED, dependencies=[JsonBody])
def create_commune(body: CommuneCreate, user: CurrentUser, session: DbSession, runtime: RuntimeDep) -> CommuneOut:
    """Register a commune (province admin); the scheduler plans its sessions at once."""
    commune = registry.create_commune(session, user, code=body.code, name=body.name, province=body.province,
                                      timetable=body.timetable, schedules_dir=runtime.settings.schedules_dir,
                                      four_eyes=body.four_eyes, on_timetable_change=runtime.reschedule)
    return CommuneOut.of(commune)


@router.get("/communes/{commune_id}", response_model=CommuneOut)
def get_commune(commune_id: IdPath, user: CurrentUser, session: DbSession) -> CommuneOut:
    """One commune."""
    return CommuneOut.of(registry.get_commune(session, user, commune_id))


@router.patch("/communes/{commune_id}", response_model=CommuneOut, dependencies=[JsonBody])
def update_commune(commune_id: IdPath, body: CommuneUpdate, user: CurrentUser, session: DbSession,
                   runtime: RuntimeDep) -> CommuneOut:
    """Rename a commune, switch its timetable or its four-eyes rule, set its default voice and speaking rate
    (its admin); the scheduler follows at once."""
    changes = CommuneChanges(name=body.name, province=body.province, timetable=body.timetable,
                             default_voice=body.default_voice, speech_rate=body.speech_rate, four_eyes=body.four_eyes)
    return CommuneOut.of(registry.update_commune(session, user, commune_id, changes,
                                                 schedules_dir=runtime.settings.schedules_dir,
                                                 on_timetable_change=runtime.reschedule,
                                                 check_voice=runtime.check_voice))


@router.delete("/communes/{commune_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_commune(commune_id: IdPath, user: CurrentUser, session: DbSession, runtime: RuntimeDep) -> None:
    """Delete a commune with no accounts and no bulletins (province admin); its audit events stay."""
    registry.delete_commune(session, user, commune_id, on_timetable_change=runtime.reschedule)


@router.get("/communes/{commune_id}/zones", response_model=list[ZoneOut])
def list_zones(commune_id: IdPath, user: CurrentUser, session: DbSession) -> list[ZoneOut]:
    """The zones (thôn, bản) of a commune."""
    return [ZoneOut.of(z) for z in registry.list_zones(session, user, commune_id)]


@router.post("/communes/{commune_id}/zones", response_model=ZoneOut, status_code=status.HTTP_201_CREATED,
             dependencies=[JsonBody])
def create_zone(commune_id: IdPath, body: ZoneBody, user: CurrentUser, session: DbSession) -> ZoneOut:
    """Add a zone (admin)."""
    return ZoneOut.of(registry.create_zone(session, user, commune_id, body.name))


@router.patch("/zones/{zone_id}", response_model=ZoneOut, dependencies=[JsonBody])
def rename_zone(zone_id: IdPath, body: ZoneBody, user: CurrentUser, session: DbSession) -> ZoneOut:
    """Rename a zone (admin)."""
    return ZoneOut.of(registry.rename_zone(session, user, zone_id, body.name))


@router.delete("/zones/{zone_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_zone(zone_id: IdPath, user: CurrentUser, session: DbSession) -> None:
    """Delete a zone no bulletin targets (admin)."""
    registry.delete_zone(session, user, zone_id)


@router.get("/communes/{commune_id}/clusters", response_model=list[ClusterOut])
def list_clusters(commune_id: IdPath, user: CurrentUser, session: DbSession) -> list[ClusterOut]:
    """The speaker clusters of a commune."""
    return [ClusterOut.of(c) for c in registry.list_clusters(session, user, commune_id)]


@router.post("/communes/{commune_id}/clusters", response_model=ClusterCreated, status_code=status.HTTP_201_CREATED,
             dependencies=[JsonBody])
def create_cluster(commune_id: IdPath, body: ClusterBody, user: CurrentUser, session: DbSession) -> ClusterCreated:
    """Add a speaker cluster (admin); the answer holds its report secret, shown only this once."""
    return ClusterCreated.of(*registry.create_provisioned_cluster(session, user, commune_id, body.values()))


@router.get("/clusters/{cluster_id}", response_model=ClusterOut)
def get_cluster(cluster_id: IdPath, user: CurrentUser, session: DbSession) -> ClusterOut:
    """One speaker cluster."""
    return ClusterOut.of(registry.get_cluster(session, user, cluster_id))


@router.patch("/clusters/{cluster_id}", response_model=ClusterOut, dependencies=[JsonBody])
def update_cluster(cluster_id: IdPath, body: ClusterBody, user: CurrentUser, session: DbSession) -> ClusterOut:
    """Change a speaker cluster (admin)."""
    return ClusterOut.of(registry.update_cluster(session, user, cluster_id, body.values()))


@router.delete("/clusters/{cluster_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_cluster(cluster_id: IdPath, user: CurrentUser, session: DbSession) -> None:
    """Delete a cluster that no bulletin and no broadcast log entry refers to (admin)."""
    registry.delete_cluster(session, user, cluster_id)
