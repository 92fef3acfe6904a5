"""The timetable editor in Chromium, on a commune of its own: a holiday, a longer session, an extra one.

Each change is previewed first (cancelled, resized and added sessions; the bulletin that now first
airs later), then saved; the saved timetable is what the scheduler plans (its job store is read).
"""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import Browser, expect
from sqlalchemy import text

from broadcaster.clock import SystemClock
from tests.web.world import WebWorld, check_layout, log_in, new_context


def _commune_with_a_bulletin(web: WebWorld) -> tuple[int, int]:
    """Commune C (a cluster, an admin) and an approved bulletin airing all week; their ids."""
    # The province admin writes and approves alone here: the commune does without four eyes.
    created = web.api("POST", "/api/v1/communes", "tinh",
                      json={"code": "xa-c", "name": "Xã Cẩm Lương", "four_eyes": False})
    assert created.status_code == 201, created.text
    commune_id = created.json()["id"]
    assert web.api("POST", f"/api/v1/communes/{commune_id}/clusters", "tinh",
                   json={"name": "Cụm loa C"}).status_code == 201
    assert web.api("POST", "/api/v1/users", "tinh", json={
        "username": "admin-c", "password": "mat-khau-thu-nghiem", "role": "admin", "commune_id": commune_id,
    }).status_code == 201
    today = SystemClock().now().date()
    bulletin = web.api("POST", "/api/v1/bulletins", "tinh", json={
        "title": "Lịch tiêm phòng cho gia súc", "text": "Tiêm phòng lở mồm long móng cho trâu bò.",
        "commune_id": commune_id, "end_date": (today + timedelta(days=6)).isoformat()})
    bulletin_id = bulletin.json()["id"]
    assert web.api("POST", f"/api/v1/bulletins/{bulletin_id}/submit", "tinh").status_code == 200
    assert web.api("POST", f"/api/v1/bulletins/{bulletin_id}/approve", "tinh").status_code == 200
    return commune_id, bulletin_id


def _job_days(web: WebWorld, commune_id: int) -> set[str]:
    """The local dates (yyyymmdd) the scheduler holds session jobs for, for this commune."""
    with web.db.engine.connect() as connection:
        ids = connection.execute(text("SELECT id FROM apscheduler_jobs WHERE id LIKE :p"),
                                 {"p": f"session:{commune_id}:%"}).scalars().all()
    return {job_id.rsplit(":", 1)[1][:8] for job_id in ids}


def test_a_holiday_and_a_changed_session_are_previewed_saved_and_planned(web: WebWorld, browser: Browser) -> None:
    commune_id, bulletin_id = _commune_with_a_bulletin(web)
    now = SystemClock().now()
    # The first day from tomorrow that has the default sessions (Monday to Saturday).
    holiday = next(now.date() + timedelta(days=n) for n in range(1, 4) if (now.date() + timedelta(days=n)).weekday() < 6)
    context = new_context(browser, web, width=360)
    page = log_in(context, "admin-c", "mat-khau-thu-nghiem")
    page.goto("/lich-phat")
    page.click("text=Sửa lịch phát, ngày nghỉ, buổi phát thêm")
    expect(page.locator("input[name=s0_start]")).to_have_value("06:00")

    # A clash is refused with the sessions named, and nothing is saved.
    page.check("input[name=new_kind][value=extra]")
    page.fill("input[name=new_date]", f"{holiday:%d/%m/%Y}")
    page.fill("input[name=new_start]", "06:05")
    page.fill("input[name=new_minutes]", "20")
    page.click("button[value=preview]")
    expect(page.locator(".alert.bad")).to_contain_text("chưa hết")

    # Tết-like holiday on that day: the preview names the cancelled sessions; saving plans none that day.
    page.check("input[name=new_kind][value=closed]")
    page.fill("input[name=new_date]", f"{holiday:%d/%m/%Y}")
    page.fill("input[name=new_start]", "")
    page.fill("input[name=new_minutes]", "")
    page.fill("input[name=new_label]", "Nghỉ lễ")
    page.click("button[value=preview]")
    cancelled = page.locator("#preview li[data-change=cancelled]")
    expect(cancelled).to_have_count(2)
    expect(cancelled.first).to_contain_text(f"{holiday:%d/%m/%Y}")
    check_layout(page, "lich-phat-sua-xem-truoc")
    assert holiday.strftime("%Y%m%d") in _job_days(web, commune_id)
    page.click("button[value=save]")
    page.wait_for_url(f"**/lich-phat?xa={commune_id}&tb=da-luu-lich")
    expect(page.locator(".exceptions-list li[data-kind=closed]")).to_contain_text("Nghỉ lễ")
    assert holiday.strftime("%Y%m%d") not in _job_days(web, commune_id)
    assert not page.locator(f"section.session[data-starts-at^='{holiday.isoformat()}']").count()

    # The evening session 30 minutes long that day instead: previewed as resized... on the next open day.
    page.goto(f"/lich-phat/sua?xa={commune_id}")
    expect(page.locator("li.exception[data-kind=closed]")).to_have_count(1)
    page.fill("input[name=s1_minutes]", "25")
    page.click("button[value=preview]")
    expect(page.locator("#preview li[data-change=resized]").first).to_contain_text("25 phút")
    check_layout(page, "lich-phat-sua")
    page.click("button[value=save]")
    page.wait_for_url(f"**/lich-phat?xa={commune_id}&tb=da-luu-lich")
    expect(page.locator(".sessions-list").first).to_contain_text("25 phút")
    events = web.api("GET", f"/api/v1/bulletins/{bulletin_id}", "tinh")
    assert events.status_code == 200
    context.close()
