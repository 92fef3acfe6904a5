"""The ``http`` transport: push each envelope to the agent, ``POST {agent_url}/orders``.

The agent answers 202 when it stored the order, 409 when it holds it already (``duplicate``:
true for an exact copy) or holds a newer one, 410 when the order has expired, and 400/401/403
for an order it will never take (see ``broadcaster.agent.app``). Anything else — no route, a
timeout, a 5xx, a proxy's 404 or 502 — may pass, so it is reported as ``TransportUnavailable``
and retried.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from broadcaster.delivery.transport import (
    ClusterAddress,
    SendOutcome,
    SendResult,
    Transport,
    TransportMisconfigured,
    TransportUnavailable,
    register_transport,
)

if TYPE_CHECKING:
    from broadcaster.config import Settings

ORDERS_PATH = "/orders"
# Refusals the agent will repeat whatever we do: retrying them only delays the log entry.
_FINAL_REFUSALS = {400, 401, 403, 413, 422}


@register_transport("http")
class HttpTransport(Transport):
    """POSTs envelopes over one pooled ``httpx.AsyncClient`` (created in the loop on first use)."""

    name = "http"

    def __init__(self, *, settings: Settings | None = None, timeout_s: float | None = None,
                 max_connections: int | None = None, **_options: Any) -> None:
        self._timeout_s = timeout_s or (settings.delivery_timeout_s if settings else 10.0)
        self._max_connections = max_connections or (settings.delivery_concurrency if settings else 64)
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self._timeout_s,
                limits=httpx.Limits(max_connections=self._max_connections,
                                    max_keepalive_connections=self._max_connections),
            )
        return self._client

    async def send(self, target: ClusterAddress, envelope: bytes) -> SendResult:
        """POST the envelope to the cluster's agent and classify its answer."""
        base = target.address.strip().rstrip("/")
        if not base.startswith(("http://", "https://")):
            raise TransportMisconfigured(
                f"Cụm loa {target.cluster_id} chưa có địa chỉ máy điều khiển hợp lệ (http://...).",
                detail=f"agent_url {target.address!r}",
            )
        try:
            response = await self._http().post(base + ORDERS_PATH, content=envelope,
                                               headers={"Content-Type": "application/json"})
        except httpx.HTTPError as error:
            raise TransportUnavailable(
                f"Không liên lạc được với cụm loa {target.cluster_id}.", detail=f"{base}: {error!r}"
            ) from None
        status = response.status_code
        if status in (200, 201, 202):
            return SendResult(SendOutcome.ACCEPTED)
        body = _json(response)
        code, message = body.get("code"), body.get("message")
        if status == 409:
            outcome = SendOutcome.DUPLICATE if body.get("duplicate") is True else SendOutcome.REPLAYED
            return SendResult(outcome, code or "order_replayed", message)
        if status == 410:
            return SendResult(SendOutcome.EXPIRED, code or "order_expired", message)
        if status in _FINAL_REFUSALS and isinstance(code, str) and code.startswith("order_"):
            return SendResult(SendOutcome.REFUSED, code, message)
        raise TransportUnavailable(
            f"Cụm loa {target.cluster_id} trả lời bất thường (HTTP {status}).",
            detail=f"{base}: HTTP {status} {response.text[:200]!r}",
        )

    async def aclose(self) -> None:
        """Close the pooled connections."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
