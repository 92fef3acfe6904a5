"""Helpers the page modules share: the commune a page is about, redirects after a form."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from broadcaster.models import Commune, User
from broadcaster.services import registry, scoping
from broadcaster.web.forms import optional_id


def page_commune(session: Session, user: User, requested: str | None) -> Commune:
    """The commune a commune page shows: the one asked for (``?xa=``, if visible), else the user's own.

    A province admin has no commune of their own and gets the first one, with a picker on the page.
    """
    wanted = optional_id(requested, "Xã")
    if wanted is not None:
        return scoping.visible_commune(session, user, wanted)
    if user.commune_id is not None:
        return scoping.visible_commune(session, user, user.commune_id)
    communes = registry.list_communes(session, user)
    if not communes:
        raise scoping.CommuneRequired("Chưa có xã/phường nào trong danh mục.")
    return communes[0]


def commune_choices(session: Session, user: User) -> Sequence[Commune]:
    """The communes a province admin may switch between (empty for everyone else: they have one)."""
    return registry.list_communes(session, user) if scoping.is_province_admin(user) else ()


def see_other(url: str) -> RedirectResponse:
    """Redirect after a successful form (POST-redirect-GET), so reloading does not post it again."""
    return RedirectResponse(url, status_code=303)
