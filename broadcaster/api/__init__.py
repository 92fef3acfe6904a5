"""The HTTP API: routers that parse a request, call a service and return its answer.

Routers hold no queries and no commits; errors are mapped to HTTP in ``api.errors``.
"""

from __future__ import annotations

from fastapi import FastAPI

API_PREFIX = "/api/v1"
# Multipart framing around an uploaded file: boundaries, part headers and the small form fields.
FORM_OVERHEAD_BYTES = 256 * 1024
# Routes that take a recording: their body limit is the upload cap, not the JSON one.
UPLOAD_PATHS = (f"{API_PREFIX}/bulletins/recording", f"{API_PREFIX}/emergencies/recording")


def install_api(app: FastAPI) -> None:
    """Mount every route of the API on ``app`` (body limits are applied by ``api.body_limit`` in ``create_app``).

    Each module's router goes straight onto the app: FastAPI rebuilds every route at each
    ``include_router``, so nesting routers multiplies the cost of building an app (~0.3 s a level).
    """
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

    app.include_router(system.router)
    for module in (auth, bulletins, emergencies, province, registry, users, timetables, broadcast_log, voices):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(recordings.router, prefix=API_PREFIX,
                       form_limits={"max_files": 1, "max_fields": 1000, "max_part_size": 64 * 1024})
    # Agents and CDNs use stable paths outside the versioned API (delivery, docs/delivery.md).
    app.include_router(agent.router)
    app.include_router(audio.router)
