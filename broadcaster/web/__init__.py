"""The officers' pages (Vietnamese): server-rendered Jinja2 with a little plain JavaScript.

``install_web(app, settings)`` mounts them on the FastAPI app: the page routes, the static files
under ``/static`` and the ``WebState`` on ``app.state.web``. Pages call the same services as the
API with the signed-in user as the actor; security is described in ``web.security``.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from broadcaster.config import Settings

# The compose form may carry a recording: its body limit is the upload cap, not the JSON one.
WEB_UPLOAD_PATHS = ("/soan-tin", "/phat-khan-cap/xac-nhan")


def build_web_router() -> APIRouter:
    """Every page route, each behind the CSRF check for state-changing methods."""
    from broadcaster.web.pages import (
        accounts,
        approvals,
        auth,
        bulletins,
        clusters_admin,
        compose,
        emergency,
        lexicon,
        monitoring,
        province,
        timetable_editor,
        voices,
    )
    from broadcaster.web.routing import require_csrf

    router = APIRouter(include_in_schema=False, dependencies=[Depends(require_csrf)])
    # monitoring before clusters_admin: "/cum-loa/bang" must not be read as a cluster number.
    for module in (auth, compose, bulletins, approvals, emergency, monitoring, clusters_admin, accounts,
                   province, timetable_editor, voices, lexicon):
        router.include_router(module.router)
    return router


def install_web(app: FastAPI, settings: Settings) -> None:
    """Mount the pages and their static files on ``app``."""
    from broadcaster.web.rendering import STATIC_DIR, WebState

    app.state.web = WebState(settings)
    app.include_router(build_web_router())
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
