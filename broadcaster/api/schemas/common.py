"""Shared pieces of the API schemas: ids, dates, times and the error body."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, model_validator

from broadcaster.clock import local
from broadcaster.models import MAX_ID

# Ids stay inside what every database's INTEGER holds (no overflow → no 500).
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
# Airing windows and log filters: a sane range, so date arithmetic never overflows.
DayDate = Annotated[date, Field(ge=date(2000, 1, 1), le=date(2100, 12, 31))]
# Times go out in the communes' zone (+07:00), which is what people read.
LocalTime = Annotated[datetime, PlainSerializer(lambda moment: local(moment).isoformat(), return_type=str)]


def _refuse_unstorable(value: Any) -> None:
    # JSON may carry lone surrogates ("\\ud800") and NUL; no database stores them, so refuse early.
    if isinstance(value, str):
        if "\x00" in value or any("\ud800" <= ch <= "\udfff" for ch in value):
            raise ValueError("chuỗi có ký tự không hợp lệ (NUL hoặc mã UTF-16 lẻ)")
    elif isinstance(value, dict):
        for item in value.values():
            _refuse_unstorable(item)
    elif isinstance(value, list):
        for item in value:
            _refuse_unstorable(item)


class InputModel(BaseModel):
    """Base of request bodies: unknown fields are an error, and strings must be storable."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _check_strings(cls, data: Any) -> Any:
        if isinstance(data, dict):
            _refuse_unstorable(data)
        return data


class ErrorDetail(BaseModel):
    """A stable machine code and a Vietnamese message (and, for validation errors, the fields)."""

    code: str
    message: str
    fields: list[dict[str, Any]] | None = None


class ErrorOut(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Chưa đăng nhập hoặc mã truy cập không hợp lệ"},
    403: {"model": ErrorOut, "description": "Vai trò không đủ quyền"},
    404: {"model": ErrorOut, "description": "Không tìm thấy (hoặc thuộc xã khác)"},
    409: {"model": ErrorOut, "description": "Trạng thái hiện tại không cho phép"},
    422: {"model": ErrorOut, "description": "Dữ liệu không hợp lệ"},
}
