"""Province bulletins on the pages, in Chromium: "Tin của tỉnh" and a commune's "Bản tin từ cấp trên".

A province officer writes a bulletin for commune A on the page; the province's approver approves it
once; commune A's officer finds it in "Bản tin từ cấp trên" and declines it with a reason; the
province's report shows the commune's answer. axe-core checks each page.
"""

from __future__ import annotations

import re

from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select

from broadcaster.models import AuditEvent
from tests.api.world import PASSWORD
from tests.web.world import WebWorld, check_layout, log_in, new_context


def _province_log_in(context: BrowserContext, username: str) -> Page:
    """Log a province officer or approver in: they land on "Tin của tỉnh"."""
    page = context.new_page()
    page.goto("/dang-nhap")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/tin-tinh")
    return page


def test_the_province_writes_approves_once_and_a_commune_declines_from_its_inbox(
        web: WebWorld, browser: Browser) -> None:
    for username, role in (("tinh-soan-tin", "officer"), ("tinh-duyet-tin", "approver")):
        created = web.api("POST", "/api/v1/users", "tinh",
                          json={"username": username, "password": PASSWORD, "role": role, "commune_id": None})
        assert created.status_code == 201, created.text

    writer = _province_log_in(new_context(browser, web), "tinh-soan-tin")
    expect(writer.locator("h1")).to_have_text("Tin của tỉnh")
    writer.fill("input[name=title]", "Tỉnh thông báo: rét đậm")
    writer.fill("textarea[name=text]", "   ")  # nothing to read: the server refuses it with a message, the form kept
    writer.check(f"input[name=commune_ids][value='{web.commune_id('A')}']")
    writer.click("form[action='/tin-tinh'] button[type=submit]")
    expect(writer.locator("[role=alert]")).to_be_visible()
    expect(writer.locator("input[name=title]")).to_have_value("Tỉnh thông báo: rét đậm")
    writer.fill("textarea[name=text]", "Bà con giữ ấm cho trẻ nhỏ, người già và trâu bò.")
    writer.click("form[action='/tin-tinh'] button[type=submit]")
    writer.wait_for_url(re.compile(r"/tin-tinh/\d+\?tb=da-gui-tinh"))
    bulletin_id = int(re.search(r"/tin-tinh/(\d+)", writer.url).group(1))  # type: ignore[union-attr]
    expect(writer.locator("[data-status]")).to_have_attribute("data-status", "submitted")
    check_layout(writer, "tin-tinh-bao-cao")
    writer.goto("/tin-tinh")
    check_layout(writer, "tin-tinh")

    approver = _province_log_in(new_context(browser, web), "tinh-duyet-tin")
    approver.goto(f"/tin-tinh/{bulletin_id}")
    approver.click("text=✓ Duyệt cho các xã")
    approver.wait_for_url(re.compile(r"tb=da-duyet-tinh"))
    expect(approver.locator(f"tr[data-commune-id='{web.commune_id('A')}']")).to_have_attribute(
        "data-outcome", "pending")

    officer = log_in(new_context(browser, web), "officer-a")
    officer.click("nav >> text=Bản tin từ cấp trên")
    card = officer.locator(f"[data-province-bulletin-id='{bulletin_id}']")
    expect(card).to_have_attribute("data-state", "pending")
    check_layout(officer, "tin-cap-tren")
    card.locator("summary", has_text="Từ chối").click()
    card.locator("textarea[name=reason]").fill("Xã đã phổ biến trong họp thôn.")
    card.locator("button", has_text="Từ chối phát").click()
    officer.wait_for_url(re.compile(r"tb=da-tu-choi-tin"))
    expect(officer.locator(f"[data-province-bulletin-id='{bulletin_id}']")).to_have_attribute("data-state", "declined")

    approver.goto(f"/tin-tinh/{bulletin_id}")
    line = approver.locator(f"tr[data-commune-id='{web.commune_id('A')}']")
    expect(line).to_have_attribute("data-outcome", "declined")
    expect(line).to_contain_text("Xã đã phổ biến trong họp thôn.")
    # Commune B was not sent it: its inbox does not show it.
    other = log_in(new_context(browser, web), "officer-b")
    other.goto("/tin-cap-tren")
    expect(other.locator(f"[data-province-bulletin-id='{bulletin_id}']")).to_have_count(0)
    with web.db.session() as session:
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "province_bulletin",
                                                                  AuditEvent.object_id == bulletin_id)).all()
    assert list(actions) == ["create", "approve", "decline"]
