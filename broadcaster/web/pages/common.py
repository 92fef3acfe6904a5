"""Helpers the page modules share: the commune a page is about, the bulletin form fields, redirects after a form."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from fastapi import Depends, Form
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from broadcaster.errors import BroadcasterError, NotAuthenticated
from broadcaster.models import Commune, User
from broadcaster.services import registry, scoping
from broadcaster.services.bulletins import MAX_REPEAT, TITLE_MAX_LENGTH
from broadcaster.text import MAX_BULLETIN_CHARS
from broadcaster.text.explain import Explanation
from broadcaster.web.forms import optional_id

if TYPE_CHECKING:
    from broadcaster.speech import SpeechService

log = logging.getLogger(__name__)

TextField = Annotated[
    str, Form(max_length=MAX_BULLETIN_CHARS * 2)
]  # the service gives the real limit's message
ShortField = Annotated[str, Form(max_length=TITLE_MAX_LENGTH * 2)]
ListField = Annotated[list[str], Form(max_length=500)]
Result = TypeVar("Result")


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


def bulletin_form_context(
    session: Session, user: User, commune: Commune, values: dict[str, Any], error: BroadcasterError | None
) -> dict[str, Any]:
    """What every bulletin form page shows: the commune (and its picker), its targets, the values, the error."""
    return {
        "commune": commune,
        "communes": commune_choices(session, user),
        "zones": registry.list_zones(session, user, commune.id),
        "clusters": registry.list_clusters(session, user, commune.id),
        "values": values,
        "error": error,
        "max_chars": MAX_BULLETIN_CHARS,
        "max_repeat": MAX_REPEAT,
    }


def spoken_form(speech: Callable[[], SpeechService], text: str | None, commune_id: int) -> Explanation | None:
    """What the voice will say for ``text`` with the commune's lexicon, guesses marked; None if nothing to say."""
    if not text or not text.strip():
        return None
    try:
        return speech().explain(text, commune_id=commune_id)
    except BroadcasterError as error:
        # The spoken form is advice beside the text: the page still works without it.
        log.warning("no spoken form for commune %s: [%s] %s", commune_id, error.code, error.message)
        return None


def spoken_segments(explanation: Explanation | None) -> list[dict[str, Any]]:
    """The spoken form as JSON for the page script: plain pieces and uncertain spans."""
    if explanation is None:
        return []
    return [
        {"text": piece, "unsure": None if span is None else
         {"written": span.written, "reason": span.reason, "spelled": span.spelled}}
        for piece, span in explanation.segments()
    ]


def see_other(url: str) -> RedirectResponse:
    """Redirect after a successful form (POST-redirect-GET), so reloading does not post it again."""
    return RedirectResponse(url, status_code=303)


def answer_form(session: Session, action: Callable[[], Result], done: Callable[[Result], Response],
                refused: Callable[[BroadcasterError], Response]) -> Response:
    """``done(action())``; if a service refuses the form, roll back and answer ``refused(error)`` instead.

    ``refused`` shows the form's page again with the error (and the values to fix). A lost login is
    not a refusal: it goes on to the login page.
    """
    try:
        result = action()
    except NotAuthenticated:
        raise
    except BroadcasterError as error:
        session.rollback()
        return refused(error)
    return done(result)


@dataclass(frozen=True)
class BulletinForm:
    """The fields every bulletin form posts (compose, edit, emergency), as the browser sends them."""

    title: str
    text: str
    zone_ids: list[str]
    cluster_ids: list[str]
    repeat: str

    def values(self) -> dict[str, Any]:
        """The fields as the form template shows them again (after an error)."""
        return {
            "title": self.title,
            "text": self.text,
            "zone_ids": self.zone_ids,
            "cluster_ids": self.cluster_ids,
            "repeat": self.repeat,
        }


def bulletin_form(
    title: ShortField = "",
    text: TextField = "",
    zone_ids: ListField = [],  # noqa: B006 - FastAPI copies defaults
    cluster_ids: ListField = [],  # noqa: B006 - FastAPI copies defaults
    repeat: ShortField = "",
) -> BulletinForm:
    """Read the shared bulletin fields from the posted form (a FastAPI dependency)."""
    return BulletinForm(title=title, text=text, zone_ids=zone_ids, cluster_ids=cluster_ids, repeat=repeat)


BulletinFormDep = Annotated[BulletinForm, Depends(bulletin_form)]
