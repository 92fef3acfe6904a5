"""The pages' security and wording pieces on their own: cookies, CSRF tokens, formatting."""

from __future__ import annotations

from datetime import date, time

import pytest
from starlette.requests import Request
from starlette.responses import Response

from broadcaster.config import Settings
from broadcaster.web.formatting import duration, status_label, weekdays
from broadcaster.web.forms import FormInvalid, date_text, ids, number, optional_clock, optional_date
from broadcaster.web.routing import safe_next
from broadcaster.web.security import (
    CookieNames,
    CsrfRejected,
    check_csrf,
    csrf_token,
    set_cookie,
)


def test_secure_cookies_get_the_host_prefix_and_every_flag() -> None:
    cookies = CookieNames(secure=True)
    response = Response()
    set_cookie(response, cookies, cookies.session, "value", max_age=60)
    header = response.headers["set-cookie"]
    assert header.startswith("__Host-bc_session=value")
    for flag in ("HttpOnly", "Secure", "SameSite=lax", "Path=/"):
        assert flag in header
    assert "Secure" not in _cookie(CookieNames(secure=False))


def _cookie(cookies: CookieNames) -> str:
    response = Response()
    set_cookie(response, cookies, cookies.session, "value", max_age=60)
    return response.headers["set-cookie"]


def test_settings_make_cookies_secure_for_https_or_when_told() -> None:
    assert Settings(public_url="https://truyenthanh.example.vn").secure_cookies
    assert not Settings(public_url="http://127.0.0.1:8000").secure_cookies
    assert Settings(public_url="http://127.0.0.1:8000", cookie_secure=True).secure_cookies


def _request(cookie: str | None, **headers: str) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    if cookie is not None:
        raw.append((b"cookie", f"bc_session={cookie}".encode()))
    return Request({"type": "http", "method": "POST", "headers": raw, "path": "/"})


def test_csrf_tokens_belong_to_one_session() -> None:
    cookies = CookieNames(secure=False)
    assert csrf_token("a") != csrf_token("b") and csrf_token("a") == csrf_token("a")
    check_csrf(_request("secret"), cookies, csrf_token("secret"))
    for request, sent in (
        (_request("secret"), csrf_token("other")),
        (_request("secret"), None),
        (_request(None), csrf_token("secret")),
        (_request("secret", **{"Sec-Fetch-Site": "cross-site"}), csrf_token("secret")),
    ):
        with pytest.raises(CsrfRejected):
            check_csrf(request, cookies, sent)


def test_only_local_paths_are_followed_after_login() -> None:
    assert safe_next("/lich-phat?xa=2") == "/lich-phat?xa=2"
    for hostile in ("https://evil.example", "//evil.example", "/\\evil.example", "", None):
        assert safe_next(hostile) == "/ban-tin"


def test_form_fields_read_as_browsers_send_them() -> None:
    assert optional_date("", "Từ ngày") is None
    assert optional_date("2026-12-01", "Từ ngày") == date(2026, 12, 1)
    # As Vietnamese write a date, whatever the browser's locale: day first.
    for written in ("01/12/2026", "1/12/2026", "01.12.2026", "01-12-2026", "01122026"):
        assert optional_date(written, "Từ ngày") == date(2026, 12, 1), written
    assert date_text(date(2026, 2, 3)) == "03/02/2026"
    assert optional_clock("6h30", "Giờ") == time(6, 30) and optional_clock("17:05", "Giờ") == time(17, 5)
    assert ids(["3", "1", "", "3"], "Cụm loa") == (1, 3)
    assert number("", "Số lần", default=1, low=1, high=10) == 1
    for bad in (
        lambda: optional_date("12/31/2026", "Từ ngày"),  # month-first (en-US) is not a date here
        lambda: optional_date("31/02/2026", "Từ ngày"),
        lambda: optional_clock("5:30 PM", "Giờ"),
        lambda: optional_clock("24:00", "Giờ"),
        lambda: ids(["x"], "Cụm loa"),
        lambda: number("11", "Số lần", default=1, low=1, high=10),
    ):
        with pytest.raises(FormInvalid) as refused:
            bad()
        assert "«" in refused.value.message


def test_wording() -> None:
    assert (
        duration(7.4) == "7 giây" and duration(65) == "1 phút 05 giây" and duration(3725) == "1 giờ 02 phút"
    )
    assert status_label("submitted") == "chờ duyệt"
    assert (
        weekdays(frozenset(range(6))) == "T2, T3, T4, T5, T6, T7"
        and weekdays(frozenset(range(7))) == "hằng ngày"
    )
