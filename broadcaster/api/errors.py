"""Errors over HTTP: every failure answers {"error": {"code", "message"}} with a Vietnamese message.

One handler maps ``BroadcasterError`` to its status; request validation errors keep the same shape
with the offending fields listed; routing errors (unknown path, wrong method, body too large) and
anything unexpected are mapped too, so a client never sees FastAPI's default English shapes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from broadcaster.errors import BroadcasterError, InvalidInput, NotAuthenticated
from broadcaster.field_errors import describe_fields
from broadcaster.resource_faults import public_error

log = logging.getLogger(__name__)


class UnsupportedMediaType(InvalidInput):
    """The request body has a Content-Type this endpoint does not take."""

    code = "unsupported_media_type"
    status = 415


_HTTP_ERRORS: Mapping[int, tuple[str, str]] = {
    400: ("bad_request", "Yêu cầu không đọc được."),
    404: ("not_found", "Không có địa chỉ này."),
    405: ("method_not_allowed", "Địa chỉ này không nhận phương thức HTTP đó."),
    413: ("request_too_large", "Dữ liệu gửi lên quá lớn."),
    415: ("unsupported_media_type", "Kiểu nội dung (Content-Type) không được hỗ trợ."),
}


def error_content(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """The JSON body of every error response."""
    return {"error": {"code": code, "message": message, **extra}}


def retry_after_headers(error: BroadcasterError) -> dict[str, str]:
    """``Retry-After`` when the error says when to retry (API answers and pages alike), else nothing."""
    return {"Retry-After": str(int(error.retry_after_s))} if error.retry_after_s else {}


def error_headers(error: BroadcasterError) -> dict[str, str]:
    """The headers an API error answer carries: Retry-After when the error says when to retry, the auth scheme."""
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(error, NotAuthenticated) else {}
    return headers | retry_after_headers(error)


async def _broadcaster_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BroadcasterError)
    error = public_error(exc) or exc
    if error.status >= 500:
        log.error("%s %s failed: [%s] %s (%s)", request.method, request.url.path, error.code, error.message,
                  error.detail)
    return JSONResponse(error_content(error.code, error.message), status_code=error.status,
                        headers=error_headers(error))


async def _low_level_error(request: Request, exc: Exception) -> JSONResponse:
    # A database or file error: a full disk or a held lock is a 503 the client can retry, not a bug.
    fault = public_error(exc)
    if fault is None:
        return await _unexpected_error(request, exc)
    log.warning("%s %s: [%s] %s", request.method, request.url.path, fault.code, fault.detail)
    return JSONResponse(error_content(fault.code, fault.message), status_code=fault.status,
                        headers=error_headers(fault))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    fields = describe_fields(errors)
    if any(error.get("type") == "json_invalid" for error in errors):
        return JSONResponse(error_content("invalid_json", "Nội dung JSON không hợp lệ.", fields=fields),
                            status_code=422)
    return JSONResponse(
        error_content("validation_error", "Dữ liệu gửi lên không hợp lệ; xem các trường được nêu.", fields=fields),
        status_code=422,
    )


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    """Routing errors (unknown path, wrong method, body too large) in the JSON error shape."""
    assert isinstance(exc, StarletteHTTPException)
    code, message = _HTTP_ERRORS.get(exc.status_code, ("http_error", "Yêu cầu không thực hiện được."))
    return JSONResponse(error_content(code, message), status_code=exc.status_code, headers=exc.headers)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(
        error_content("internal_error", "Lỗi máy chủ ngoài dự kiến; đã ghi lại để kiểm tra. Vui lòng thử lại sau."),
        status_code=500,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers above on ``app``."""
    app.add_exception_handler(BroadcasterError, _broadcaster_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(DBAPIError, _low_level_error)
    app.add_exception_handler(PoolTimeout, _low_level_error)  # every pooled connection busy: 503
    app.add_exception_handler(OSError, _low_level_error)
    app.add_exception_handler(Exception, _unexpected_error)

