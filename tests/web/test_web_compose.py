"""Composing beyond the main flow: a recording instead of text, editing a draft, errors, a province admin."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import Browser, FilePayload, expect

from broadcaster.clock import SystemClock
from tests.api.world import wav_bytes
from tests.web.world import (
    MARKET_CLUSTER,
    WebWorld,
    check_layout,
    form_token,
    http_login,
    log_in,
    new_context,
)


def test_a_recording_can_be_uploaded_instead_of_text_and_heard(web: WebWorld, browser: Browser) -> None:
    context = new_context(browser, web, width=360)
    page = log_in(context, "officer-a")
    page.goto("/soan-tin")
    page.fill("input[name=title]", "Thông báo bằng tiếng Tày")
    page.check("input[name=mode][value=recording]")
    expect(page.locator("#text")).to_be_hidden()  # the switch shows the file field instead of the text
    recording: FilePayload = {
        "name": "thong-bao-tay.wav",
        "mimeType": "audio/wav",
        "buffer": wav_bytes(seconds=2.0),
    }
    page.set_input_files("#recording", files=[recording])
    # Before saving, "Nghe thử" plays the chosen file itself, with its length.
    page.wait_for_function(
        "() => { const a = document.querySelector('#preview-audio');"
        " return a.readyState >= 1 && Math.abs(a.duration - 2) < 0.1; }"
    )
    expect(page.locator("#preview-duration")).to_have_text("2 giây")
    page.click("button[name=action][value=save]")
    page.wait_for_url(re.compile(r"/ban-tin/\d+\?tb=da-luu"))
    expect(page.locator(".card").first).to_contain_text("thong-bao-tay.wav")
    src = page.locator(".listen audio").get_attribute("src") or ""
    audio = context.request.get(src)
    assert audio.status == 200 and audio.headers["content-type"] == "audio/mpeg" and len(audio.body()) > 1000
    context.close()


def test_a_draft_can_be_edited_then_submitted_and_errors_keep_the_form(
    web: WebWorld, browser: Browser
) -> None:
    context = new_context(browser, web)
    page = log_in(context, "officer-a")
    page.goto("/soan-tin")
    page.fill("input[name=title]", "Lịch thu gom rác")
    page.fill("#text", "")
    page.click("button[name=action][value=save]")
    # Refused with the text service's own message, and what was typed is still there.
    expect(page.locator(".alert.bad")).to_have_attribute("data-code", "text_empty")
    expect(page.locator("input[name=title]")).to_have_value("Lịch thu gom rác")
    page.click("#preview-button")  # "Nghe thử" of nothing says why in Vietnamese
    expect(page.locator("#preview-status")).to_contain_text("trống")
    page.fill("#text", "Xe thu gom rác đến vào sáng thứ Hai và thứ Năm.")
    page.locator("label", has_text=MARKET_CLUSTER).locator("input[name=cluster_ids]").check()
    page.click("button[name=action][value=save]")
    page.wait_for_url(re.compile(r"/ban-tin/\d+\?tb=da-luu"))
    expect(page.locator(".facts")).to_contain_text(MARKET_CLUSTER)
    page.click("a:has-text('Sửa')")
    expect(page.locator("h1")).to_have_text("Sửa bản nháp")
    check_layout(page, "sua-ban-nhap")
    page.fill("input[name=title]", "Lịch thu gom rác (sửa)")
    page.fill("input[name=repeat]", "2")
    page.click("button[name=action][value=send]")
    page.wait_for_url(re.compile(r"/ban-tin/\d+\?tb=da-gui"))
    expect(page.locator("h1.title-text")).to_have_text("Lịch thu gom rác (sửa)")
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "submitted")
    expect(page.locator(".facts")).to_contain_text("2")
    expect(page.locator("a:has-text('Sửa')")).to_have_count(0)  # no longer a draft
    match = re.search(r"/ban-tin/(\d+)", page.url)
    assert match is not None
    bulletin_id = int(match.group(1))

    # The approver rejects it: a reason is required, and the officer reads it.
    approver = new_context(browser, web, width=360)
    queue = log_in(approver, "approver-a")
    queue.goto("/duyet-tin")
    card = queue.locator(f"#tin-{bulletin_id}")
    card.locator("summary").click()
    card.locator("button:has-text('Từ chối bản tin')").click()
    expect(queue.locator(".alert.bad")).to_have_attribute("data-code", "reason_required")
    card = queue.locator(f"#tin-{bulletin_id}")
    card.locator("textarea[name=reason]").fill("Thiếu giờ thu gom cụ thể, đề nghị bổ sung.")
    card.locator("button:has-text('Từ chối bản tin')").click()
    queue.wait_for_url("**/duyet-tin?tb=da-tu-choi")
    approver.close()
    page.goto(f"/ban-tin/{bulletin_id}")
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "rejected")
    expect(page.locator(".alert.bad")).to_contain_text("Thiếu giờ thu gom cụ thể")
    expect(page.locator(".history")).to_contain_text("Trần Văn Minh từ chối")
    context.close()


def test_the_timetable_shows_what_overflows_to_a_later_session(web: WebWorld) -> None:
    # About 9 minutes of speech by the estimate (one bulletin may not exceed 15), read twice: more than a
    # 15-minute session holds.
    text = "Bà con chú ý thực hiện đúng hướng dẫn phòng chống dịch bệnh cho gia súc và gia cầm. " * 100
    created = web.api(
        "POST", "/api/v1/bulletins", "officer-b",
        # A week-long window: the default one (two days) may hold no session on a Saturday evening.
        json={"title": "Hướng dẫn rất dài", "text": text, "repeat": 2,
              "end_date": (SystemClock().now().date() + timedelta(days=6)).isoformat()},
    )
    bulletin_id = created.json()["id"]
    assert web.api("POST", f"/api/v1/bulletins/{bulletin_id}/submit", "officer-b").status_code == 200
    assert web.api("POST", f"/api/v1/bulletins/{bulletin_id}/approve", "approver-b").status_code == 200
    client, _ = http_login(web, "officer-b")
    page = client.get("/lich-phat?so_ngay=7").text
    overflow = page.split('class="overflow"', 1)
    assert len(overflow) == 2 and f'data-deferred-id="{bulletin_id}"' in overflow[1]
    assert "dời sang buổi sau" in overflow[1] and f'<li data-bulletin-id="{bulletin_id}"' not in page


def test_a_province_admin_picks_the_commune(web: WebWorld) -> None:
    client, answer = http_login(web, "tinh")
    assert answer.status_code == 303
    page = client.get("/cum-loa")
    assert page.status_code == 200 and 'name="xa"' in page.text  # the commune picker
    other = client.get(f"/cum-loa?xa={web.commune_id('B')}")
    assert "Cụm loa B" in other.text and MARKET_CLUSTER not in other.text
    assert client.get("/cum-loa?xa=999999").status_code == 404
    assert client.get("/ban-tin/khong-phai-so").status_code == 404
    preview = client.post(
        "/soan-tin/nghe-thu",
        data={"text": "", "csrf_token": form_token(page.text)},
        headers={"Accept": "application/json"},
    )
    assert preview.status_code == 422 and preview.json()["error"]["code"] == "text_empty"
