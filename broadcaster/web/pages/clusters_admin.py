"""Quản lý cụm loa (a commune admin): thôn/bản, adding, renaming, moving and retiring clusters, agent files.

The agent file carries the cluster's secret, so it is issued only with a fresh one
(``cluster_admin.issue_agent_config``): the answer to that POST is the one page where the file,
its download and its QR code appear, and the old secret stops working at that moment.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from broadcaster.api.deps import DbSession, RuntimeDep
from broadcaster.api.schemas.common import IdPath
from broadcaster.errors import BroadcasterError
from broadcaster.models import Cluster, Commune, Role, User
from broadcaster.services import cluster_admin, commune_overview, registry, scoping
from broadcaster.services.registry import ClusterFields
from broadcaster.web import forms
from broadcaster.web.pages.common import answer_form, commune_choices, page_commune, see_other
from broadcaster.web.rendering import render
from broadcaster.web.routing import PageUser, WebRoute

router = APIRouter(route_class=WebRoute)
ADMIN_PATH = "/cum-loa/quan-ly"
NAME_MAX = 200
URL_MAX = 500
Field = Annotated[str, Form(max_length=1000)]


def _admin_page(request: Request, session: Session, user: User, commune: Commune, *,
                error: BroadcasterError | None = None, values: dict[str, str] | None = None) -> Response:
    return render(
        request,
        "clusters_admin.html",
        {
            "commune": commune,
            "communes": commune_choices(session, user),
            "zones": registry.list_zones(session, user, commune.id),
            "clusters": registry.list_clusters(session, user, commune.id, include_retired=True),
            "error": error,
            "values": values or {"name": "", "zone_id": "", "agent_url": "", "zone_name": ""},
        },
        status=error.status if error else 200,
    )


@router.get(ADMIN_PATH)
def admin_page(request: Request, user: PageUser, session: DbSession, xa: str = "") -> Response:
    """The commune's thôn/bản and clusters, with the forms that change them (admins)."""
    commune = page_commune(session, user, xa)
    scoping.require_role(user, Role.ADMIN)
    return _admin_page(request, session, user, commune)


def _zone_id(value: str) -> int | None:
    return forms.optional_id(value, "Thôn/bản")


@router.post("/thon/them")
def add_zone(request: Request, user: PageUser, session: DbSession, xa: Field = "", zone_name: Field = "") -> Response:
    """Add a thôn/bản."""
    commune = page_commune(session, user, xa)
    values = {"name": "", "zone_id": "", "agent_url": "", "zone_name": zone_name}
    return answer_form(
        session,
        lambda: registry.create_zone(session, user, commune.id,
                                     forms.text(zone_name, "Tên thôn/bản", max_length=NAME_MAX)),
        lambda _: see_other(f"{ADMIN_PATH}?xa={commune.id}&tb=da-them-thon"),
        lambda error: _admin_page(request, session, user, commune, error=error, values=values))


@router.post("/thon/{zone_id}/doi-ten")
def rename_zone(request: Request, zone_id: IdPath, user: PageUser, session: DbSession, name: Field = "") -> Response:
    """Rename a thôn/bản."""
    zone = registry.get_zone(session, user, zone_id)
    return _on_zone(request, session, user, zone.commune, lambda: registry.rename_zone(
        session, user, zone.id, forms.text(name, "Tên thôn/bản", max_length=NAME_MAX)), "da-doi-ten-thon")


@router.post("/thon/{zone_id}/xoa")
def delete_zone(request: Request, zone_id: IdPath, user: PageUser, session: DbSession) -> Response:
    """Delete a thôn/bản no bulletin targets (its clusters stay, without a thôn)."""
    zone = registry.get_zone(session, user, zone_id)
    return _on_zone(request, session, user, zone.commune, lambda: registry.delete_zone(session, user, zone.id),
                    "da-xoa-thon")


def _on_zone(request: Request, session: Session, user: User, commune: Commune, action: Any, note: str) -> Response:
    """Run ``action()`` on a thôn/bản; its errors show on the commune's admin page."""
    return answer_form(session, action, lambda _: see_other(f"{ADMIN_PATH}?xa={commune.id}&tb={note}"),
                       lambda error: _admin_page(request, session, user, commune, error=error))


def _cluster_fields(name: str, zone_id: str, agent_url: str) -> ClusterFields:
    url = forms.text(agent_url, "Địa chỉ máy điều khiển", max_length=URL_MAX, required=False)
    if url and not url.startswith(("http://", "https://")):
        raise forms.FormInvalid("«Địa chỉ máy điều khiển» phải bắt đầu bằng http:// hoặc https://.")
    return ClusterFields(name=forms.text(name, "Tên cụm loa", max_length=NAME_MAX), zone_id=_zone_id(zone_id) or 0,
                         agent_url=url)


@router.post("/cum-loa/them")
def add_cluster(request: Request, user: PageUser, session: DbSession, xa: Field = "", name: Field = "",
                zone_id: Field = "", agent_url: Field = "") -> Response:
    """Add a cluster; next, the admin issues its agent file from the cluster's page."""
    commune = page_commune(session, user, xa)
    values = {"name": name, "zone_id": zone_id, "agent_url": agent_url, "zone_name": ""}
    return answer_form(
        session, lambda: registry.create_cluster(session, user, commune.id, _cluster_fields(name, zone_id, agent_url)),
        lambda cluster: see_other(f"/cum-loa/{cluster.id}?tb=da-them-cum"),
        lambda error: _admin_page(request, session, user, commune, error=error, values=values))


def _cluster_page(request: Request, session: Session, user: User, runtime: Any, cluster: Cluster, *,
                  error: BroadcasterError | None = None) -> Response:
    now = runtime.clock.now()
    state = next((s for s in commune_overview.cluster_states(session, user, cluster.commune_id, now)
                  if s.id == cluster.id), None)
    return render(
        request,
        "cluster.html",
        {
            "cluster": cluster,
            "commune": cluster.commune,
            "state": state,
            "checked_at": now,
            "last": commune_overview.last_airing(session, user, cluster.id),
            "zones": registry.list_zones(session, user, cluster.commune_id),
            "admin": scoping.has_role(user, Role.ADMIN),
            "error": error,
        },
        status=error.status if error else 200,
    )


@router.get("/cum-loa/{cluster_id}")
def cluster_page(request: Request, cluster_id: IdPath, user: PageUser, session: DbSession,
                 runtime: RuntimeDep) -> Response:
    """One cluster: connection, clock, volume, last airing; for admins the forms that change it."""
    cluster = registry.get_cluster(session, user, cluster_id)
    return _cluster_page(request, session, user, runtime, cluster)


def _on_cluster(request: Request, session: Session, user: User, runtime: Any, cluster_id: int,
                action: Any, note: str) -> Response:
    """Run ``action()`` on a visible cluster; its errors show on the cluster's page."""
    cluster = registry.get_cluster(session, user, cluster_id)
    return answer_form(session, action, lambda _: see_other(f"/cum-loa/{cluster.id}?tb={note}"),
                       lambda error: _cluster_error(request, session, user, runtime, cluster_id, error))


def _cluster_error(request: Request, session: Session, user: User, runtime: Any, cluster_id: int,
                   error: BroadcasterError) -> Response:
    """The cluster's page again (read afresh after the rollback), with the error."""
    return _cluster_page(request, session, user, runtime, registry.get_cluster(session, user, cluster_id),
                         error=error)


@router.post("/cum-loa/{cluster_id}/sua")
def edit_cluster(request: Request, cluster_id: IdPath, user: PageUser, session: DbSession, runtime: RuntimeDep,
                 name: Field = "", zone_id: Field = "", agent_url: Field = "") -> Response:
    """Rename a cluster, move it to another thôn, or change its agent's address."""
    return _on_cluster(request, session, user, runtime, cluster_id, lambda: registry.update_cluster(
        session, user, cluster_id, _cluster_fields(name, zone_id, agent_url)), "da-sua-cum")


@router.post("/cum-loa/{cluster_id}/am-luong")
def set_volume(request: Request, cluster_id: IdPath, user: PageUser, session: DbSession, runtime: RuntimeDep,
               volume: Field = "") -> Response:
    """The volume of the cluster's next programmes."""
    return _on_cluster(request, session, user, runtime, cluster_id, lambda: cluster_admin.set_volume(
        session, user, cluster_id, forms.number(volume, "Âm lượng", default=-1, low=0, high=100)), "da-dat-am-luong")


@router.post("/cum-loa/{cluster_id}/phat-thu")
def test_tone(request: Request, cluster_id: IdPath, user: PageUser, session: DbSession,
              runtime: RuntimeDep) -> Response:
    """"Phát thử": a short test tone at this cluster only, in a few seconds."""
    return _on_cluster(request, session, user, runtime, cluster_id, lambda: cluster_admin.play_test_tone(
        session, user, cluster_id, lambda: runtime.programming), "da-phat-thu")


@router.post("/cum-loa/{cluster_id}/ngung")
def retire_cluster(request: Request, cluster_id: IdPath, user: PageUser, session: DbSession,
                   runtime: RuntimeDep) -> Response:
    """Retire the cluster: no more programmes, secret revoked, history kept."""
    return _on_cluster(request, session, user, runtime, cluster_id,
                       lambda: cluster_admin.retire(session, user, cluster_id), "da-ngung-cum")


@router.post("/cum-loa/{cluster_id}/cau-hinh")
def issue_config(request: Request, cluster_id: IdPath, user: PageUser, session: DbSession,
                 runtime: RuntimeDep) -> Response:
    """A fresh secret and the agent file with it, shown once: as text, a download and a QR code."""
    return answer_form(session, lambda: cluster_admin.issue_agent_config(session, user, cluster_id, runtime.settings),
                       lambda issued: _config_page(request, session, user, issued),
                       lambda error: _cluster_error(request, session, user, runtime, cluster_id, error))


def _config_page(request: Request, session: Session, user: User, issued: cluster_admin.IssuedConfig) -> Response:
    """The agent file just issued, shown once: as text, a download and a QR code."""
    import segno

    qr = segno.make(issued.text, error="l")
    return render(
        request,
        "cluster_config.html",
        {
            "issued": issued,
            "cluster": registry.get_cluster(session, user, issued.cluster_id),
            "download": "data:application/yaml;charset=utf-8;base64,"
                        + base64.b64encode(issued.text.encode("utf-8")).decode("ascii"),
            "qr": qr.svg_data_uri(scale=3, border=4, dark="#000", light="#fff"),
            "qr_version": qr.version,
        },
    )
