"""Routing of the pages: the route class that turns errors into pages, and the request dependencies.

Every page calls the same services as the API, with the signed-in ``User`` as the actor, so roles
and commune scoping are decided in one place (``services.scoping``). A ``BroadcasterError`` raised
by a service becomes an HTML page with its Vietnamese message and its status (or, for the few
endpoints the page's script calls, the API's JSON error shape); an expired session sends the
browser to the login page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.routing import APIRoute
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.responses import Response

from broadcaster.api.deps import DbSession
from broadcaster.api.errors import error_content, retry_after_headers
from broadcaster.errors import BroadcasterError, InvalidInput, NotAuthenticated, NotFound
from broadcaster.models import User
from broadcaster.resource_faults import public_error
from broadcaster.services import auth
from broadcaster.web.rendering import WebUser, render, web_state
from broadcaster.web.security import CSRF_FIELD, CSRF_HEADER, SAFE_METHODS, check_csrf

log = logging.getLogger(__name__)
LOGIN_PATH = "/dang-nhap"
PASSWORD_PATH = "/doi-mat-khau"
# What a user whose password was reset may still open: choosing a new one, and leaving.
PASSWORD_CHANGE_PATHS = frozenset({PASSWORD_PATH, "/dang-xuat"})


class PasswordChangePending(NotAuthenticated):
    """Signed in, but an admin reset the password: the user must choose a new one first."""

    code = "password_change_required"


class LoginRequired(NotAuthenticated):
    """The page needs a signed-in user and the request has no live session."""

    code = "login_required"


class PageNotFound(NotFound):
    """The address names no page (e.g. a bulletin number that is not a number)."""

    code = "page_not_found"


class FormInvalid(InvalidInput):
    """A form or filter field could not be read (a date, a number)."""

    code = "form_invalid"


def wants_json(request: Request) -> bool:
    """True for the page script's own requests (they ask for JSON)."""
    return "application/json" in request.headers.get("accept", "")


def safe_next(target: str | None) -> str:
    """A local path to go back to after logging in (never another site)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/ban-tin"


def login_redirect(request: Request) -> RedirectResponse:
    """Send the browser to the login page, remembering where it was going."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{LOGIN_PATH}?tiep={quote(target, safe='')}", status_code=303)


def error_page(request: Request, error: BroadcasterError) -> Response:
    """The page (or JSON) for a service error (with Retry-After when it says when to retry)."""
    headers = retry_after_headers(error)
    if wants_json(request):
        return JSONResponse(error_content(error.code, error.message), status_code=error.status, headers=headers)
    response = render(request, "error.html", {"error": error}, status=error.status)
    response.headers.update(headers)
    return response


class WebRoute(APIRoute):
    """An ``APIRoute`` whose errors answer as pages: login redirect, error page with the message."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The default handler, wrapped to turn our errors into pages."""
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except PasswordChangePending as error:
                if wants_json(request):
                    return JSONResponse(error_content(error.code, error.message), status_code=403)
                return RedirectResponse(f"{PASSWORD_PATH}?tb=phai-doi-mat-khau", status_code=303)
            except NotAuthenticated as error:
                if wants_json(request):
                    return JSONResponse(
                        error_content(error.code, "Phiên làm việc đã hết. Hãy đăng nhập lại."),
                        status_code=401,
                    )
                return login_redirect(request)
            except (BroadcasterError, DBAPIError, PoolTimeout, OSError) as raised:
                # A full disk or a locked database is a page saying so (503), not an unexpected error.
                error = public_error(raised)
                if error is None:
                    raise
                if error.status >= 500:
                    log.error(
                        "%s %s failed: [%s] %s (%s)",
                        request.method,
                        request.url.path,
                        error.code,
                        error.message,
                        error.detail,
                    )
                return error_page(request, error)
            except RequestValidationError as error:
                # Pages parse their fields themselves (with Vietnamese messages naming them); what is
                # left here is a malformed address or an absurd field, so the wording stays general.
                if any(str(e.get("loc", ("",))[0]) == "path" for e in error.errors()):
                    return error_page(
                        request, PageNotFound("Không có trang này.", detail=str(error.errors()))
                    )
                return error_page(
                    request,
                    FormInvalid(
                        "Dữ liệu gửi lên không hợp lệ (có ô quá dài hoặc sai kiểu). Hãy kiểm tra lại.",
                        detail=str(error.errors())[:500],
                    ),
                )

        return page_handler


async def require_csrf(request: Request) -> None:
    """Refuse a state-changing request without the CSRF token of its own session (or login page)."""
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    check_csrf(request, web_state(request).cookies, sent)


def session_token(request: Request) -> str | None:
    """The raw session token from the cookie, if any."""
    return request.cookies.get(web_state(request).cookies.session)


def signed_in_user(request: Request, session: DbSession) -> User:
    """The user of the session cookie (``LoginRequired`` without a live one); remembered for the page."""
    token = session_token(request)
    if not token:
        raise LoginRequired("Hãy đăng nhập.")
    try:
        user = auth.authenticate(session, token, allow_password_change=True)
    except NotAuthenticated as error:
        raise LoginRequired("Phiên làm việc đã hết. Hãy đăng nhập lại.") from error
    request.state.web_user = WebUser.of(user)
    if user.must_change_password and request.url.path not in PASSWORD_CHANGE_PATHS:
        raise PasswordChangePending("Hãy đổi mật khẩu trước khi tiếp tục.")
    return user


PageUser = Annotated[User, Depends(signed_in_user)]
