"""Recording in the browser (MediaRecorder) on the compose and emergency pages, with Chromium's fake microphone.

Chromium gets a fake microphone that plays a WAV this test makes (``--use-file-for-fake-audio-capture``)
and grants it without asking. The recording fills the form's file field and goes through the same
upload path as a chosen file; the emergency made from a recording airs at cluster A's real agent.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.agent.harness import wait_for
from tests.api.world import wav_bytes
from tests.web.world import CHROMIUM, CHROMIUM_ARGS, WebWorld, check_layout, log_in, new_context

RECORD_S = 2.5
# Seconds between saving the extra session and its start, at least (the start is a whole minute).
EXTRA_SESSION_MARGIN_S = 12


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """Chromium with a fake microphone playing a WAV made here, and media permission granted."""
    voice = tmp_path_factory.mktemp("mic") / "giong-doc.wav"
    voice.write_bytes(wav_bytes(seconds=6.0))
    args = [*CHROMIUM_ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={voice}"]
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)
        try:
            yield launched
        finally:
            launched.close()


def _record(page: Page) -> None:
    """Record a few seconds with the page's recorder and wait for the file field to hold it."""
    page.check("input[name=mode][value=recording]")
    page.click("[data-record]")
    expect(page.locator("[data-record-status]")).to_contain_text("Đang ghi")
    page.wait_for_timeout(RECORD_S * 1000)  # the length of the recording itself, not a wait for the app
    page.click("[data-stop]")
    expect(page.locator("[data-record-status]")).to_contain_text("Đã ghi")
    size = page.evaluate("() => document.querySelector('input[name=recording]').files[0].size")
    assert size > 2000
    # It can be heard back before it is sent.
    page.wait_for_function("() => { const a = document.querySelector('audio[data-listen]');"
                           " return a && a.src.startsWith('blob:') && a.readyState >= 1; }")


def test_an_officer_records_a_bulletin_on_the_compose_page(web: WebWorld, browser: Browser) -> None:
    context = new_context(browser, web, width=360)
    context.grant_permissions(["microphone"], origin=web.url)
    page = log_in(context, "officer-a")
    page.goto("/soan-tin")
    page.fill("input[name=title]", "Thông báo bằng tiếng Mông")
    _record(page)
    check_layout(page, "soan-tin-ghi-am")
    page.click("button[name=action][value=send]")
    page.wait_for_url(re.compile(r"/ban-tin/\d+\?tb=da-gui"))
    expect(page.locator(".card").first).to_contain_text(re.compile(r"ghi-am-\d{8}-\d{4}\.(webm|ogg|m4a)"))
    src = page.locator(".listen audio").get_attribute("src") or ""
    audio = context.request.get(src)  # levelled by the server like any upload
    assert audio.status == 200 and audio.headers["content-type"] == "audio/mpeg" and len(audio.body()) > 1000
    context.close()


def test_an_approver_airs_an_emergency_recorded_on_the_page(web: WebWorld, browser: Browser, tmp_path: Path) -> None:
    context = new_context(browser, web)
    context.grant_permissions(["microphone"], origin=web.url)
    page = log_in(context, "approver-a")
    page.goto("/phat-khan-cap")
    page.fill("input[name=title]", "Khẩn: lũ quét thôn Đông")
    _record(page)
    page.locator("label", has_text="Cụm loa nhà văn hóa").locator("input[name=cluster_ids]").check()
    page.click("button:has-text('Tiếp tục')")
    expect(page.locator("#confirm-recording")).to_contain_text("ghi-am-")
    check_layout(page, "phat-khan-cap-ghi-am")
    page.check("input[name=confirmed]")
    before = len(web.agent.played())
    page.click("button:has-text('PHÁT NGAY')")
    page.wait_for_url("**/phat-khan-cap?xa=*&tb=da-phat")
    # The real agent plays it: counted at the agent itself.
    wait_for(lambda: any(e["event"] == "end" for e in web.agent.played()[before:]), 60,
             "cluster A's agent to play the recorded emergency", interval=0.5)
    # It aired to its end: the page offers no STOP for it any more (its history stays "played").
    page.reload()
    row = page.locator(".on-air-row", has_text="Khẩn: lũ quét thôn Đông")
    expect(row).to_contain_text("Đã phát xong")
    expect(row.locator("button:has-text('DỪNG PHÁT')")).to_have_count(0)
    context.close()


def _first_login(browser: Browser, web: WebWorld, username: str, password: str) -> Page:
    """Log in with a password shown once, choose one's own, land on the bulletin list."""
    page = new_context(browser, web).new_page()
    page.context.grant_permissions(["microphone"], origin=web.url)
    page.goto("/dang-nhap")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/doi-mat-khau?tb=phai-doi-mat-khau")
    page.fill("input[name=current]", password)
    page.fill("input[name=new]", "mat-khau-cua-" + username)
    page.fill("input[name=repeated]", "mat-khau-cua-" + username)
    page.click("button:has-text('Đổi mật khẩu')")
    expect(page.locator(".alert.ok")).to_contain_text("Đã đổi mật khẩu")
    return page


def _create_account(page: Page, username: str, name: str, role: str) -> str:
    page.fill("input[name=username]", username)
    page.fill("input[name=full_name]", name)
    page.check(f"input[name=role][value={role}]")
    page.click("button:has-text('Tạo tài khoản')")
    expect(page.locator("h1")).to_have_text("Đã tạo tài khoản")
    return page.locator("#new-password").inner_text().strip()


def test_a_new_commune_is_set_up_from_the_pages_and_airs_a_recorded_bulletin(
    web: WebWorld, browser: Browser, tmp_path: Path
) -> None:
    import yaml

    from broadcaster.clock import SystemClock
    from tests.agent.harness import AgentProcess, free_port

    # The province adds the commune and its first admin.
    province = log_in(new_context(browser, web), "tinh")
    province.goto("/toan-tinh")
    province.fill("input[name=name]", "Xã Nậm Cang")
    province.fill("input[name=code]", "xa-nam-cang")
    province.click("button:has-text('Thêm xã/phường')")
    province.wait_for_url("**/tai-khoan?xa=*&tb=da-them-xa")
    commune_id = int(re.search(r"xa=(\d+)", province.url).group(1))  # type: ignore[union-attr]
    admin_password = _create_account(province, "quantri.namcang", "Sùng A Lử", "admin")
    province.context.close()

    # Its admin: a thôn, a cluster, the agent's file from the page; the real agent runs with it.
    admin = _first_login(browser, web, "quantri.namcang", admin_password)
    admin.goto(f"/cum-loa/quan-ly?xa={commune_id}")
    admin.fill("#zone_name", "Bản Nậm Cang")
    admin.click("button:has-text('Thêm thôn/bản')")
    port = free_port()
    admin.fill("#cluster-name", "Cụm loa bản Nậm Cang")
    admin.select_option("select[name=zone_id]", label="Bản Nậm Cang")
    admin.fill("input[name=agent_url]", f"http://127.0.0.1:{port}")
    admin.click("button:has-text('Thêm cụm loa')")
    admin.click("button:has-text('Cấp tệp cấu hình mới')")
    with admin.expect_download() as download:
        admin.click("#config-download")
    config = yaml.safe_load(download.value.path().read_text(encoding="utf-8"))
    # The agent runs with what the page issued; only its player and state dir are the test's.
    issued = {key: config[key] for key in ("transport", "mqtt") if key in config}
    agent = AgentProcess(tmp_path / "agent", cluster_id=config["cluster_id"], server_url=config["server_url"],
                         public_key=config["server_public_keys"][0], secret=config["secret"], port=port,
                         **issued).start()
    try:
        admin.goto(f"/cum-loa/{config['cluster_id']}")
        wait_for(lambda: admin.reload() or admin.locator("[data-online=yes]").count(), 30, "the cluster online")

        # The timetable: Tết as a holiday.
        today = SystemClock().now().date()
        admin.goto(f"/lich-phat/sua?xa={commune_id}")
        admin.check("input[name=new_kind][value=closed]")
        admin.fill("input[name=new_date]", f"{today + timedelta(days=60):%d/%m/%Y}")
        admin.fill("input[name=new_until]", f"{today + timedelta(days=64):%d/%m/%Y}")
        admin.fill("input[name=new_label]", "Tết Nguyên đán")
        admin.click("button[value=preview]")
        admin.click("button[value=save]")
        admin.wait_for_url("**/lich-phat?xa=*&tb=da-luu-lich")

        # Its people: an officer and an approver, each with a password shown once.
        admin.goto(f"/tai-khoan?xa={commune_id}")
        officer_password = _create_account(admin, "vanhoa.namcang", "Giàng Thị Mỷ", "officer")
        admin.goto(f"/tai-khoan?xa={commune_id}")
        approver_password = _create_account(admin, "chutich.namcang", "Vàng A Sình", "approver")

        # The officer records the bulletin in Mông on the phone; the approver approves it.
        officer = _first_login(browser, web, "vanhoa.namcang", officer_password)
        officer.goto("/soan-tin")
        officer.fill("input[name=title]", "Thông báo tiếng Mông: phòng chống bão")
        _record(officer)
        officer.click("button[name=action][value=send]")
        officer.wait_for_url(re.compile(r"/ban-tin/\d+\?tb=da-gui"))
        bulletin_id = int(re.search(r"/ban-tin/(\d+)", officer.url).group(1))  # type: ignore[union-attr]
        approver = _first_login(browser, web, "chutich.namcang", approver_password)
        approver.goto("/duyet-tin")
        approver.locator(f"#tin-{bulletin_id} button:has-text('Duyệt')").click()
        approver.wait_for_url("**/duyet-tin?tb=da-duyet")

        # Last, so that nothing waits on the set-up: an extra session (a storm watch) at the next
        # whole minute far enough away to save it. The preview says the bulletin will air in it.
        starts = (SystemClock().now() + timedelta(seconds=EXTRA_SESSION_MARGIN_S + 59)).replace(
            second=0, microsecond=0)
        admin.goto(f"/lich-phat/sua?xa={commune_id}")
        admin.check("input[name=new_kind][value=extra]")
        admin.fill("input[name=new_date]", f"{starts:%d/%m/%Y}")
        admin.fill("input[name=new_start]", f"{starts:%H:%M}")
        admin.fill("input[name=new_minutes]", "10")
        admin.fill("input[name=new_label]", "Theo dõi bão")
        admin.click("button[value=preview]")
        expect(admin.locator("#preview li[data-change=added]")).to_contain_text("Theo dõi bão")
        expect(admin.locator(f"#preview li[data-bulletin-id='{bulletin_id}']")).to_contain_text(
            f"phát lần đầu {starts:%H:%M}")
        admin.click("button[value=save]")
        admin.wait_for_url("**/lich-phat?xa=*&tb=da-luu-lich")
        expect(admin.locator(".exceptions-list")).to_contain_text("Tết Nguyên đán")
        expect(admin.locator(".exceptions-list")).to_contain_text("Theo dõi bão")
        assert SystemClock().now() < starts, "saving the extra session took longer than the session is away"

        # The extra session airs it at the new cluster's real agent, and the log says so.
        wait_for(lambda: any(e["event"] == "end" for e in agent.played()), 240,
                 "the new cluster's agent to play the recorded bulletin", interval=1.0)

        def logged() -> bool:
            officer.goto(f"/nhat-ky?ban_tin={bulletin_id}")
            return officer.locator(f"tr[data-bulletin-id='{bulletin_id}'][data-state='played']").count() == 1

        wait_for(logged, 60, "the log to show it played", interval=1.0)
        expect(officer.locator(f"tr[data-bulletin-id='{bulletin_id}']")).to_contain_text("Theo dõi bão")
    finally:
        agent.terminate()
