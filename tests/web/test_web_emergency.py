"""Phát khẩn cấp in Chromium: the confirmation repeats the targets, it airs, and STOP takes it off."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from tests.agent.harness import wait_for
from tests.web.world import CLUSTER_A, MARKET_CLUSTER, ZONE_A, WebWorld, check_layout, log_in, new_context

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
