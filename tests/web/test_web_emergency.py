"""Phát khẩn cấp in Chromium: the confirmation repeats the targets, it airs, and STOP takes it off."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from tests.agent.harness import wait_for
from tests.web.world import (
    CLUSTER_A,
    MARKET_CLUSTER,
    ZONE_A,
    WebWorld,
    check_layout,
    form_token,
    http_login,
    log_in,
    new_context,
)

TITLE = "Khẩn: lũ trên sông Hồng"
TEXT = "Nước sông đang lên nhanh. Đề nghị bà con vùng bãi di chuyển tài sản lên chỗ cao ngay."


def test_emergency_asks_to_confirm_its_targets_airs_and_stops(web: WebWorld, browser: Browser) -> None:
    context = new_context(browser, web)
    page = log_in(context, "approver-a")
    page.click("nav >> text=Phát khẩn cấp")
    check_layout(page, "phat-khan-cap")
    page.fill("input[name=title]", TITLE)
    page.fill("textarea[name=text]", TEXT)
    page.locator("label", has_text=ZONE_A).locator("input[name=zone_ids]").check()
    page.click("button:has-text('Tiếp tục')")

    # The confirmation names the zone and every cluster that will sound, and only those.
    expect(page.locator("h1")).to_have_text("Xác nhận phát khẩn cấp")
    expect(page.locator("#confirm-targets")).to_contain_text(ZONE_A)
    clusters = page.locator("#confirm-clusters")
    expect(clusters).to_contain_text(CLUSTER_A)
    expect(clusters).not_to_contain_text(MARKET_CLUSTER)
    check_layout(page, "phat-khan-cap-xac-nhan")
    with page.expect_response(lambda r: r.request.method == "POST") as unconfirmed:
        page.click("button:has-text('PHÁT NGAY')")
    assert unconfirmed.value.status == 422  # not ticked: nothing is sent
    expect(page.locator(".alert.bad")).to_contain_text("đánh dấu ô xác nhận")
    page.check("input[name=confirmed]")
    # The package's agent may have played other tests' airings already: only a start after this one counts.
    earlier = len([e for e in web.agent.played() if e["event"] == "start"])
    page.click("button:has-text('PHÁT NGAY')")
    expect(page.locator(".alert.ok")).to_have_text("Đã phát khẩn cấp tới các cụm loa.")
    row = page.locator(".on-air-row", has_text=TITLE)
    expect(row).to_be_visible()
    bulletin_id = row.get_attribute("data-bulletin-id")

    # The agent starts it (pre-empting anything else), then STOP takes it off the air.
    wait_for(
        lambda: len([e for e in web.agent.played() if e["event"] == "start"]) > earlier, 30,
        "the emergency to start playing",
    )
    started = [e for e in web.agent.played() if e["event"] == "start"][-1]
    row.locator("button:has-text('DỪNG PHÁT')").click()
    expect(page.locator(".alert.ok")).to_have_text("Đã dừng phát khẩn cấp.")
    expect(page.locator(".on-air-row", has_text=TITLE)).to_have_count(0)
    ended = wait_for(
        lambda: [e for e in web.agent.played() if e["event"] == "end" and e["label"] == started["label"]],
        30,
        "the agent to stop the emergency",
    )
    assert ended[0]["completed"] is False  # cut short by the stop, not played to its end
    page.goto(f"/ban-tin/{bulletin_id}")
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "cancelled")
    expect(page.locator(".history")).to_contain_text("dừng phát khẩn")
    context.close()


def test_a_finished_emergency_offers_no_stop_and_stays_played(web: WebWorld) -> None:
    cluster_a = web.seed.communes["A"].cluster_id
    sent = web.api("POST", "/api/v1/emergencies", "approver-a", json={
        "title": "Khẩn: thử loa", "text": "Thử loa khẩn cấp, bà con không cần làm gì.", "repeat": 1,
        "cluster_ids": [cluster_a]})
    assert sent.status_code == 201, sent.text
    bulletin_id = sent.json()["bulletin"]["id"]

    def played() -> bool:
        rows = web.api("GET", "/api/v1/broadcast-log", "approver-a", params={"commune_id": web.commune_id()}).json()
        return any(r["bulletin_id"] == bulletin_id and r["delivery_state"] == "played" for r in rows)

    wait_for(played, 60, "the agent to report the emergency played")
    client, _ = http_login(web, "approver-a")
    page = client.get(f"/phat-khan-cap?xa={web.commune_id()}").text
    row = page.split(f'data-bulletin-id="{bulletin_id}"', 1)[1].split("on-air-row", 1)[0]
    assert "Đã phát xong" in row and f"/phat-khan-cap/{bulletin_id}/dung" not in page
    stop = client.post(f"/phat-khan-cap/{bulletin_id}/dung", data={"csrf_token": form_token(page)})
    assert stop.status_code == 409 and "đã phát xong" in stop.text
    assert web.api("GET", f"/api/v1/bulletins/{bulletin_id}", "approver-a").json()["status"] == "aired"
    assert played()
