"""Request body limits, enforced while the body streams in: 413 in our error shape, nothing read past the cap.

A declared Content-Length over the limit is refused before a byte of the body is read; a chunked
body is counted as it arrives and cut off as soon as it passes the limit. Upload routes get a
larger limit than JSON routes. (FastAPI's own limit answers in plain text once the body was
announced too large, whatever the app says; ours keeps every error in the API's JSON shape.)
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from broadcaster.api.errors import error_content

TOO_LARGE_MESSAGE = "Dữ liệu gửi lên quá lớn (giới hạn {limit})."


def _readable(limit: int) -> str:
    return f"{limit / 1024 / 1024:.0f} MB" if limit >= 1024 * 1024 else f"{limit / 1024:.0f} kB"


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes the limit; the app's handler answers 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=TOO_LARGE_MESSAGE.format(limit=_readable(limit)))


class BodyLimitMiddleware:
    """Caps request bodies: ``default_limit`` bytes, or the limit given for an exact path."""

    def __init__(self, app: ASGIApp, default_limit: int, path_limits: Mapping[str, int]) -> None:
        self.app = app
        self.default_limit = default_limit
        self.path_limits = dict(path_limits)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.path_limits.get(scope["path"], self.default_limit)
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            response = JSONResponse(
                error_content("request_too_large", TOO_LARGE_MESSAGE.format(limit=_readable(limit))),
                status_code=413, headers={"Connection": "close"},
            )
            await response(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counting_receive, send)
