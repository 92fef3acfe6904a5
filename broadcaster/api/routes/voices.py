"""The voices this server can read with: what a bulletin's or a commune's ``voice`` may name."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from broadcaster.api.deps import CurrentUser, RuntimeDep
from broadcaster.api.schemas.common import ERROR_RESPONSES
from broadcaster.tts.base import VoiceListing

router = APIRouter(prefix="/voices", tags=["giọng đọc"], responses=ERROR_RESPONSES)


class VoiceOut(BaseModel):
    """One voice of one engine, usable or not and why."""

    choice: str = Field(description="Giá trị dùng cho trường voice", examples=["piper:vi_VN-vais1000-medium"])
    engine: str
    voice: str
    usable: bool
    problem: str | None = Field(description="Vì sao không dùng được (nêu tên tệp)")
    language: str | None
    sample_rate: int | None
    size_bytes: int | None
    licence: str | None
    dataset: str | None
    note: str | None

    @classmethod
    def of(cls, listing: VoiceListing) -> VoiceOut:
        """Build from an engine's listing (the server's file paths are not shown)."""
        return cls(choice=listing.choice, engine=listing.engine, voice=listing.name, usable=listing.usable,
                   problem=listing.problem, language=listing.language, sample_rate=listing.sample_rate,
                   size_bytes=listing.size_bytes, licence=listing.licence, dataset=listing.dataset,
                   note=listing.note)


@router.get("", response_model=list[VoiceOut])
def list_voices(user: CurrentUser, runtime: RuntimeDep) -> list[VoiceOut]:
    """Every engine's voices on this server, the engine chain's first."""
    return [VoiceOut.of(listing) for listing in runtime.speech.voices()]
