"""The commune lexicon page and the spoken form shown before approval, in Chromium.

An officer adds, hears, edits and removes entries of "Từ điển địa phương"; the compose page shows
"Máy sẽ đọc là" as the officer types, marks what the reader guesses, and adds an entry without
leaving the page; the approval queue shows each text's spoken form and adds an entry in one form,
after which the text is read with it; TSV files go in and out; another commune sees none of it.
"""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from broadcaster.models import AuditEvent, LexiconEntry
from tests.web.world import WebWorld, check_layout, form_token, http_login, log_in, new_context


def _wait_audio(page: Page, selector: str) -> float:
    page.wait_for_function(
        f"() => {{ const a = document.querySelector('{selector}');"
        " return a && a.readyState >= 1 && isFinite(a.duration) && a.duration > 0.2; }"
    )
    return float(page.evaluate(f"() => document.querySelector('{selector}').duration"))


def _entries(web: WebWorld, written: str) -> list[LexiconEntry]:
    with web.db.session() as session:
        return list(session.scalars(select(LexiconEntry).where(LexiconEntry.written == written)))


def test_officer_adds_hears_edits_and_removes_an_entry(web: WebWorld, browser: Browser) -> None:
    context = new_context(browser, web)
    page = log_in(context, "officer-a")
    page.click("nav >> text=Từ điển")
    expect(page.locator("h1")).to_have_text("Từ điển địa phương")
    page.fill("#lexicon-written", "Kẻ Nủa")
    page.fill("#lexicon-spoken", "Kẻ Nủa")
    page.fill("input[name=note]", "tên làng cổ")
    page.click("#lexicon-listen")  # hear the reading before saving it
    assert _wait_audio(page, "#lexicon-audio") > 0.2
    page.click("#lexicon-form button[type=submit]")
    page.wait_for_url(re.compile(r"/tu-dien\?xa=\d+&tb=da-them-tu"))
    row = page.locator("tr", has_text="Kẻ Nủa")
    expect(row).to_contain_text("tên làng cổ")
    # Each entry has its "Nghe thử": the written form read as the commune's bulletins read it.
    src = row.locator("audio").get_attribute("src") or ""
    audio = context.request.get(src)
    assert audio.status == 200 and audio.headers["content-type"] == "audio/mpeg" and len(audio.body()) > 1000
    check_layout(page, "tu-dien")
    row.locator("a", has_text="Sửa").click()
    expect(page.locator("#lexicon-written")).to_have_value("Kẻ Nủa")
    check_layout(page, "tu-dien-sua")
    page.fill("#lexicon-spoken", "kẻ nủa")
    page.click("#lexicon-form button[type=submit]")
    page.wait_for_url(re.compile(r"tb=da-sua-tu"))
    expect(page.locator("tr", has_text="Kẻ Nủa")).to_contain_text("kẻ nủa")
    # A second entry with the same written form is refused with a message, the form kept.
    page.fill("#lexicon-written", "Kẻ Nủa")
    page.fill("#lexicon-spoken", "khác")
    page.click("#lexicon-form button[type=submit]")
    expect(page.locator(".alert.bad")).to_have_attribute("data-code", "lexicon_entry_exists")
    expect(page.locator("#lexicon-spoken")).to_have_value("khác")
    page.goto("/tu-dien")
    page.locator("tr", has_text="Kẻ Nủa").locator("summary", has_text="Xóa").click()
    page.locator("tr", has_text="Kẻ Nủa").locator("button", has_text="Xóa «Kẻ Nủa»").click()
    page.wait_for_url(re.compile(r"tb=da-xoa-tu"))
    expect(page.locator("tr", has_text="Kẻ Nủa")).to_have_count(0)
    assert _entries(web, "Kẻ Nủa") == []
    with web.db.session() as session:
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "lexicon_entry")
                                  .order_by(AuditEvent.id)).all()
    assert actions[-3:] == ["create", "edit", "delete"]
    context.close()


def test_compose_shows_what_will_be_spoken_and_adds_an_entry_in_place(web: WebWorld, browser: Browser) -> None:
    context = new_context(browser, web, width=360)
    page = log_in(context, "officer-a")
    page.goto("/soan-tin")
    text = "Hộ nào dùng máy QWZT nộp HS tại UBND xã, hạn chót 15/12."
    page.fill("input[name=title]", "Thông báo đăng ký máy")
    page.fill("#text", text)
    spoken = page.locator("[data-spoken-text]")
    expect(spoken).to_contain_text("nộp hồ sơ tại ủy ban nhân dân xã")
    marks = page.locator("[data-spoken-text] mark.unsure")
    expect(marks).to_have_text(["quy vê kép dét tê", "ngày mười lăm tháng mười hai"])
    expect(marks.first).to_have_attribute("title", "đánh vần từng chữ cái")
    check_layout(page, "soan-tin-cach-doc")
    page.click("button:has-text('Thêm «QWZT» vào từ điển')")
    page.fill(".add-entry input[name=spoken]", "máy cày mini")
    page.click(".add-entry button:has-text('Lưu vào từ điển')")
    # The entry is saved and the text read again with it, the text still being written.
    expect(spoken).to_contain_text("dùng máy máy cày mini nộp hồ sơ")
    expect(marks).to_have_text(["ngày mười lăm tháng mười hai"])
    expect(page.locator("#text")).to_have_value(text)
    assert [e.spoken for e in _entries(web, "QWZT")] == ["máy cày mini"]
    context.close()


def test_the_approver_sees_the_spoken_form_and_adds_an_entry_in_one_form(web: WebWorld, browser: Browser) -> None:
    created = web.api("POST", "/api/v1/bulletins", "officer-a",
                      json={"title": "Lịch kiểm tra máy XKVG", "text": "Kiểm tra máy XKVG tại thôn Đông."})
    bulletin = int(created.json()["id"])
    assert web.api("POST", f"/api/v1/bulletins/{bulletin}/submit", "officer-a").status_code == 200
    context = new_context(browser, web)
    page = log_in(context, "approver-a")
    page.goto("/duyet-tin")
    card = page.locator(f"#tin-{bulletin}")
    expect(card.locator(".spoken")).to_contain_text("Máy sẽ đọc là:")
    expect(card.locator("mark.unsure")).to_have_text("ích ca vê giê")
    card.locator("summary", has_text="Thêm «XKVG» vào từ điển").click()
    card.locator(".add-entry input[name=spoken]").fill("xe kéo vận gỗ")
    card.locator(".add-entry button[type=submit]").click()
    page.wait_for_url(re.compile(rf"/duyet-tin\?tb=da-them-tu#tin-{bulletin}"))
    card = page.locator(f"#tin-{bulletin}")
    expect(card.locator("[data-spoken-text]")).to_have_text("Kiểm tra máy xe kéo vận gỗ tại thôn Đông.")
    expect(card.locator("mark.unsure")).to_have_count(0)
    check_layout(page, "duyet-tin-cach-doc")
    # The bulletin's own page shows the same spoken form.
    page.goto(f"/ban-tin/{bulletin}")
    expect(page.locator("[data-spoken-text]")).to_have_text("Kiểm tra máy xe kéo vận gỗ tại thôn Đông.")
    context.close()


def test_tsv_files_go_in_and_out_and_stay_in_their_commune(web: WebWorld) -> None:
    client, _ = http_login(web, "officer-a")
    token = form_token(client.get("/tu-dien").text)
    bad = client.post("/tu-dien/nhap", data={"csrf_token": token},
                      files={"tep": ("xa.tsv", "Ama Khê\tA-ma Khê\nthiếu cột\n".encode(), "text/plain")})
    assert bad.status_code == 422 and "dòng 2" in bad.text
    assert _entries(web, "Ama Khê") == []  # a bad line changes nothing
    good = client.post("/tu-dien/nhap", data={"csrf_token": token},
                       files={"tep": ("xa.tsv", "# xã A\nAma Khê\tA-ma Khê\ttên người\nHTX NN\thợp tác xã nông nghiệp\n"
                                      .encode(), "text/plain")})
    assert good.status_code == 303 and "tb=da-nhap-tu" in good.headers["location"]
    exported = client.get("/tu-dien/xuat.tsv")
    assert exported.status_code == 200 and "attachment" in exported.headers["content-disposition"]
    assert "Ama Khê\tA-ma Khê\ttên người" in exported.text and "HTX NN\thợp tác xã nông nghiệp" in exported.text
    (entry,) = _entries(web, "Ama Khê")
    other, _ = http_login(web, "officer-b")
    assert "Ama Khê" not in other.get("/tu-dien").text
    assert "Ama Khê" not in other.get("/tu-dien/xuat.tsv").text
    assert other.get(f"/tu-dien/{entry.id}/sua").status_code == 404


def test_an_approval_is_refused_when_the_reading_changed_since_the_page_showed_it(web: WebWorld) -> None:
    created = web.api("POST", "/api/v1/bulletins", "officer-a",
                      json={"title": "Thông báo máy PQRV", "text": "Máy PQRV hỏng, tạm dừng bơm nước."})
    bulletin = int(created.json()["id"])
    web.api("POST", f"/api/v1/bulletins/{bulletin}/submit", "officer-a")
    approver, _ = http_login(web, "approver-a")
    queue = approver.get("/duyet-tin").text
    token = form_token(queue)
    shown = re.search(rf'action="/duyet-tin/{bulletin}/duyet">\s*<input[^>]*>\s*<input type="hidden" name="nghe" value="([0-9a-f]{{64}})"',
                      queue)
    assert shown is not None, "the approve form carries the digest of the reading shown"
    # Meanwhile an officer gives PQRV a reading: what will be heard is no longer what was shown.
    officer, _ = http_login(web, "officer-a")
    officer.post("/tu-dien/them", data={"csrf_token": form_token(officer.get("/tu-dien").text),
                                        "written": "PQRV", "spoken": "máy bơm số bốn"})
    refused = approver.post(f"/duyet-tin/{bulletin}/duyet", data={"csrf_token": token, "nghe": shown.group(1)})
    assert refused.status_code == 409 and "Máy sẽ đọc là" in refused.text
    assert web.api("GET", f"/api/v1/bulletins/{bulletin}", "officer-a").json()["status"] == "submitted"
    again = approver.get("/duyet-tin").text
    digest = re.search(rf'action="/duyet-tin/{bulletin}/duyet">\s*<input[^>]*>\s*<input type="hidden" name="nghe" value="([0-9a-f]{{64}})"',
                       again)
    assert digest is not None and "máy bơm số bốn" in again
    approved = approver.post(f"/duyet-tin/{bulletin}/duyet", data={"csrf_token": form_token(again), "nghe": digest.group(1)})
    assert approved.status_code == 303
    with web.db.session() as session:
        heard = session.scalars(select(AuditEvent).where(AuditEvent.action == "approve_heard",
                                                         AuditEvent.object_id == bulletin)).one()
    assert heard.details["spoken"] == "Máy máy bơm số bốn hỏng, tạm dừng bơm nước."


def test_refused_lexicon_forms_show_the_message_and_keep_what_was_typed(web: WebWorld) -> None:
    client, _ = http_login(web, "officer-a")
    token = form_token(client.get("/tu-dien").text)
    added = client.post("/tu-dien/them", data={"csrf_token": token, "written": "UBMTTQ", "spoken": "ủy ban mặt trận"})
    assert added.status_code == 303 and "tb=da-them-tu" in added.headers["location"]
    (entry,) = _entries(web, "UBMTTQ")
    # The page: the message, the values typed, nothing stored.
    twice = client.post("/tu-dien/them", data={"csrf_token": token, "written": "UBMTTQ", "spoken": "khác",
                                               "note": "ghi chú gõ dở"})
    assert twice.status_code == 409 and "Từ điển của xã đã có «UBMTTQ»" in twice.text
    assert "ghi chú gõ dở" in twice.text and len(_entries(web, "UBMTTQ")) == 1
    # The page script (JSON): the coded error, not a page.
    scripted = client.post("/tu-dien/them", data={"csrf_token": token, "written": "UBMTTQ", "spoken": "khác"},
                           headers={"Accept": "application/json"})
    assert scripted.status_code == 409 and scripted.json()["error"]["code"] == "lexicon_entry_exists"
    # An edit refused: the entry open again with the message; the stored entry unchanged.
    tabbed = client.post(f"/tu-dien/{entry.id}/sua", data={"csrf_token": token, "written": "UBMTTQ",
                                                            "spoken": "ủy ban\tmặt trận"})
    assert tabbed.status_code == 422 and "«Cách đọc» không được chứa phím Tab hay xuống dòng." in tabbed.text
    assert f"/tu-dien/{entry.id}/sua" in tabbed.text
    assert [e.spoken for e in _entries(web, "UBMTTQ")] == ["ủy ban mặt trận"]
    # An import without a file.
    nothing = client.post("/tu-dien/nhap", data={"csrf_token": token})
    assert nothing.status_code == 422 and "Hãy chọn tệp từ điển (.tsv)." in nothing.text
