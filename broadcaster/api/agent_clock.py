"""Every answer to an agent says when the server received the request and when it answered.

With its own send and receive instants, that is one NTP-style sample for the agent's estimate of
the server clock (``broadcaster.agent.clock``). Stamped here, outside the routes, so that errors
(a 401 for a clock too far off, above all) carry the time too: an agent whose clock was lost in a
power cut learns the right time from the very answer that refused it.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from broadcaster.delivery.pull_wire import TIME_RECEIVED_HEADER, TIME_SENT_HEADER

AGENT_PREFIX = "/api/agent/"


class AgentClockMiddleware:
    """Adds the server's receive and send instants to every ``/api/agent/*`` response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass through, stamping the response headers of agent requests."""
        if scope["type"] != "http" or not scope["path"].startswith(AGENT_PREFIX):
            await self.app(scope, receive, send)
            return
        received = time.time()

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((TIME_RECEIVED_HEADER.lower().encode(), f"{received:.6f}".encode()))
                headers.append((TIME_SENT_HEADER.lower().encode(), f"{time.time():.6f}".encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, stamped)
