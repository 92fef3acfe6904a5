"""``/audio/<sha256>.<fmt>``: cached audio by its content hash, for agents (and any CDN in front).

No authentication (see ``services.audio_files``). Range requests (206), ``If-Range`` and HEAD
come from Starlette's ``FileResponse``; the strong ETag is the content hash, ``If-None-Match``
answers 304, and the response may be cached for a year: the URL can never change content.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import FileResponse

from broadcaster.api.deps import RuntimeDep
from broadcaster.api.schemas.common import ErrorOut
from broadcaster.services.audio_files import IMMUTABLE, MEDIA_TYPES, AudioFiles

router = APIRouter(tags=["âm thanh"])


def get_audio_files(runtime: RuntimeDep) -> AudioFiles:
    """The runtime's audio finder (it remembers which files it verified, and makes lost ones again)."""
    return runtime.audio_files


AudioFilesDep = Annotated[AudioFiles, Depends(get_audio_files)]


@router.get(
    "/audio/{name}", response_class=FileResponse,
    responses={200: {"content": {media: {} for media in MEDIA_TYPES.values()}, "description": "Tệp âm thanh"},
               206: {"description": "Một đoạn của tệp (Range)"}, 304: {"description": "Không đổi (If-None-Match)"},
               404: {"model": ErrorOut, "description": "Không có tệp âm thanh này"}},
)
def get_audio(name: str, request: Request, files: AudioFilesDep) -> Response:
    """The audio file whose sha256 is in its name (Range, If-Range, If-None-Match; immutable)."""
    audio = files.find(name)
    headers = {"ETag": audio.etag, "Cache-Control": IMMUTABLE}
    if _matches(request.headers.get("if-none-match"), audio.etag):
        return Response(status_code=304, headers=headers)
    return FileResponse(audio.path, media_type=audio.media_type, headers=headers, stat_result=audio.stat)


@router.head("/audio/{name}", response_class=FileResponse, include_in_schema=False)
def head_audio(name: str, request: Request, files: AudioFilesDep) -> Response:
    """The headers of ``get_audio`` without the body (FileResponse sends none for HEAD)."""
    return get_audio(name, request, files)


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags
