"""Đăng nhập / đăng xuất: the login form (rate-limited) and logging out (revokes the session record)."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from broadcaster.api.client_address import client_address
from broadcaster.api.deps import DbSession, RuntimeDep
from broadcaster.api.errors import retry_after_headers
from broadcaster.errors import BroadcasterError, NotAuthenticated
from broadcaster.services import auth
from broadcaster.services.account_access import WEB_SESSION_NAME
from broadcaster.web.rendering import render, web_state
from broadcaster.web.routing import LOGIN_PATH, WebRoute, safe_next, session_token
from broadcaster.web.security import clear_cookie, new_pre_login_secret, set_cookie

router = APIRouter(route_class=WebRoute)


def _login_page(
    request: Request,
    *,
    username: str = "",
    target: str = "",
    error: BroadcasterError | None = None,
    status: int = 200,
) -> Response:
    state = web_state(request)
    secret = request.cookies.get(state.cookies.session) or request.cookies.get(state.cookies.pre_login)
    fresh = None
    if secret is None:
        # First visit: the login form's CSRF token needs a secret cookie to be derived from.
        fresh = new_pre_login_secret()
        request.state.csrf_secret = fresh
    response = render(
        request, "login.html", {"username": username, "target": target, "error": error}, status=status
    )
    if fresh is not None:
        set_cookie(response, state.cookies, state.cookies.pre_login, fresh, max_age=None)
    return response


@router.get(LOGIN_PATH)
def login_form(request: Request, tiep: str = "") -> Response:
    """The login page."""
    return _login_page(request, target=tiep)


@router.post(LOGIN_PATH)
def login(
    request: Request,
    session: DbSession,
    runtime: RuntimeDep,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    tiep: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Check the password (rate-limited), open a server-side session and set its cookie."""
    state = web_state(request)
    account = username.strip().lower()
    ttl = timedelta(seconds=state.session_max_age)
    try:
        issued = runtime.login_limiter.attempt(
            account, client_address(request),
            lambda: auth.login(session, account, password, ttl=ttl, name=WEB_SESSION_NAME))
    except NotAuthenticated as error:
        return _login_page(request, username=username, target=tiep, error=error, status=401)
    except BroadcasterError as error:
        response = _login_page(request, username=username, target=tiep, error=error, status=error.status)
        response.headers.update(retry_after_headers(error))
        return response
    response = RedirectResponse(safe_next(tiep), status_code=303)
    set_cookie(response, state.cookies, state.cookies.session, issued.token, max_age=state.session_max_age)
    clear_cookie(response, state.cookies, state.cookies.pre_login)
    return response


@router.post("/dang-xuat")
def logout(request: Request, session: DbSession) -> Response:
    """Revoke the session record (the cookie is worthless from now on) and forget the cookie."""
    state = web_state(request)
    with contextlib.suppress(NotAuthenticated):  # already over: logging out again is not an error
        auth.revoke(session, session_token(request))
    response = RedirectResponse(f"{LOGIN_PATH}?tb=da-dang-xuat", status_code=303)
    clear_cookie(response, state.cookies, state.cookies.session)
    return response


@router.get("/")
def home() -> Response:
    """The start page is the bulletin list (which sends strangers to the login page)."""
    return RedirectResponse("/ban-tin", status_code=303)
