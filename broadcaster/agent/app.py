"""The agent's HTTP face: ``POST /orders`` and ``GET /status``. It only translates.

``POST /orders`` takes the raw envelope (``application/json``) and answers
``202 {"status": "accepted", "order_id", "seq"}`` or a 4xx ``{"code", "message"}``:
400 order_malformed, 401 order_bad_signature, 403 order_wrong_cluster, 410 order_expired,
409 order_replayed (with ``"duplicate": true`` when it is an exact copy of an accepted order,
which a retrying server may treat as delivered).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from broadcaster.agent.intake import Intake
from broadcaster.delivery.orders import MAX_ENVELOPE_BYTES, OrderMalformed, OrderRejected, OrderReplayed


def create_agent_app(intake: Intake, status: Callable[[], dict[str, Any]]) -> FastAPI:
    """The FastAPI app of one agent."""
    app = FastAPI(title="broadcaster agent", docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/orders", status_code=202)
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

    @app.get("/status")
    async def get_status() -> dict[str, Any]:
        return status()

    return app


def _refusal(error: OrderRejected) -> JSONResponse:
    content: dict[str, Any] = {"code": error.code, "message": error.message}
    if isinstance(error, OrderReplayed):
        content["duplicate"] = error.duplicate
    return JSONResponse(content, status_code=error.status)
