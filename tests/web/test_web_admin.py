"""A commune admin in Chromium: thôn/bản and clusters (agent file with QR, secret rotation, retirement), accounts.

The secret checks speak the agents' own signed protocol to the served app: a heartbeat signed
with the secret of a file issued before the last rotation (or of a retired cluster) is refused.
"""

from __future__ import annotations

import json
import re
import time
from urllib.parse import unquote

import httpx
import segno
import yaml
from playwright.sync_api import Browser, BrowserContext, Page, expect

from broadcaster.delivery.agent_auth import agent_signing_key, sign_agent_request
from tests.agent.harness import wait_for
from tests.api.world import PASSWORD
from tests.web.world import WebWorld, check_layout, form_token, http_login, log_in, new_context

NEW_PASSWORD = "mat-khau-rieng-cua-toi"


def _heartbeat(web: WebWorld, cluster_id: str, secret: str) -> int:
    """The status of a heartbeat the cluster's agent would send, signed with ``secret``."""
    now = time.time()
    body = json.dumps({
        "cluster_id": cluster_id, "at": time.strftime("%Y-%m-%dT%H:%M:%S+07:00", time.localtime(now)),
        "status": "idle", "volume": 70, "version": "test", "now_playing": None, "queue_length": 0,
        "last_seq": 0, "reports_pending": 0,
    }).encode()
    headers = {"Content-Type": "application/json", **sign_agent_request(
        agent_signing_key(secret), cluster_id, "heartbeat", body, timestamp_ms=int(now * 1000))}
    return httpx.post(f"{web.url}/api/agent/heartbeat", content=body, headers=headers, timeout=10).status_code


def _issue_config(page: Page) -> dict[str, object]:
    """Press "Cấp tệp cấu hình mới", download the file; check the QR code holds exactly that file."""
    page.click("button:has-text('Cấp tệp cấu hình mới')")
    expect(page.locator("h1")).to_contain_text("Cấu hình máy điều khiển")
    with page.expect_download() as download_info:
        page.click("#config-download")
    text = download_info.value.path().read_text(encoding="utf-8")
    assert text == page.locator("#config-text").input_value()
    qr_src = page.locator("#config-qr").get_attribute("src") or ""
    # segno is deterministic: the QR of the downloaded text, drawn the same way, is the same picture.
    assert qr_src == segno.make(text, error="l").svg_data_uri(scale=3, border=4, dark="#000", light="#fff")
    assert "<svg" in unquote(qr_src)
    config = yaml.safe_load(text)
    assert isinstance(config, dict)
    return config


def test_an_admin_manages_villages_and_clusters_and_rotates_the_agent_secret(web: WebWorld, browser: Browser) -> None:
    context = new_context(browser, web, width=360)
    page = log_in(context, "admin-a")
    page.click("nav >> text=Cụm loa")
    page.click("text=Quản lý thôn/bản và cụm loa")
    page.fill("#zone_name", "Thôn Tây")
    page.click("button:has-text('Thêm thôn/bản')")
    expect(page.locator(".alert.ok")).to_contain_text("Đã thêm thôn/bản")
    page.fill("#zone_name", "Thôn Tây")  # the same name again is refused with a message naming it
    page.click("button:has-text('Thêm thôn/bản')")
    expect(page.locator(".alert.bad")).to_have_attribute("data-code", "name_taken")
    page.fill("#zone_name", "Bản Nà Hẩu")
    page.click("button:has-text('Thêm thôn/bản')")
    page.fill("#cluster-name", "Cụm loa thôn Tây")
    page.select_option("select[name=zone_id]", label="Thôn Tây")
    page.click("button:has-text('Thêm cụm loa')")
    page.wait_for_url(re.compile(r"/cum-loa/\d+\?tb=da-them-cum"))
    cluster_id = page.url.split("/cum-loa/")[1].split("?")[0]
    expect(page.locator(".facts")).to_contain_text("Thôn Tây")
    expect(page.locator("#last-airing")).to_have_text("Chưa phát lần nào")
    check_layout(page, "cum-loa-chi-tiet")

    first = _issue_config(page)
    assert first["cluster_id"] == cluster_id and first["server_url"] == web.url
    check_layout(page, "cum-loa-cau-hinh")
    assert _heartbeat(web, cluster_id, str(first["secret"])) == 200
    page.goto(f"/cum-loa/{cluster_id}")
    expect(page.locator("[data-online]").first).to_have_attribute("data-online", "yes")
    second = _issue_config(page)
    assert second["secret"] != first["secret"]
    assert _heartbeat(web, cluster_id, str(first["secret"])) == 401  # the old file stopped working at once
    assert _heartbeat(web, cluster_id, str(second["secret"])) == 200

    # Rename and move it to another thôn; set its volume.
    page.goto(f"/cum-loa/{cluster_id}")
    page.fill("form[action$='/sua'] input[name=name]", "Cụm loa bản Nà Hẩu")
    page.select_option("form[action$='/sua'] select[name=zone_id]", label="Bản Nà Hẩu")
    page.click("form[action$='/sua'] button[type=submit]")
    expect(page.locator(".alert.ok")).to_contain_text("Đã lưu")
    expect(page.locator("h1")).to_have_text("Cụm loa bản Nà Hẩu")
    expect(page.locator(".facts")).to_contain_text("Bản Nà Hẩu")
    page.fill("input[name=volume]", "60")
    page.click("button:has-text('Đặt âm lượng')")
    expect(page.locator("#volume")).to_contain_text("đặt 60%")

    # Retire it: no longer a target, its secret revoked, still listed as retired.
    page.click("summary:has-text('Ngừng cụm loa')")
    page.click("button:has-text('Ngừng cụm loa «')")
    expect(page.locator(".alert.ok")).to_contain_text("Đã ngừng cụm loa")
    assert _heartbeat(web, cluster_id, str(second["secret"])) == 401
    page.goto("/soan-tin")
    expect(page.locator("label", has_text="Cụm loa bản Nà Hẩu")).to_have_count(0)
    page.goto(f"/cum-loa/quan-ly?xa={web.commune_id()}")
    expect(page.locator(f"li[data-cluster-id='{cluster_id}']")).to_contain_text("Đã ngừng")
    check_layout(page, "quan-ly-cum-loa")
    context.close()


def test_a_test_tone_plays_at_that_cluster_only_and_is_logged(web: WebWorld, browser: Browser) -> None:
    from sqlalchemy import select

    from broadcaster.models import Airing, AiringKind, AuditEvent, Delivery

    cluster_id = web.seed.communes["A"].cluster_id
    officer, _ = http_login(web, "officer-a")  # only admins may: an officer's post is refused
    token = form_token(officer.get(f"/cum-loa/{cluster_id}").text)
    assert officer.post(f"/cum-loa/{cluster_id}/phat-thu", data={"csrf_token": token}).status_code == 403
    context = new_context(browser, web)
    page = log_in(context, "admin-a")
    page.goto(f"/cum-loa/{cluster_id}")
    before = len(web.agent.played())
    page.click("#test-tone")
    page.wait_for_url(f"**/cum-loa/{cluster_id}?tb=da-phat-thu")
    expect(page.locator(".alert.ok")).to_contain_text("phát thử")
    # Cluster A's real agent plays it, from a signed order like any other.
    wait_for(lambda: any(e["event"] == "end" for e in web.agent.played()[before:]), 60,
             "cluster A's agent to play the test tone", interval=0.5)

    def logged() -> bool:
        page.goto(f"/nhat-ky?cum={cluster_id}")
        return page.locator("tr[data-state='played']", has_text="Phát thử").count() == 1

    wait_for(logged, 30, "the log to show the test tone played", interval=1.0)
    page.goto(f"/cum-loa/{cluster_id}")
    expect(page.locator("#last-airing")).to_contain_text("Phát thử")
    with web.db.session() as session:  # at that cluster only (not the market's), and audited as the admin's
        airings = session.scalars(select(Airing).where(Airing.kind == AiringKind.TEST)).all()
        assert len(airings) == 1
        targets = session.scalars(select(Delivery.cluster_id).where(Delivery.airing_id == airings[0].id)).all()
        assert targets == [cluster_id]
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "test_tone")).one()
        assert event.actor_id == web.seed.communes["A"].users["admin"].id and event.object_id == cluster_id
    context.close()


def _created_password(page: Page) -> str:
    expect(page.locator("h1")).to_have_text("Đã tạo tài khoản")
    return page.locator("#new-password").inner_text().strip()


def _log_in_expecting_password_change(context: BrowserContext, username: str, password: str) -> Page:
    page = context.new_page()
    page.goto("/dang-nhap")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/doi-mat-khau?tb=phai-doi-mat-khau")
    return page


def test_an_admin_creates_locks_and_resets_accounts_and_ends_their_sessions(web: WebWorld, browser: Browser) -> None:
    admin = new_context(browser, web, width=360)
    page = log_in(admin, "admin-a")
    page.click("nav >> text=Tài khoản")
    page.fill("input[name=username]", "Ca Bo Moi")
    page.fill("input[name=full_name]", "Hà Thị Mai")
    page.click("button:has-text('Tạo tài khoản')")
    expect(page.locator(".alert.bad")).to_have_attribute("data-code", "username_invalid")
    expect(page.locator("input[name=full_name]")).to_have_value("Hà Thị Mai")
    page.fill("input[name=username]", "cabo.moi")
    page.click("button:has-text('Tạo tài khoản')")
    first_password = _created_password(page)
    check_layout(page, "tai-khoan-mat-khau")
    page.click("text=Xong: về trang tài khoản")
    account_url = page.url.split("?")[0]

    # The new officer must choose a password before anything else; the API refuses them meanwhile.
    person = new_context(browser, web)
    own = _log_in_expecting_password_change(person, "cabo.moi", first_password)
    check_layout(own, "doi-mat-khau-bat-buoc")
    own.goto("/ban-tin")
    own.wait_for_url("**/doi-mat-khau?tb=phai-doi-mat-khau")
    token = httpx.post(f"{web.url}/api/v1/auth/token", json={"username": "cabo.moi", "password": first_password},
                       timeout=10)
    assert token.status_code == 200, token.text
    api_token = token.json()["access_token"]
    refused = httpx.get(f"{web.url}/api/v1/bulletins", timeout=10, headers={"Authorization": f"Bearer {api_token}"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "password_change_required"
    own.fill("input[name=current]", first_password)
    own.fill("input[name=new]", NEW_PASSWORD)
    own.fill("input[name=repeated]", NEW_PASSWORD + "x")
    own.click("button:has-text('Đổi mật khẩu')")
    expect(own.locator(".alert.bad")).to_have_attribute("data-code", "passwords_differ")
    own.fill("input[name=current]", first_password)
    own.fill("input[name=new]", NEW_PASSWORD)
    own.fill("input[name=repeated]", NEW_PASSWORD)
    own.click("button:has-text('Đổi mật khẩu')")
    expect(own.locator(".alert.ok")).to_contain_text("Đã đổi mật khẩu")
    check_layout(own, "tai-khoan-cua-toi")  # the password page again, now with the sessions
    own.goto("/ban-tin")
    expect(own.locator("h1")).to_contain_text("Bản tin")

    # Changing the password ended the other sessions (the API token too); this page's stays.
    gone = httpx.get(f"{web.url}/api/v1/bulletins", timeout=10, headers={"Authorization": f"Bearer {api_token}"})
    assert gone.status_code == 401
    # The admin sees the session, makes them an approver, and ends the session.
    page.goto(account_url)
    expect(page.locator("table.sessions tbody tr")).to_have_count(1)
    page.check("input[name=role][value=approver]")
    page.click("form[action$='/sua'] button[type=submit]")
    expect(page.locator(".facts")).to_contain_text("Lãnh đạo duyệt tin")
    check_layout(page, "tai-khoan-chi-tiet")
    while page.locator("table.sessions button:has-text('Thu hồi')").count():
        page.locator("table.sessions button:has-text('Thu hồi')").first.click()
        expect(page.locator(".alert.ok")).to_contain_text("Đã thu hồi")
    own.goto("/duyet-tin")
    own.wait_for_url("**/dang-nhap?tiep=*")

    # A reset without "must change": the user logs in with it straight away.
    page.uncheck("input[name=must_change]")
    page.click("button:has-text('Đặt lại mật khẩu')")
    expect(page.locator("h1")).to_have_text("Đã đặt lại mật khẩu")
    reset = page.locator("#new-password").inner_text().strip()
    assert reset != first_password
    log_in(person, "cabo.moi", reset).close()

    # Locking ends every session at once and stops logging in.
    page.goto(account_url)
    page.click("button:has-text('Khóa tài khoản')")
    expect(page.locator("[data-active]")).to_have_attribute("data-active", "no")
    own.goto("/ban-tin")
    own.wait_for_url("**/dang-nhap?tiep=*")
    own.fill("input[name=username]", "cabo.moi")
    own.fill("input[name=password]", reset)
    own.click("button[type=submit]")
    expect(own.locator(".alert.bad")).to_have_attribute("data-code", "login_failed")
    page.goto(f"/tai-khoan?xa={web.commune_id()}")
    expect(page.locator("tr[data-account='cabo.moi']")).to_have_attribute("data-active", "no")
    check_layout(page, "tai-khoan")
    person.close()
    admin.close()


def test_dates_and_times_are_written_day_first_in_an_english_browser(web: WebWorld, browser: Browser) -> None:
    context = browser.new_context(base_url=web.url, viewport={"width": 360, "height": 800}, locale="en-US",
                                  timezone_id="America/New_York", bypass_csp=True)
    page = log_in(context, "officer-a", PASSWORD)
    page.goto("/soan-tin")
    start = page.locator("input[name=start_date]")
    assert re.fullmatch(r"\d{2}/\d{2}/\d{4}", start.input_value())
    assert start.get_attribute("type") == "text"  # not the browser's own mm/dd/yyyy date picker
    page.fill("input[name=title]", "Lịch họp cuối năm")
    page.fill("#text", "Họp tổng kết cuối năm tại hội trường xã.")
    page.fill("input[name=start_date]", "12/31/2026")  # month first: refused, the form kept
    page.click("button[name=action][value=save]")
    expect(page.locator(".alert.bad")).to_contain_text("ngày/tháng/năm")
    expect(page.locator("input[name=title]")).to_have_value("Lịch họp cuối năm")
    page.fill("input[name=start_date]", "24/12/2026")
    page.fill("input[name=end_date]", "31/12/2026")
    page.click("button[name=action][value=save]")
    page.wait_for_url(re.compile(r"/ban-tin/\d+\?tb=da-luu"))
    expect(page.locator(".facts")).to_contain_text("24/12/2026")
    expect(page.locator(".facts")).to_contain_text("31/12/2026")
    assert not re.search(r"\b(AM|PM)\b", page.locator("main").inner_text())
    page.goto("/nhat-ky?tu_ngay=24/12/2026")
    expect(page.locator("input[name=tu_ngay]")).to_have_value("24/12/2026")
    context.close()


def test_a_province_admin_sees_every_commune_and_adds_one(web: WebWorld, browser: Browser) -> None:
    context = new_context(browser, web)
    page = log_in(context, "tinh")
    page.click("nav >> text=Toàn tỉnh")
    row_a = page.locator(f"tr[data-commune-id='{web.commune_id('A')}']")
    # Commune A: cluster A's agent runs, the market cluster's never answers.
    expect(row_a.locator("[data-online]")).to_have_attribute("data-offline", "1")
    assert int(row_a.locator("[data-online]").get_attribute("data-online") or "0") >= 1
    expect(page.locator(f"tr[data-commune-id='{web.commune_id('B')}']")).to_contain_text("mất kết nối")
    row_a.locator("a", has_text="Lịch phát").click()
    page.wait_for_url(f"**/lich-phat?xa={web.commune_id('A')}")
    page.go_back()
    check_layout(page, "toan-tinh")
    page.fill("input[name=name]", "Xã Tân Lập")
    page.fill("input[name=code]", "Tân Lập")  # not a code: refused, with the rule in words
    page.click("button:has-text('Thêm xã/phường')")
    expect(page.locator(".alert.bad")).to_have_attribute("data-code", "commune_code_invalid")
    page.fill("input[name=code]", "xa-tan-lap")
    page.click("button:has-text('Thêm xã/phường')")
    page.wait_for_url("**/tai-khoan?xa=*&tb=da-them-xa")
    expect(page.locator("h2#add-title")).to_contain_text("Xã Tân Lập")
    context.close()
    commune_admin, _ = http_login(web, "admin-a")
    assert commune_admin.get("/toan-tinh").status_code == 403


def test_the_admin_pages_work_from_the_keyboard_alone(web: WebWorld, browser: Browser) -> None:
    context = new_context(browser, web, width=360)
    page = log_in(context, "admin-a")
    page.goto(f"/cum-loa/quan-ly?xa={web.commune_id()}")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")  # past the navigation, straight to the page's content
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.id") == "zone_name":
            break
    else:
        raise AssertionError("the «Thêm thôn/bản» field cannot be reached with Tab")
    page.keyboard.type("Thôn Bàn Phím")
    page.keyboard.press("Tab")
    assert "Thêm thôn/bản" in page.evaluate("() => document.activeElement.textContent")
    page.keyboard.press("Enter")
    expect(page.locator(".alert.ok")).to_contain_text("Đã thêm thôn/bản")
    # Every control a keyboard can reach shows where the focus is.
    outline = page.evaluate("() => { document.querySelector('#zone_name').focus();"
                            " return getComputedStyle(document.activeElement).outlineStyle; }")
    assert outline != "none"
    context.close()
