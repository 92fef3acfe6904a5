"""The agents' side of the API: the pull long-poll, reports, heartbeats (signed by the agents' own keys,
no bearer token), the public key.

Paths are under ``/api/agent`` (not ``/api/v1``): that is where deployed agents post, whatever
the version of the officers' API.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from broadcaster.api.deps import DbSession, RuntimeDep, SettingsDep
from broadcaster.api.schemas.agent import PresenceOut, PublicKeyOut, ReportReceiptOut
from broadcaster.api.schemas.common import ERROR_RESPONSES
from broadcaster.delivery.keys import key_id_of, load_or_create_signing_key, public_key_base64, public_key_pem
from broadcaster.services import agent_pull, agent_reports

router = APIRouter(prefix="/api/agent", tags=["cụm loa"], responses=ERROR_RESPONSES)


async def raw_body(request: Request) -> bytes:
    """The request body exactly as sent: the HMAC covers these bytes."""
    return await request.body()


RawBody = Annotated[bytes, Depends(raw_body)]


async def _hung_up(request: Request) -> None:
    # After the body, the next message of a request is its disconnect: the agent went away.
    while (await request.receive())["type"] != "http.disconnect":
        pass


@router.post("/pull", status_code=200, response_class=Response,
             responses={200: {"description": "Một lệnh phát có chữ ký, đúng từng byte như máy chủ lưu",
                              "content": {"application/json": {}}},
                        204: {"description": "Hết thời gian chờ, không có lệnh mới"}})
async def pull(request: Request, body: RawBody, runtime: RuntimeDep) -> Response:
    """A pull agent's long-poll: its verdicts on earlier orders in, its next signed order out (or 204)."""
    delivery = runtime.delivery
    envelope = await agent_pull.poll(runtime.db, delivery.pull if delivery is not None else None, body,
                                     request.headers, now=time.time(), max_wait_s=runtime.settings.pull_wait_s,
                                     gone=_hung_up(request))
    if envelope is None:
        return Response(status_code=204)
    return Response(envelope, media_type="application/json")


@router.post("/reports", response_model=ReportReceiptOut)
def post_reports(request: Request, body: RawBody, session: DbSession) -> ReportReceiptOut:
    """A batch of an agent's reports (JSON list, oldest first), signed with the cluster's secret."""
    return ReportReceiptOut.of(agent_reports.receive_reports(session, body, request.headers, now=time.time()))


@router.post("/heartbeat", response_model=PresenceOut)
def post_heartbeat(request: Request, body: RawBody, session: DbSession, settings: SettingsDep) -> PresenceOut:
    """An agent's heartbeat, signed with the cluster's secret; answers the cluster's presence."""
    presence = agent_reports.receive_heartbeat(session, body, request.headers, now=time.time(),
                                               interval_s=settings.agent_heartbeat_interval_s)
    return PresenceOut.of(presence)


@router.get("/public-key", response_model=PublicKeyOut)
def public_key(settings: SettingsDep) -> PublicKeyOut:
    """The server's order-signing public key, for provisioning agents (the private key never leaves the server)."""
    key = load_or_create_signing_key(settings.data_dir).public_key()
    return PublicKeyOut(key_id=key_id_of(key), public_key=public_key_base64(key), pem=public_key_pem(key))
