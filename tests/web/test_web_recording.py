"""Recording in the browser (MediaRecorder) on the compose and emergency pages, with Chromium's fake microphone.

Chromium gets a fake microphone that plays a WAV this test makes (``--use-file-for-fake-audio-capture``)
and grants it without asking. The recording fills the form's file field and goes through the same
upload path as a chosen file; the emergency made from a recording airs at cluster A's real agent.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.agent.harness import wait_for
from tests.api.world import wav_bytes
from tests.web.world import CHROMIUM, CHROMIUM_ARGS, WebWorld, check_layout, log_in, new_context

RECORD_S = 2.5


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
    page.click("button:has-text('DỪNG PHÁT')")
    page.wait_for_url("**/phat-khan-cap?xa=*&tb=da-dung")
    context.close()
