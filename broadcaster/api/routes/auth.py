"""Log in (user name + password → bearer token), log out, and who am I."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, status

from broadcaster.api.client_address import client_address
from broadcaster.api.deps import BearerToken, CurrentUser, DbSession, JsonBody, RuntimeDep
from broadcaster.api.schemas.common import ERROR_RESPONSES, ErrorOut
from broadcaster.api.schemas.registry import LoginBody, TokenOut, UserOut
from broadcaster.services import auth

router = APIRouter(prefix="/auth", tags=["đăng nhập"], responses=ERROR_RESPONSES)


@router.post("/token", response_model=TokenOut, dependencies=[JsonBody],
             responses={429: {"model": ErrorOut, "description": "Đăng nhập sai quá nhiều lần; xem Retry-After"}})
def login(body: LoginBody, request: Request, session: DbSession, runtime: RuntimeDep) -> TokenOut:
    """Exchange a user name and password for a bearer token (failed attempts are rate-limited)."""
    ttl = timedelta(days=runtime.settings.token_ttl_days)
    client = client_address(request)
    issued = runtime.login_limiter.attempt(body.username, client,
                                           lambda: auth.login(session, body.username, body.password, ttl=ttl))
    return TokenOut(access_token=issued.token, expires_at=issued.expires_at, user=UserOut.of(issued.user))


@router.delete("/token", status_code=status.HTTP_204_NO_CONTENT)
def logout(user: CurrentUser, session: DbSession, token: BearerToken) -> None:
    """Revoke the token this request carries."""
    auth.revoke(session, token)


@router.get("/me", response_model=UserOut)
def me(user: CurrentUser) -> UserOut:
    """The account the token belongs to."""
    return UserOut.of(user)
