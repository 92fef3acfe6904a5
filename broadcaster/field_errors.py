"""Pydantic's validation errors in Vietnamese: for API request bodies and for the settings file alike."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# Vietnamese for the pydantic error types a client can trigger; ``{…}`` come from the error's context.
_FIELD_MESSAGES: Mapping[str, str] = {
    "missing": "Thiếu trường bắt buộc.",
    "extra_forbidden": "Trường này không được phép.",
    "string_type": "Phải là chuỗi ký tự.",
    "string_too_short": "Quá ngắn (tối thiểu {min_length} ký tự).",
    "string_too_long": "Quá dài (tối đa {max_length} ký tự).",
    "string_pattern_mismatch": "Không đúng định dạng.",
    "int_type": "Phải là số nguyên.",
    "int_parsing": "Phải là số nguyên.",
    "int_from_float": "Phải là số nguyên.",
    "float_type": "Phải là số.",
    "float_parsing": "Phải là số.",
    "bool_type": "Phải là true hoặc false.",
    "bool_parsing": "Phải là true hoặc false.",
    "greater_than": "Phải lớn hơn {gt}.",
    "greater_than_equal": "Phải lớn hơn hoặc bằng {ge}.",
    "less_than": "Phải nhỏ hơn {lt}.",
    "less_than_equal": "Phải nhỏ hơn hoặc bằng {le}.",
    "date_type": "Phải là ngày dạng YYYY-MM-DD.",
    "date_parsing": "Phải là ngày dạng YYYY-MM-DD.",
    "date_from_datetime_parsing": "Phải là ngày dạng YYYY-MM-DD.",
    "date_from_datetime_inexact": "Phải là ngày dạng YYYY-MM-DD.",
    "enum": "Phải là một trong: {expected}.",
    "literal_error": "Phải là một trong: {expected}.",
    "list_type": "Phải là một danh sách.",
    "too_long": "Danh sách quá dài (tối đa {max_length} phần tử).",
    "too_short": "Danh sách quá ngắn (tối thiểu {min_length} phần tử).",
    "dict_type": "Phải là một đối tượng JSON.",
    "model_type": "Phải là một đối tượng JSON.",
    "model_attributes_type": "Phải là một đối tượng JSON.",
    "json_invalid": "Nội dung JSON không hợp lệ.",
    "json_type": "Nội dung JSON không hợp lệ.",
    "url_parsing": "Địa chỉ URL không hợp lệ.",
    "url_scheme": "Địa chỉ URL phải bắt đầu bằng http:// hoặc https://.",
    "url_type": "Địa chỉ URL không hợp lệ.",
    "url_too_long": "Địa chỉ URL quá dài.",
    "string_unicode": "Chuỗi ký tự không hợp lệ.",
    "upload_file_type": "Phải là một tệp tải lên.",
    "value_error": "Giá trị không hợp lệ.",
}
_DEFAULT_FIELD_MESSAGE = "Giá trị không hợp lệ."


def _field_message(error: Mapping[str, Any]) -> str:
    template = _FIELD_MESSAGES.get(str(error.get("type")), _DEFAULT_FIELD_MESSAGE)
    context = error.get("ctx") or {}
    try:
        return template.format(**{key: str(value) for key, value in context.items()})
    except (KeyError, IndexError):
        return _DEFAULT_FIELD_MESSAGE


def describe_fields(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Pydantic errors as {"field", "code", "message"} entries with Vietnamese messages."""
    return [
        {
            "field": ".".join(str(part) for part in error.get("loc", ())),
            "code": str(error.get("type", "invalid")),
            "message": _field_message(error),
        }
        for error in errors
    ]
