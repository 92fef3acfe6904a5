""""Giọng đọc" on the compose page: pick a voice, hear it with "Nghe thử", save it with the draft."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, expect

from tests.web.world import WebWorld, check_layout, log_in, new_context


def test_an_officer_picks_a_voice_hears_it_and_the_draft_keeps_it(web: WebWorld, browser: Browser) -> None:
    context = new_context(browser, web, width=360)
    page = log_in(context, "officer-a")
    page.goto("/soan-tin")
    voice = page.locator("select#voice")
    expect(voice.locator("option").first).to_contain_text("Giọng mặc định của xã")
    expect(voice.locator("option[value='espeak:vi-vn-x-south']")).to_have_text(re.compile("giọng Nam"))
    check_layout(page, "soan-tin-giong-doc")
    page.fill("input[name=title]", "Lịch họp dân")
    page.fill("#text", "Mời bà con thôn Đông đến họp lúc bảy giờ tối.")
    voice.select_option("espeak:vi-vn-x-south")
    page.click("#preview-button")
    expect(page.locator("#preview-status")).to_contain_text("giọng Nam", timeout=30_000)  # a first render
    expect(page.locator("#preview-status")).not_to_have_class("bad-text")
    page.wait_for_function("() => document.querySelector('#preview-audio').readyState >= 1")
    page.click("button[name=action][value=save]")
    page.wait_for_url(re.compile(r"/ban-tin/\d+\?tb=da-luu"))
    expect(page.locator("[data-voice]")).to_have_attribute("data-voice", "espeak:vi-vn-x-south")
    expect(page.locator("[data-voice]")).to_contain_text("giọng Nam")
    page.click("a:has-text('Sửa')")
    expect(page.locator("select#voice")).to_have_value("espeak:vi-vn-x-south")
    context.close()


def test_an_admin_sets_the_communes_voice_and_rate_after_hearing_them(web: WebWorld, browser: Browser) -> None:
    context = new_context(browser, web)
    page = log_in(context, "admin-a")
    page.click("nav a:has-text('Giọng đọc')")
    page.wait_for_url("**/giong-doc")
    piper_row = page.locator("tr[data-choice='piper:-']")
    expect(piper_row).to_have_attribute("data-usable", "no")
    expect(piper_row).to_contain_text("Chưa có giọng nào")  # the operator has not copied a voice in
    check_layout(page, "giong-doc")
    page.select_option("#voice", "espeak:vi-vn-x-south")
    page.select_option("#rate", "0.9")
    page.click("#voice-preview")
    expect(page.locator("#voice-preview-status")).to_contain_text("giọng Nam", timeout=30_000)
    page.click("button:has-text('Lưu')")
    page.wait_for_url("**/giong-doc?xa=*&tb=da-luu-giong")
    commune = web.api("GET", f"/api/v1/communes/{web.commune_id()}", "admin-a").json()
    assert (commune["default_voice"], commune["speech_rate"]) == ("espeak:vi-vn-x-south", 0.9)
    page.goto("/soan-tin")
    expect(page.locator("select#voice option").first).to_contain_text("giọng Nam")

    page.goto("/giong-doc")  # back to the server's voice and pace, for the other tests of this world
    page.select_option("#voice", "")
    page.select_option("#rate", "")
    page.click("button:has-text('Lưu')")
    page.wait_for_url("**/giong-doc?xa=*&tb=da-luu-giong")
    commune = web.api("GET", f"/api/v1/communes/{web.commune_id()}", "admin-a").json()
    assert (commune["default_voice"], commune["speech_rate"]) == (None, None)
    context.close()
