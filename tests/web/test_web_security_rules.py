"""The web security module's rules on their own: cookie names and flags, which cookie a CSRF token binds to, headers."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from urllib.parse import urlencode

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from broadcaster.config import Settings
from broadcaster.web.rendering import STATIC_DIR, TEMPLATES_DIR, WebState
from broadcaster.web.routing import require_csrf
from broadcaster.web.security import (
    CONTENT_SECURITY_POLICY,
    CSRF_FIELD,
    CSRF_HEADER,
    CookieNames,
    CsrfRejected,
    check_csrf,
    clear_cookie,
    csrf_secret,
    csrf_token,
    new_pre_login_secret,
    page_headers,
    set_cookie,
)


def request(cookies: dict[str, str], **headers: str) -> Request:
    """A POST with these cookies and headers, as starlette hands it to a route."""
    raw = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    if cookies:
        raw.append((b"cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()).encode()))
    return Request({"type": "http", "method": "POST", "headers": raw, "path": "/"})


@pytest.mark.parametrize(("secure", "prefix"), [(True, "__Host-"), (False, "")])
def test_cookie_names_carry_the_host_prefix_only_when_secure(secure: bool, prefix: str) -> None:
    cookies = CookieNames(secure=secure)
    assert (cookies.session, cookies.pre_login, cookies.secure) == (f"{prefix}bc_session", f"{prefix}bc_login", secure)


def test_a_cookie_is_set_with_its_lifetime_and_cleared_with_the_same_flags() -> None:
    cookies = CookieNames(secure=True)
    response = Response()
    set_cookie(response, cookies, cookies.pre_login, "v", max_age=600)
    header = response.headers["set-cookie"]
    assert header.startswith("__Host-bc_login=v;") and "Max-Age=600" in header
    cleared = Response()
    clear_cookie(cleared, cookies, cookies.session)
    header = cleared.headers["set-cookie"]
    # A browser ignores a __Host- cookie, even its deletion, unless it comes Secure with Path=/.
    assert header.startswith('__Host-bc_session="";') and "Max-Age=0" in header
    for flag in ("HttpOnly", "Secure", "SameSite=lax", "Path=/"):
        assert flag in header, flag
    plain = Response()
    clear_cookie(plain, CookieNames(secure=False), "bc_session")
    assert "Secure" not in plain.headers["set-cookie"]


def test_the_session_cookie_binds_the_token_before_the_pre_login_cookie() -> None:
    cookies = CookieNames(secure=False)
    assert csrf_secret(request({"bc_login": "before"}), cookies) == "before"
    both = request({"bc_login": "before", "bc_session": "after"})
    assert csrf_secret(both, cookies) == "after"
    check_csrf(both, cookies, csrf_token("after"))
    with pytest.raises(CsrfRejected) as refused:
        check_csrf(both, cookies, csrf_token("before"))
    assert refused.value.code == "csrf_rejected"
    # What staff read: the form is stale, reload the page and do it again.
    assert refused.value.message.startswith("Biểu mẫu không hợp lệ") and refused.value.message.endswith("làm lại.")
    assert csrf_secret(request({}), cookies) is None


def test_same_site_and_same_origin_forms_pass_a_cross_site_one_never() -> None:
    cookies = CookieNames(secure=False)
    token = csrf_token("s")
    for site in ("same-origin", "same-site", "none"):
        check_csrf(request({"bc_session": "s"}, **{"Sec-Fetch-Site": site}), cookies, token)
    with pytest.raises(CsrfRejected):
        check_csrf(request({"bc_session": "s"}, **{"Sec-Fetch-Site": "cross-site"}), cookies, token)
    with pytest.raises(CsrfRejected):
        check_csrf(request({"bc_session": "s"}), cookies, "")


def test_pre_login_secrets_are_fresh_and_long() -> None:
    secrets = {new_pre_login_secret() for _ in range(20)}
    assert len(secrets) == 20
    assert all(len(secret) >= 43 for secret in secrets)  # 32 random bytes, url-safe base64


def test_every_page_carries_the_security_headers_without_overriding_a_routes_own() -> None:
    response = Response()
    page_headers(response)
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["cache-control"] == "no-store"
    own = Response(headers={"Cache-Control": "public, max-age=3600"})
    page_headers(own)
    assert own.headers["cache-control"] == "public, max-age=3600"


def test_the_content_security_policy_allows_nothing_from_elsewhere_and_no_inline_script() -> None:
    directives = dict(part.strip().split(" ", 1) for part in CONTENT_SECURITY_POLICY.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert directives["form-action"] == "'self'"
    assert directives["media-src"] == "'self' blob:"


def routed(tmp_path: Path, method: str, cookies: dict[str, str], headers: dict[str, str] | None = None,
           form: dict[str, str] | None = None) -> Request:  # fmt: skip
    """A request as the pages' routing sees it: the app's real web state, an urlencoded form body."""
    app = Starlette()
    app.state.web = WebState(Settings(data_dir=tmp_path / "data", cache_dir=tmp_path / "cache"))
    body = urlencode(form or {}).encode()
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    raw.append((b"content-type", b"application/x-www-form-urlencoded"))
    if cookies:
        raw.append((b"cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()).encode()))

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": body, "more_body": False}

    return Request({"type": "http", "method": method, "headers": raw, "path": "/", "app": app}, receive)


def test_reading_methods_need_no_token_and_every_other_method_needs_the_sessions(tmp_path: Path) -> None:
    for method in ("GET", "HEAD", "OPTIONS"):
        asyncio.run(require_csrf(routed(tmp_path, method, {})))
    token = csrf_token("s")
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        with pytest.raises(CsrfRejected):
            asyncio.run(require_csrf(routed(tmp_path, method, {"bc_session": "s"})))
        asyncio.run(require_csrf(routed(tmp_path, method, {"bc_session": "s"}, headers={"X-CSRF-Token": token})))
        asyncio.run(require_csrf(routed(tmp_path, method, {"bc_session": "s"}, form={"csrf_token": token})))
    with pytest.raises(CsrfRejected):
        asyncio.run(require_csrf(routed(tmp_path, "POST", {"bc_session": "s"}, form={"csrf": token})))


def test_the_pages_and_their_script_send_the_token_under_the_names_the_check_reads() -> None:
    # The templates and app.js name the field and the header in their own text: they must agree.
    fields = set()
    for template in TEMPLATES_DIR.glob("*.html"):
        fields |= set(re.findall(r'<input type="hidden" name="([^"]+)" value="\{\{ csrf \}\}">',
                                 template.read_text(encoding="utf-8")))
    assert fields == {CSRF_FIELD}
    script = (STATIC_DIR / "app.js").read_text(encoding="utf-8")
    assert re.findall(r'body\.set\("([^"]+)", csrfToken\(\)\)', script) == [CSRF_FIELD]
    assert [h.lower() for h in re.findall(r'"([^"]+)": csrfToken\(\)', script)] == [CSRF_HEADER]
