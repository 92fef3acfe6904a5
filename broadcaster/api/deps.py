"""Dependencies of the routers, as ``Annotated`` aliases: the runtime, a DB session, the current user, services.

Those that only look something up or build an object are ``async def``: FastAPI runs a plain
``def`` dependency in a worker thread, and under load each such hop (a thread wake-up and a GIL
hand-over) cost more than the work itself. Only what touches the database stays ``def``.
"""

from __future__ import annotations

import email.message
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from broadcaster.api.errors import UnsupportedMediaType
from broadcaster.api.runtime import Runtime
from broadcaster.config import Settings
from broadcaster.models import User
from broadcaster.services import auth
from broadcaster.services.bulletins import BulletinService
from broadcaster.services.province_bulletins import ProvinceBulletins
from broadcaster.services.workflow import Workflow


async def get_runtime(request: Request) -> Runtime:
    """The runtime the lifespan built."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_settings(runtime: RuntimeDep) -> Settings:
    """The app's settings."""
    return runtime.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[Session]:
    """A session for this request. Services commit their own work; anything left uncommitted is rolled back."""
    session = runtime.db.session_factory()  # no I/O yet: the first query checks a connection out, in a worker thread
    try:
        yield session
    finally:
        if session.in_transaction():  # the rollback talks to the database: not on the event loop
            await run_in_threadpool(session.close)
        else:
            session.close()


DbSession = Annotated[Session, Depends(get_session, scope="function")]

_bearer = HTTPBearer(auto_error=False, description="Mã truy cập lấy từ POST /api/v1/auth/token")
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def bearer_token(credentials: BearerCredentials) -> str | None:
    """The raw bearer token, if one was sent."""
    return credentials.credentials if credentials is not None else None


BearerToken = Annotated[str | None, Depends(bearer_token)]


def get_current_user(session: DbSession, token: BearerToken) -> User:
    """The user the bearer token belongs to; 401 without a valid token."""
    return auth.authenticate(session, token)


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_bulletins(session: DbSession, runtime: RuntimeDep) -> BulletinService:
    """The bulletin service on this request's session."""
    return BulletinService(session, clock=runtime.clock, uploads=runtime.uploads, check_voice=runtime.check_voice)


Bulletins = Annotated[BulletinService, Depends(get_bulletins)]


async def get_workflow(bulletins: Bulletins, runtime: RuntimeDep) -> Workflow:
    """The workflow service on this request's session; programming is built only if an emergency needs it."""
    return Workflow(bulletins, programming=lambda: runtime.programming, on_recall=runtime.recall_airing)


WorkflowDep = Annotated[Workflow, Depends(get_workflow)]


def _media_type(request: Request) -> str | None:
    header = request.headers.get("content-type")
    if header is None:
        return None
    message = email.message.Message()
    message["content-type"] = header
    return message.get_content_type()


def _has_body(request: Request) -> bool:
    return request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers


async def expect_json(request: Request) -> None:
    """415 unless a request body, if any, is declared as JSON."""
    media_type = _media_type(request)
    if _has_body(request) and not (media_type == "application/json" or (media_type or "").endswith("+json")):
        raise UnsupportedMediaType("Nội dung phải là JSON (Content-Type: application/json).",
                                   detail=f"content-type {media_type}")


async def expect_multipart(request: Request) -> None:
    """415 unless the request body is a multipart form (a file upload)."""
    if _media_type(request) != "multipart/form-data":
        raise UnsupportedMediaType("Tệp ghi âm phải gửi dạng multipart/form-data (trường «file»).",
                                   detail=f"content-type {_media_type(request)}")


JsonBody = Depends(expect_json)
MultipartBody = Depends(expect_multipart)


async def get_province_bulletins(session: DbSession, runtime: RuntimeDep) -> ProvinceBulletins:
    """The province bulletin service on this request's session; programming is built only for an emergency."""
    return ProvinceBulletins(session, clock=runtime.clock, programming=lambda: runtime.programming)


ProvinceBulletinsDep = Annotated[ProvinceBulletins, Depends(get_province_bulletins)]
