"""Security of the pages: session cookies, CSRF tokens and response headers (login limits: services.login_limits).

Sessions are server-side records: a page login is an ``ApiToken`` (only its sha256 is stored, see
``services.auth``), so logging out revokes it, and disabling an account or changing its password
ends its page sessions too. The cookie holds the random token; it is HttpOnly, SameSite=Lax, and
Secure (with the ``__Host-`` prefix) when ``Settings.secure_cookies``.

CSRF: every form carries a token derived from a secret cookie the page's script cannot read,
``HMAC-SHA256(key=cookie value, "csrf")``: the session cookie once logged in, a random pre-login
cookie on the login form (so a foreign site cannot log a victim into its own account). A POST
whose token does not match, or that a browser labels ``Sec-Fetch-Site: cross-site``, is refused.
No server secret is needed, so there is none to configure or leak.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

from broadcaster.errors import PermissionDenied

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The pages load nothing from elsewhere and run no inline script: a stored <script> could not run
# even if escaping ever failed. blob: lets "Nghe thử" play a recording chosen on the officer's PC.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


class CsrfRejected(PermissionDenied):
    """A form came without the page's CSRF token (an old page, or another site posting it)."""

    code = "csrf_rejected"


class CookieNames:
    """The cookie names: ``__Host-`` prefixed when Secure, so no subdomain can plant them."""

    def __init__(self, secure: bool) -> None:
        prefix = "__Host-" if secure else ""
        self.secure = secure
        self.session = f"{prefix}bc_session"
        self.pre_login = f"{prefix}bc_login"


def csrf_token(secret: str) -> str:
    """The CSRF token of the forms of a session (or pre-login) whose cookie value is ``secret``."""
    return hmac.new(secret.encode("utf-8"), b"csrf", hashlib.sha256).hexdigest()


def csrf_secret(request: Request, cookies: CookieNames) -> str | None:
    """The cookie value the request's CSRF token must be derived from (session first)."""
    return request.cookies.get(cookies.session) or request.cookies.get(cookies.pre_login)


def check_csrf(request: Request, cookies: CookieNames, sent: str | None) -> None:
    """``CsrfRejected`` unless ``sent`` is the token of the request's own cookie, from our own pages."""
    refused = CsrfRejected("Biểu mẫu không hợp lệ hoặc đã quá hạn. Hãy tải lại trang rồi làm lại.")
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise refused
    secret = csrf_secret(request, cookies)
    if not secret or not sent or not hmac.compare_digest(csrf_token(secret), sent):
        raise refused


def new_pre_login_secret() -> str:
    """A fresh random value for the pre-login cookie."""
    return secrets.token_urlsafe(32)


def set_cookie(response: Response, cookies: CookieNames, name: str, value: str, max_age: int | None) -> None:
    """Set one of our cookies: HttpOnly, SameSite=Lax, path /, Secure when configured."""
    response.set_cookie(
        name, value, max_age=max_age, path="/", secure=cookies.secure, httponly=True, samesite="lax"
    )


def clear_cookie(response: Response, cookies: CookieNames, name: str) -> None:
    """Remove one of our cookies from the browser."""
    response.delete_cookie(name, path="/", secure=cookies.secure, httponly=True, samesite="lax")


def page_headers(response: Response) -> None:
    """Headers every page carries: CSP, no sniffing, no framing, no caching of personal pages."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cache-Control", "no-store")
