"""Security of the pages against the served app: escaping, CSRF, login rate limit, logout, roles."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Browser, expect

from tests.web.world import WebWorld, form_token, http_login, log_in, new_context

SCRIPT_TITLE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"> Họp thôn'


def test_a_script_tag_title_is_shown_as_text(web: WebWorld, browser: Browser) -> None:
    context = new_context(browser, web)
    page = log_in(context, "officer-a")
    page.goto("/soan-tin")
    page.fill("input[name=title]", SCRIPT_TITLE)
    page.fill("#text", "Tối nay họp thôn lúc 19 giờ tại nhà văn hóa.")
    page.click("button[name=action][value=save]")
    page.wait_for_url(re.compile(r"/ban-tin/\d+\?tb=da-luu"))
    heading = page.locator("h1.title-text")
    expect(heading).to_have_text(SCRIPT_TITLE)
    assert heading.locator("script, img").count() == 0
    page.goto("/ban-tin")
    expect(page.locator("a.item-title").first).to_have_text(SCRIPT_TITLE)
    assert page.evaluate("() => window.__pwned") is None
    assert "<script>window.__pwned" not in page.content()  # escaped in the markup, not just inert
    context.close()


def test_a_form_without_its_csrf_token_is_refused(web: WebWorld, browser: Browser) -> None:
    context = new_context(browser, web)
    page = log_in(context, "officer-a")
    page.goto("/soan-tin")
    page.fill("input[name=title]", "Bản tin không có mã chống giả mạo")
    page.fill("#text", "Nội dung thử.")
    page.evaluate("() => document.querySelector('#compose input[name=csrf_token]').remove()")
    with page.expect_response(
        lambda r: r.url.endswith("/soan-tin") and r.request.method == "POST"
    ) as refused:
        page.click("button[name=action][value=save]")
    assert refused.value.status == 403
    expect(page.locator(".alert.bad")).to_contain_text("Biểu mẫu không hợp lệ")
    page.goto("/ban-tin?q=kh%C3%B4ng+c%C3%B3+m%C3%A3")
    expect(page.locator(".item")).to_have_count(0)

    # The same session posting with a wrong token, or from another site, is refused too; with its
    # own token the very same request goes through (so the refusals above are the token's doing).
    cookies = {c["name"]: c["value"] for c in context.cookies()}
    client = httpx.Client(base_url=web.url, cookies=cookies, timeout=30)
    token = form_token(client.get("/soan-tin").text)
    form = {"title": "Bản tin có mã", "text": "Nội dung thử.", "action": "save"}
    assert client.post("/soan-tin", data={**form, "csrf_token": "0" * 64}).status_code == 403
    cross = client.post(
        "/soan-tin", data={**form, "csrf_token": token}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert cross.status_code == 403
    accepted = client.post("/soan-tin", data={**form, "csrf_token": token})
    assert accepted.status_code == 303 and re.match(r"/ban-tin/\d+\?tb=da-luu", accepted.headers["location"])
    context.close()


def test_login_attempts_are_rate_limited(web: WebWorld) -> None:
    for _ in range(web.settings.login_max_failures + 1):  # the free failures, then one that must wait
        _, answer = http_login(web, "admin-b", "mat-khau-sai")
        assert answer.status_code == 401
        assert "không đúng" in answer.text
    _, answer = http_login(web, "admin-b")  # the right password, but this account must wait from here
    assert answer.status_code == 429 and 0 < int(answer.headers["retry-after"]) <= 60
    assert "quá nhiều lần" in answer.text
    assert "bc_session" not in answer.headers.get("set-cookie", "")
    _, other = http_login(web, "approver-b")  # another account from the same address does not wait
    assert other.status_code == 303


def test_session_cookie_flags_and_logout_ends_the_session_on_the_server(web: WebWorld) -> None:
    client, answer = http_login(web, "officer-b")
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"].lower()
    assert (
        "bc_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    )
    stolen = client.cookies["bc_session"]
    assert client.get("/ban-tin").status_code == 200
    token = form_token(client.get("/ban-tin").text)
    logout = client.post("/dang-xuat", data={"csrf_token": token})
    assert logout.status_code == 303 and logout.headers["location"].startswith("/dang-nhap")
    # The old cookie, replayed by someone who kept it, opens nothing: the record is revoked.
    replay = httpx.get(web.url + "/ban-tin", cookies={"bc_session": stolen}, timeout=30)
    assert replay.status_code == 303 and replay.headers["location"].startswith("/dang-nhap")
    api = httpx.get(web.url + "/api/v1/auth/me", headers={"Authorization": f"Bearer {stolen}"}, timeout=30)
    assert api.status_code == 401


def test_pages_enforce_roles_like_the_api(web: WebWorld) -> None:
    bulletin = web.api(
        "POST",
        "/api/v1/bulletins",
        "officer-a",
        json={"title": "Thông báo nạo vét kênh", "text": "Chủ nhật này nạo vét kênh thủy lợi."},
    )
    bulletin_id = bulletin.json()["id"]
    assert web.api("POST", f"/api/v1/bulletins/{bulletin_id}/submit", "officer-a").status_code == 200
    client, _ = http_login(web, "officer-a")
    page = client.get("/duyet-tin").text
    assert f'id="tin-{bulletin_id}"' in page and f"/duyet-tin/{bulletin_id}/duyet" not in page
    refused = client.post(f"/duyet-tin/{bulletin_id}/duyet", data={"csrf_token": form_token(page)})
    assert refused.status_code == 403 and "không có quyền" in refused.text
    emergency = client.post(
        "/phat-khan-cap/xac-nhan",
        data={"csrf_token": form_token(page), "title": "Khẩn", "text": "Nội dung khẩn.", "repeat": "1"},
    )
    assert emergency.status_code == 403
    assert web.api("GET", f"/api/v1/bulletins/{bulletin_id}", "officer-a").json()["status"] == "submitted"
    # Another commune's approver cannot reach it at all: not found, as in the API.
    other, _ = http_login(web, "approver-b")
    token = form_token(other.get("/duyet-tin").text)
    assert other.post(f"/duyet-tin/{bulletin_id}/duyet", data={"csrf_token": token}).status_code == 404
