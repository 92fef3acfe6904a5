"""The officers' pages (Vietnamese): server-rendered Jinja2 with a little plain JavaScript.

``install_web(app, settings)`` mounts them on the FastAPI app: the page routes, the static files
under ``/static`` and the ``WebState`` on ``app.state.web``. Pages call the same services as the
API with the signed-in user as the actor; security is described in ``web.security``.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from broadcaster.config import Settings

# The compose form may carry a recording: its body limit is the upload cap, not the JSON one.
WEB_UPLOAD_PATHS = ("/soan-tin", "/phat-khan-cap/xac-nhan")
# Paths of machines (API clients, agents, monitoring): their errors stay JSON.
MACHINE_PATHS = ("/api/", "/audio/", "/health", "/metrics", "/openapi.json", "/docs")


def include_pages(app: FastAPI) -> None:
    """Every page route on ``app``, each behind the CSRF check for state-changing methods.

    Straight onto the app, not through a router of routers: FastAPI rebuilds routes at each inclusion.
    """
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
        province_bulletins,
        timetable_editor,
        voices,
    )
    from broadcaster.web.routing import require_csrf

    # monitoring before clusters_admin: "/cum-loa/bang" must not be read as a cluster number.
    for module in (auth, compose, bulletins, approvals, emergency, monitoring, clusters_admin, accounts,
                   province, province_bulletins, timetable_editor, voices, lexicon):
        app.include_router(module.router, include_in_schema=False, dependencies=[Depends(require_csrf)])


def install_web(app: FastAPI, settings: Settings) -> None:
    """Mount the pages and their static files on ``app``."""
    from broadcaster.web.rendering import STATIC_DIR, WebState

    app.state.web = WebState(settings)
    include_pages(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        """The site's icon (browsers ask for it at this address)."""
        return FileResponse(STATIC_DIR / "favicon.ico", media_type="image/x-icon",
                            headers={"Cache-Control": "public, max-age=604800"})

    app.add_exception_handler(StarletteHTTPException, page_or_json_error)


async def page_or_json_error(request: Request, exc: Exception) -> Response:
    """A routing error as a Vietnamese page for a person's browser, as JSON for machines."""
    from broadcaster.api.errors import http_error
    from broadcaster.web.rendering import render
    from broadcaster.web.routing import PageNotFound

    assert isinstance(exc, StarletteHTTPException)
    machine = request.url.path.startswith(MACHINE_PATHS) or "text/html" not in request.headers.get("accept", "")
    if machine or exc.status_code != 404:
        return await http_error(request, exc)
    error = PageNotFound("Không có trang này. Có thể địa chỉ bị gõ sai, hoặc trang đã được chuyển đi.")
    return render(request, "error.html", {"error": error, "heading": "Không tìm thấy trang"}, status=404)
