"""The agent's HTTP face, for ``http`` push only: ``POST /orders`` and ``GET /status``. It only translates.

``POST /orders`` needs no authentication: an order acts only if its signature checks out. ``GET
/status`` tells what the box does and answers only loopback clients (the installer on the box);
others get 403. The body is read up to ``MAX_ENVELOPE_BYTES``; JSON nested too deeply is an
``order_malformed`` refusal like any other bad envelope, never an error page.

``POST /orders`` takes the raw envelope (``application/json``) and answers
``202 {"status": "accepted", "order_id", "seq"}`` or a 4xx ``{"code", "message"}``:
400 order_malformed, 401 order_bad_signature, 403 order_wrong_cluster, 410 order_expired,
409 order_replayed (with ``"duplicate": true`` when it is an exact copy of an accepted order,
which a retrying server may treat as delivered).

A plain Starlette app, not FastAPI: two routes that read raw bodies need no validation or
OpenAPI, and leaving FastAPI out saves every agent start about a third of a second of CPU.
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from broadcaster.agent.intake import Intake
from broadcaster.delivery.orders import MAX_ENVELOPE_BYTES, OrderMalformed, OrderRejected, OrderReplayed


def create_agent_app(intake: Intake, status: Callable[[], dict[str, Any]]) -> Starlette:
    """The ASGI app of one agent."""

    async def post_order(request: Request) -> JSONResponse:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_ENVELOPE_BYTES:
                return _refusal(OrderMalformed("Lệnh phát quá lớn.", detail="envelope too large"))
        try:
            order = intake.accept(bytes(body))
        except OrderRejected as error:
            return _refusal(error)
        return JSONResponse({"status": "accepted", "order_id": str(order.order_id), "seq": order.seq},
                            status_code=202)

    async def get_status(request: Request) -> JSONResponse:
        client = request.client.host if request.client else ""
        if not _loopback(client):
            return JSONResponse({"code": "status_local_only",
                                 "message": "Chỉ xem được trạng thái từ chính máy điều khiển (127.0.0.1)."},
                                status_code=403)
        return JSONResponse(status())

    return Starlette(routes=[Route("/orders", post_order, methods=["POST"]),
                             Route("/status", get_status, methods=["GET"])])


class AgentWebServer(uvicorn.Server):
    """uvicorn without its own signal handling: the agent shuts down in its own order."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def agent_web_server(intake: Intake, status: Callable[[], dict[str, Any]]) -> AgentWebServer:
    """The uvicorn server of an ``http`` agent (serving on the socket the runtime opened)."""
    return AgentWebServer(uvicorn.Config(create_agent_app(intake, status), log_level="warning", access_log=False,
                                         lifespan="off", timeout_graceful_shutdown=2))


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _refusal(error: OrderRejected) -> JSONResponse:
    content: dict[str, Any] = {"code": error.code, "message": error.message}
    if isinstance(error, OrderReplayed):
        content["duplicate"] = error.duplicate
    return JSONResponse(content, status_code=error.status)
