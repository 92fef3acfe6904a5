"""Prometheus metrics of one app: HTTP requests by route, and bulletins by status at scrape time.

Each app has its own registry (no process-global state), so two apps in one test process do not
mix their numbers.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from fastapi.routing import iter_route_contexts
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from broadcaster.db import Database

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class _BulletinCollector(Collector):
    """Counts bulletins by commune and status when Prometheus scrapes."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from broadcaster.services.health import bulletin_counts

        family = GaugeMetricFamily("broadcaster_bulletins", "Bulletins by commune and status",
                                   labels=["commune_id", "status"])
        with self.db.session() as session:
            for (commune_id, status), count in sorted(bulletin_counts(session).items()):
                family.add_metric([str(commune_id), status], count)
        yield family


class ApiMetrics:
    """The app's metric registry and instruments."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("broadcaster_http_requests", "HTTP requests answered",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("broadcaster_http_request_duration_seconds", "Time to answer HTTP requests",
                                 ["method", "route"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self._watching = False

    def watch_database(self, db: Database) -> None:
        """Report bulletin counts from ``db`` at every scrape."""
        if not self._watching:
            self.registry.register(_BulletinCollector(db))
            self._watching = True

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """Times every HTTP request and counts it by route template (not raw path: ids would explode labels)."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics
        self._templates: dict[int, str] | None = None

    def _template(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is None:
            return "unmatched"
        if self._templates is None:
            # Included routers keep their routes' paths relative; the app knows the full templates.
            self._templates = {id(context.original_route): str(context.path)
                               for context in iter_route_contexts(scope["app"].routes)}
        return self._templates.get(id(route)) or str(getattr(route, "path", "unmatched"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            template = self._template(scope)
            method = scope.get("method", "")
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.latency.labels(method, template).observe(time.perf_counter() - started)
