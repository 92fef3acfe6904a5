"""The pages' shared machinery: the web state on the app, the signed-in user, rendering, flash notes.

``WebState`` is built once by ``install_web`` (never at import time) and kept on
``app.state.web``. Templates are Jinja2 with autoescaping on for every template: user content
(titles, texts, names, reasons) is always written as text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse

from broadcaster.config import Settings
from broadcaster.models import Role, User
from broadcaster.services import scoping
from broadcaster.web.formatting import FILTERS
from broadcaster.web.security import CookieNames, csrf_secret, csrf_token, page_headers

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"

# After a successful form, the page redirects with ?tb=<code>; the note shown is fixed text, so
# nothing a user typed ever travels through the URL into the page.
NOTES = {
    "da-luu": "Đã lưu bản nháp.",
    "da-gui": "Đã gửi bản tin để lãnh đạo duyệt.",
    "da-sua": "Đã lưu thay đổi.",
    "da-duyet": "Đã duyệt bản tin.",
    "da-tu-choi": "Đã từ chối bản tin; người soạn sẽ thấy lý do.",
    "da-huy": "Đã hủy bản tin.",
    "da-phat": "Đã phát khẩn cấp tới các cụm loa.",
    "da-dung": "Đã dừng phát khẩn cấp.",
    "da-dang-xuat": "Bạn đã đăng xuất.",
    "da-them-thon": "Đã thêm thôn/bản.",
    "da-doi-ten-thon": "Đã đổi tên thôn/bản.",
    "da-xoa-thon": "Đã xóa thôn/bản.",
    "da-them-cum": "Đã thêm cụm loa. Bước tiếp theo: cấp tệp cấu hình cho máy điều khiển.",
    "da-sua-cum": "Đã lưu thông tin cụm loa.",
    "da-ngung-cum": "Đã ngừng cụm loa: không gửi chương trình tới nữa, khóa bí mật đã bị thu hồi.",
    "da-dat-am-luong": "Đã đặt âm lượng; áp dụng từ lần phát tiếp theo (bấm «Phát thử» để nghe ngay).",
    "da-phat-thu": "Đã gửi tiếng phát thử tới cụm loa; loa sẽ phát sau vài giây.",
    "da-sua-tai-khoan": "Đã lưu tài khoản.",
    "da-khoa": "Đã khóa tài khoản; mọi phiên đăng nhập của tài khoản đã kết thúc.",
    "da-mo-khoa": "Đã mở khóa tài khoản.",
    "da-thu-hoi": "Đã thu hồi phiên đăng nhập.",
    "da-doi-mat-khau": "Đã đổi mật khẩu; các phiên đăng nhập khác đã kết thúc.",
    "phai-doi-mat-khau": "Mật khẩu của bạn vừa được đặt lại: hãy chọn mật khẩu mới để tiếp tục.",
    "da-luu-lich": "Đã lưu lịch phát; các buổi phát sắp tới đã được lập lại theo lịch mới.",
    "da-them-xa": "Đã thêm xã/phường.",
    "da-luu-giong": "Đã lưu giọng đọc và tốc độ đọc của xã; áp dụng cho các bản tin đọc từ nay.",
    "da-gui-tinh": "Đã gửi bản tin của tỉnh để lãnh đạo tỉnh duyệt.",
    "da-duyet-tinh": "Đã duyệt bản tin của tỉnh; các xã đã nhận.",
    "da-nhan-tin": "Đã nhận bản tin của tỉnh: xã sẽ phát trong các buổi của những ngày đã chọn.",
    "da-tu-choi-tin": "Đã từ chối phát bản tin của tỉnh; tỉnh sẽ thấy lý do.",
    "da-them-tu": "Đã thêm vào từ điển địa phương; từ lần đọc tới, máy đọc theo mục này.",
    "da-sua-tu": "Đã sửa mục từ điển; từ lần đọc tới, máy đọc theo cách mới.",
    "da-xoa-tu": "Đã xóa mục từ điển.",
    "da-nhap-tu": "Đã nhập tệp từ điển.",
    "da-nhap-tu-khong-doi": "Đã đọc tệp từ điển: không có mục nào mới hay thay đổi.",
}


@dataclass(frozen=True)
class WebUser:
    """The signed-in user as the templates need them (plain data: it outlives the DB session)."""

    id: int
    username: str
    display_name: str
    role: Role
    commune_id: int | None
    commune_name: str

    @classmethod
    def of(cls, user: User) -> WebUser:
        """Snapshot an account."""
        commune = user.commune.name if user.commune is not None else "Toàn tỉnh"
        return cls(
            user.id, user.username, user.full_name or user.username, user.role, user.commune_id, commune
        )

    @property
    def is_approver(self) -> bool:
        """May approve, reject and send emergencies (approvers and admins)."""
        return self.role in (Role.APPROVER, Role.ADMIN)

    @property
    def is_admin(self) -> bool:
        """Manages clusters, the timetable and accounts (a commune admin or a province admin)."""
        return self.role == Role.ADMIN

    @property
    def is_province_admin(self) -> bool:
        """An admin of the whole province (no commune of their own)."""
        return self.role == Role.ADMIN and self.commune_id is None


class WebState:
    """Everything the pages share: settings, templates, cookie names."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.cookies = CookieNames(settings.secure_cookies)
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES_DIR),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(FILTERS)
        self.env.globals["query"] = query_string

    @property
    def session_max_age(self) -> int:
        """Lifetime of a page login in seconds (the cookie and the server record end together)."""
        return int(self.settings.web_session_hours * 3600)


def web_state(request: Request) -> WebState:
    """The app's web state."""
    state: WebState = request.app.state.web
    return state


def query_string(values: Mapping[str, Any], **changes: Any) -> str:
    """``?a=1&b=2`` from ``values`` with ``changes`` applied; empty and None values are left out."""
    merged = {**values, **changes}
    pairs = [(k, str(v)) for k, v in merged.items() if v is not None and v != ""]
    return "?" + urlencode(pairs) if pairs else ""


def current_web_user(request: Request) -> WebUser | None:
    """The signed-in user of this request, if the page resolved one."""
    return getattr(request.state, "web_user", None)


def render(
    request: Request, template: str, context: Mapping[str, Any] | None = None, *, status: int = 200
) -> HTMLResponse:
    """Render a page (with the user, the CSRF token, the navigation and any note) to a response."""
    state = web_state(request)
    user = current_web_user(request)
    secret = csrf_secret(request, state.cookies) or getattr(request.state, "csrf_secret", None)
    note = NOTES.get(request.query_params.get("tb", ""))
    values = {
        "request": request,
        "user": user,
        "csrf": csrf_token(secret) if secret else "",
        "note": note,
        "path": request.url.path,
        "nav": navigation(user),
        **(context or {}),
    }
    body = state.env.get_template(template).render(values)
    response = HTMLResponse(body, status_code=status)
    page_headers(response)
    return response


@dataclass(frozen=True)
class NavItem:
    """A link of the top navigation."""

    href: str
    label: str


def navigation(user: WebUser | None) -> list[NavItem]:
    """The pages this user may use, in the order of their work."""
    if user is None:
        return []
    if user.commune_id is None and not user.is_province_admin:
        return [NavItem("/tin-tinh", "Tin của tỉnh")]  # a province officer or approver: the province's bulletins
    items = [NavItem("/toan-tinh", "Toàn tỉnh"), NavItem("/tin-tinh", "Tin của tỉnh")] if user.is_province_admin else []
    items += [NavItem("/ban-tin", "Bản tin"), NavItem("/soan-tin", "Soạn tin")]
    if user.commune_id is not None:
        items.append(NavItem("/tin-cap-tren", "Bản tin từ cấp trên"))
    if user.is_approver:
        items += [NavItem("/duyet-tin", "Duyệt tin"), NavItem("/phat-khan-cap", "Phát khẩn cấp")]
    items += [
        NavItem("/cum-loa", "Cụm loa"),
        NavItem("/lich-phat", "Lịch phát"),
        NavItem("/nhat-ky", "Nhật ký phát thanh"),
        NavItem("/tu-dien", "Từ điển"),
    ]
    if user.is_admin:
        items.append(NavItem("/tai-khoan", "Tài khoản"))
        items.append(NavItem("/giong-doc", "Giọng đọc"))
    return items


def may(user: User, role: Role) -> bool:
    """Whether to offer an action in the page (the service still decides when it is done)."""
    return scoping.has_role(user, role)
