"""The HTTP API: routers that parse a request, call a service and return its answer.

Routers hold no queries and no commits; errors are mapped to HTTP in ``api.errors``.
"""

from __future__ import annotations

from fastapi import APIRouter

API_PREFIX = "/api/v1"
# Multipart framing around an uploaded file: boundaries, part headers and the small form fields.
FORM_OVERHEAD_BYTES = 256 * 1024
# Routes that take a recording: their body limit is the upload cap, not the JSON one.
UPLOAD_PATHS = (f"{API_PREFIX}/bulletins/recording", f"{API_PREFIX}/emergencies/recording")


def build_router() -> APIRouter:
    """Every route of the app (body limits are applied by ``api.body_limit`` in ``create_app``)."""
    from broadcaster.api.routes import (
        agent,
        audio,
        auth,
        broadcast_log,
        bulletins,
        emergencies,
        province,
        recordings,
        registry,
        system,
        timetables,
        users,
        voices,
    )

    router = APIRouter()
    router.include_router(system.router)
    api = APIRouter(prefix=API_PREFIX)
    for module in (auth, bulletins, emergencies, province, registry, users, timetables, broadcast_log, voices):
        api.include_router(module.router)
    api.include_router(recordings.router,
                       form_limits={"max_files": 1, "max_fields": 1000, "max_part_size": 64 * 1024})
    router.include_router(api)
    # Agents and CDNs use stable paths outside the versioned API (delivery, docs/delivery.md).
    router.include_router(agent.router)
    router.include_router(audio.router)
    return router
