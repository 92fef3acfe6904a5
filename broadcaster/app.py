"""The web application: ``create_app(settings)`` builds it; its lifespan starts and stops the runtime.

Nothing is created at import time. The lifespan migrates the database, and unless
``settings.run_scheduler`` is off, builds the speech and programming services and starts the
broadcast scheduler. The long-lived objects live on ``app.state.runtime``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI

from broadcaster.api import FORM_OVERHEAD_BYTES, UPLOAD_PATHS, install_api
from broadcaster.api.agent_clock import AgentClockMiddleware
from broadcaster.api.body_limit import BodyLimitMiddleware
from broadcaster.api.errors import install_error_handlers
from broadcaster.api.metrics import ApiMetrics, MetricsMiddleware
from broadcaster.api.runtime import Runtime
from broadcaster.clock import Clock
from broadcaster.config import Settings, load_settings
from broadcaster.web import WEB_UPLOAD_PATHS, install_web

if TYPE_CHECKING:
    from broadcaster.services.handoff import ProgrammeHandoff

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, handoff: ProgrammeHandoff | None = None,
               clock: Clock | None = None, runtime: Runtime | None = None) -> FastAPI:
    """Build the application for ``settings`` (default: ``load_settings()``); nothing starts until its lifespan.

    ``runtime``: one the caller built and ran ``start_blocking`` on already (``broadcaster serve``
    does, so a start-up error is reported before the server starts); the lifespan then only starts
    its scheduler, and stops it at the end.
    """
    prepared = runtime
    settings = prepared.settings if prepared is not None else settings or load_settings()
    metrics = ApiMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = prepared
        if runtime is None:
            runtime = Runtime(settings, handoff=handoff, clock=clock)
            await asyncio.to_thread(runtime.start_blocking)
        runtime.start_scheduler()
        metrics.watch_database(runtime.db)
        app.state.runtime = runtime
        log.info("broadcaster API ready (scheduler %s)", "on" if settings.run_scheduler else "off")
        try:
            yield
        finally:
            await asyncio.to_thread(runtime.stop)

    app = FastAPI(
        title="broadcaster",
        summary="Bản tin truyền thanh xã: soạn, duyệt, phát trên cụm loa thông minh.",
        version="1",
        lifespan=lifespan,
        docs_url=None,  # served below from packaged assets: FastAPI's default loads Swagger UI from a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    install_error_handlers(app)
    upload_limit = settings.upload_max_bytes + FORM_OVERHEAD_BYTES
    app.add_middleware(BodyLimitMiddleware, default_limit=settings.request_max_bytes,
                       path_limits={path: upload_limit for path in (*UPLOAD_PATHS, *WEB_UPLOAD_PATHS)})
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(AgentClockMiddleware)
    install_api(app)
    install_web(app, settings)  # the officers' pages and their static files
    install_offline_docs(app)
    return app


def install_offline_docs(app: FastAPI) -> None:
    """``/docs``: Swagger UI from the ``swagger-ui-bundle`` package, so the API docs work with no Internet."""
    import swagger_ui_bundle
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import HTMLResponse
    from fastapi.staticfiles import StaticFiles

    app.mount("/docs/assets", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        """The interactive API documentation."""
        return get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json", title="broadcaster · API",
                                   swagger_js_url="/docs/assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs/assets/swagger-ui.css", swagger_favicon_url="/favicon.ico")
