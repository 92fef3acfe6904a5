"""An argparse parser that speaks Vietnamese: help headings, usage line, and errors as ``Lỗi [code]: …``.

argparse writes its own words ("usage:", "options:", "the following arguments are required")
in English. The headings are set here, ``-h`` is added with Vietnamese help, and its error
messages are translated from their (stable) English templates; an unknown one is shown as is.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

USAGE_PREFIX = "Cách dùng: "
# argparse's error templates (Python 3.11–3.13) and their Vietnamese.
_ERRORS: Sequence[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^the following arguments are required: (.*)$"), "thiếu đối số bắt buộc: {0}"),
    (re.compile(r"^unrecognized arguments: (.*)$"), "không hiểu các đối số: {0}"),
    (re.compile(r"^argument (.*?): invalid choice: (.*?) \(choose from (.*)\)$"),
     "đối số {0}: không có lựa chọn {1} (chọn một trong: {2})"),
    (re.compile(r"^argument (.*?): invalid (\w+) value: (.*)$"), "đối số {0}: giá trị {2} không hợp lệ"),
    (re.compile(r"^argument (.*?): expected one argument$"), "đối số {0}: cần một giá trị"),
    (re.compile(r"^argument (.*?): expected (.*)$"), "đối số {0}: thiếu giá trị"),
    (re.compile(r"^argument (.*?): not allowed with argument (.*)$"), "đối số {0} không dùng cùng {1}"),
    (re.compile(r"^one of the arguments (.*) is required$"), "cần một trong các đối số: {0}"),
    (re.compile(r"^argument (.*?): ignored explicit argument (.*)$"), "đối số {0}: không nhận giá trị {1}"),
    (re.compile(r"^ambiguous option: (.*?) could match (.*)$"), "tùy chọn {0} không rõ: có thể là {1}"),
]


def translate_error(message: str) -> str:
    """argparse's English error message in Vietnamese (unchanged if unknown)."""
    for pattern, template in _ERRORS:
        match = pattern.match(message)
        if match:
            return template.format(*match.groups())
    return message


# Placeholders shown in help and usage, by argument name (argparse would show the English name).
METAVARS = {
    "config": "TỆP_CẤU_HÌNH", "output": "TỆP_RA", "file": "TỆP_VĂN_BẢN", "upload": "TỆP_GHI_ÂM",
    "text": "VĂN_BẢN", "port": "CỔNG", "host": "ĐỊA_CHỈ", "dir": "THƯ_MỤC", "state_dir": "THƯ_MỤC",
    "voices_dir": "THƯ_MỤC", "lexicon": "TỆP_TỪ_ĐIỂN", "engine": "BỘ_ĐỌC", "voice": "GIỌNG", "rate": "TỐC_ĐỘ",
    "repeat": "SỐ_LẦN", "format": "ĐỊNH_DẠNG", "username": "TÊN_ĐĂNG_NHẬP", "full_name": "HỌ_TÊN", "role": "VAI_TRÒ",
    "commune": "MÃ_XÃ", "name": "TÊN", "code": "MÃ", "days": "SỐ_NGÀY", "cluster": "SỐ_CỤM_LOA",
    "cluster_id": "SỐ_CỤM_LOA", "server_url": "ĐỊA_CHỈ", "secret_file": "TỆP", "public_key": "KHÓA",
    "player": "BỘ_PHÁT", "volume": "ÂM_LƯỢNG", "heartbeat_interval_s": "GIÂY", "log_level": "MỨC",
    "zone": "THÔN", "agent_url": "ĐỊA_CHỈ", "province": "TỈNH", "timetable": "LỊCH",
}


class VietnameseHelpFormatter(argparse.HelpFormatter):
    """Help with a Vietnamese usage line and Vietnamese placeholders."""

    def _get_default_metavar_for_optional(self, action: argparse.Action) -> str:
        return METAVARS.get(action.dest, "GIÁ_TRỊ")

    def _get_default_metavar_for_positional(self, action: argparse.Action) -> str:
        return METAVARS.get(action.dest, action.dest.upper())

    def add_usage(self, usage: str | None, actions: Any, groups: Any, prefix: str | None = None) -> None:
        """The usage line, prefixed "Cách dùng: "."""
        super().add_usage(usage, actions, groups, prefix if prefix is not None else USAGE_PREFIX)


class VietnameseArgumentParser(argparse.ArgumentParser):
    """``ArgumentParser`` with Vietnamese headings, ``-h`` help and errors (``Lỗi [cli_usage]: …``, exit 2)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", VietnameseHelpFormatter)
        add_help = kwargs.pop("add_help", True)
        super().__init__(*args, add_help=False, **kwargs)
        self._positionals.title = "đối số"
        self._optionals.title = "tùy chọn"
        if add_help:
            self.add_argument("-h", "--help", action="help", default=argparse.SUPPRESS,
                              help="in hướng dẫn này rồi thoát")

    def error(self, message: str) -> NoReturn:
        """Print the usage and the error in Vietnamese, then exit with status 2."""
        self.print_usage(sys.stderr)
        self.exit(2, f"Lỗi [cli_usage]: {translate_error(message)}\n")
