"""The officers' pages in Chromium: a bulletin from the compose page to the loudspeakers and the log.

An officer composes and hears it ("Nghe thử"), submits it; an approver (another browser profile)
approves it; it shows in "Lịch phát"; the commune's timetable then gets a session a few seconds
away and the real scheduler, delivery and agent process air it; "Cụm loa" shows it playing (the
page refreshes by itself) and "Nhật ký phát thanh" shows it played, also in the CSV export; an
officer of the other commune sees none of it. Every page is screenshot at 1280 and 360 px.
"""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import Browser, Page, expect

from broadcaster.clock import SystemClock
from tests.agent.harness import wait_for
from tests.web.world import CLUSTER_A, WebWorld, check_layout, log_in, new_context, readme_shot

TITLE = "Thông báo tiêm chủng mở rộng"
TEXT = "Sáng thứ Bảy, Trạm Y tế xã tiêm chủng cho trẻ dưới 5 tuổi. Đề nghị các gia đình đưa trẻ đến đúng giờ."
AIRING_TIMEOUT_S = 60


def _compose_and_submit(page: Page) -> int:
    """Fill the compose page, play "Nghe thử", submit; the new bulletin's id."""
    page.goto("/soan-tin")
    page.fill("input[name=title]", TITLE)
    page.fill("#text", TEXT)
    expect(page.locator("#chars")).to_have_text(str(len(TEXT)))
    expect(page.locator("#estimate")).not_to_have_text("—")
    expect(page.locator("#fit")).to_contain_text("buổi phát tới")
    page.click("#preview-button")
    # The synthesized audio loads in the page's <audio> element and knows its length.
    page.wait_for_function(
        "() => { const a = document.querySelector('#preview-audio');"
        " return a && a.readyState >= 1 && isFinite(a.duration) && a.duration > 1; }"
    )
    audio_s = page.evaluate("() => document.querySelector('#preview-audio').duration")
    expect(page.locator("#preview-duration")).to_contain_text("giây")
    expect(page.locator("#preview-status")).to_contain_text("Bản nghe thử dài")
    assert 2 < audio_s < 60
    check_layout(page, "soan-ban-tin")
    readme_shot(page, "soan-ban-tin", "#player")
    page.click("button[name=action][value=send]")
    page.wait_for_url(re.compile(r"/ban-tin/\d+\?tb=da-gui"))
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "submitted")
    check_layout(page, "ban-tin-chi-tiet")
    match = re.search(r"/ban-tin/(\d+)", page.url)
    assert match is not None
    return int(match.group(1))


def _approve(browser: Browser, web: WebWorld, bulletin_id: int) -> None:
    """An approver, in a browser profile of their own, approves it from the queue."""
    context = new_context(browser, web)
    page = log_in(context, "approver-a")
    page.click("nav >> text=Duyệt tin")
    card = page.locator(f"#tin-{bulletin_id}")
    expect(card).to_contain_text(TITLE)
    check_layout(page, "duyet-tin")
    card.locator("button:has-text('Duyệt')").click()
    page.wait_for_url("**/duyet-tin?tb=da-duyet")
    expect(page.locator(f"#tin-{bulletin_id}")).to_have_count(0)
    page.goto(f"/ban-tin/{bulletin_id}")
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "approved")
    context.close()


def _session_soon(web: WebWorld) -> str:
    """Give commune A a timetable with one session a few seconds from now (the admin's API call)."""
    starts = SystemClock().now() + timedelta(seconds=8)
    document = {
        "description": "Buổi phát thử",
        "sessions": [
            {
                "name": "thu",
                "label": "Buổi phát thử",
                "start": starts.strftime("%H:%M:%S"),
                "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                "max_minutes": 5,
            }
        ],
    }
    response = web.api("PUT", f"/api/v1/communes/{web.commune_id()}/timetable", "admin-a", json=document)
    assert response.status_code == 200, response.text
    return starts.strftime("%H:%M:%S")


def test_bulletin_from_compose_page_to_the_broadcast_log(web: WebWorld, browser: Browser) -> None:
    officer = new_context(browser, web)
    page = officer.new_page()
    page.goto("/ban-tin")
    page.wait_for_url("**/dang-nhap?tiep=*")  # strangers are sent to the login page
    check_layout(page, "dang-nhap")
    page = log_in(officer, "officer-a")
    bulletin_id = _compose_and_submit(page)

    _approve(browser, web, bulletin_id)

    page.goto("/ban-tin?trang_thai=approved")
    expect(page.locator(f"[data-bulletin-id='{bulletin_id}']")).to_contain_text("Đã duyệt")
    check_layout(page, "ban-tin")
    page.goto("/lich-phat?so_ngay=7")
    planned = page.locator(f"li[data-bulletin-id='{bulletin_id}']").first
    expect(planned).to_contain_text(TITLE)
    check_layout(page, "lich-phat")

    page.goto("/cum-loa")
    cluster_a = page.locator(f"tr[data-cluster-id='{web.seed.communes['A'].cluster_id}']")
    expect(cluster_a).to_have_attribute("data-online", "yes")
    expect(page.locator(f"tr[data-cluster-id='{web.market_cluster_id}']")).to_have_attribute(
        "data-online", "no"
    )
    starts = _session_soon(web)
    # No reload from here: the clusters page refreshes itself and shows the bulletin on the air.
    expect(cluster_a.locator("td[data-label='Đang phát']")).to_contain_text(
        TITLE, timeout=AIRING_TIMEOUT_S * 1000
    )
    expect(cluster_a.locator("td[data-label='Âm lượng']")).to_contain_text("%")
    # The table is now the one the script fetched from /cum-loa/bang (a fragment, checked here in its page).
    check_layout(page, "cum-loa")
    readme_shot(page, "cum-loa", "table.clusters")

    log_url = f"/nhat-ky?ban_tin={bulletin_id}"

    def played() -> bool:
        page.goto(log_url)
        return page.locator(f"tr[data-bulletin-id='{bulletin_id}'][data-state='played']").count() == 1

    wait_for(played, AIRING_TIMEOUT_S, "the broadcast log to show the bulletin played", interval=1.0)
    row = page.locator(f"tr[data-bulletin-id='{bulletin_id}'][data-state='played']")
    expect(row).to_contain_text(CLUSTER_A)
    expect(row).to_contain_text("Buổi phát thử")
    expect(row).to_contain_text("Đã phát")
    # The market cluster's agent never answered: its row says so instead of claiming it aired.
    market = page.locator(f"tr[data-bulletin-id='{bulletin_id}'][data-cluster-id='{web.market_cluster_id}']")
    expect(market).not_to_have_attribute("data-state", "played")
    check_layout(page, "nhat-ky")
    assert any(event["event"] == "end" for event in web.agent.played())  # the agent really played it

    csv = officer.request.get(page.locator("#csv-link").get_attribute("href") or "")
    assert csv.status == 200 and csv.headers["content-type"].startswith("text/csv")
    body = csv.body().decode("utf-8-sig")
    header = body.splitlines()[0]
    assert header.startswith("Mã lượt phát,Buổi phát,") and "Trạng thái phát" in header, header  # Vietnamese headings
    assert TITLE in body and ",đã phát," in body and "played" not in body, body
    assert starts[:5] in body  # the session's start time is in the export
    # The other filters: by cluster (only that cluster's rows) and by date (tomorrow has nothing yet).
    page.goto(f"/nhat-ky?cum={web.seed.communes['A'].cluster_id}&ban_tin={bulletin_id}")
    expect(page.locator("tbody tr")).to_have_count(1)
    tomorrow = (SystemClock().now() + timedelta(days=1)).date().isoformat()
    page.goto(f"/nhat-ky?tu_ngay={tomorrow}&ban_tin={bulletin_id}")
    expect(page.locator("table.log")).to_have_count(0)
    officer.close()

    # An officer of the other commune finds no trace of it, by list, address, timetable or log.
    other = new_context(browser, web)
    page = log_in(other, "officer-b")
    expect(page.locator(f"[data-bulletin-id='{bulletin_id}']")).to_have_count(0)
    response = page.goto(f"/ban-tin/{bulletin_id}")
    assert response is not None and response.status == 404
    expect(page.locator(".alert.bad")).to_contain_text("Không tìm thấy bản tin")
    check_layout(page, "loi-khong-tim-thay")
    response = page.goto(log_url)
    assert response is not None and response.status == 404
    response = page.goto(f"/lich-phat?xa={web.commune_id('A')}")
    assert response is not None and response.status == 404
    page.goto("/nhat-ky")
    expect(page.locator("table.log")).to_have_count(0)
    other.close()
